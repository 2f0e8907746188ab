"""Theory: predictions for random networks, from their spec alone (closed forms, recursions, moments).

Pure functions of numbers and network specs: nothing here samples a network. The checks of these
predictions against Monte Carlo (``check``, ``compare``, the catalogue ``run_check``) are in
:mod:`jaxbias.experiments`.

Two functions share the name ``phase_diagram``: ``jaxbias.theory.phase_diagram`` is the order/chaos
diagram (:mod:`jaxbias.theory.order_chaos`); the guessing-bias regimes are
``jaxbias.theory.guessing.phase_diagram``.
"""

from jaxbias.theory import guessing  # noqa: F401  (the module, for guessing.phase_diagram)
from jaxbias.theory.data_geometry import (  # noqa: F401
    IntrinsicDimension, class_separation, data_radius, intrinsic_dimension, nearest_other_class,
)
from jaxbias.theory.finite_width import (  # noqa: F401
    FiniteWidth, excess_kurtosis, finite_width, mlp_finite_width, square_covariance,
)
from jaxbias.theory.guessing import (  # noqa: F401
    REGIMES,
    Estimate,
    KSResult,
    Prediction,
    estimate_g0_var,
    estimate_gamma,
    estimate_max_fraction,
    expected_max_fraction,
    fractions_given_centres,
    g0_cdf,
    g0_pdf,
    g0_pmf,
    g0_var,
    gamma_from_kernel,
    gaussian_input_moments,
    input_moments,
    ks_test,
    predict_gamma,
)
from jaxbias.theory.guessing_finite_width import FiniteWidthGamma, predict_gamma_finite_width  # noqa: F401
from jaxbias.theory.ntk_fluctuations import (  # noqa: F401
    HANIN_NICA_RATE, ReluNTKMoments, hanin_nica_ratio, relu_ntk_moment, relu_ntk_moments, relu_ntk_net,
)
from jaxbias.theory.order_chaos import (  # noqa: F401
    OrderChaos, PhaseDiagram, correlation_map, critical_line, order_chaos, phase_diagram,
)
from jaxbias.theory.recursions import (  # noqa: F401
    chi_parallel, chi_perp, critical_weight_var, fixed_point, length_map,
)
from jaxbias.theory.task_difficulty import Difficulty, generalization_difficulty  # noqa: F401

__all__ = [
    "guessing",
    # recursions and criticality (Poole et al. 2016; Schoenholz et al. 2017)
    "length_map", "fixed_point", "chi_parallel", "chi_perp", "critical_weight_var",
    "order_chaos", "OrderChaos", "correlation_map", "critical_line", "phase_diagram", "PhaseDiagram",
    # finite width (Roberts, Yaida & Hanin 2022)
    "finite_width", "FiniteWidth", "mlp_finite_width", "square_covariance", "excess_kurtosis",
    # guessing bias (Francazi, Lucchi & Baity-Jesi 2024)
    "REGIMES", "Estimate", "KSResult", "Prediction", "gamma_from_kernel", "g0_cdf", "g0_pdf", "g0_pmf", "g0_var",
    "expected_max_fraction", "fractions_given_centres", "estimate_gamma", "estimate_g0_var",
    "estimate_max_fraction", "ks_test", "input_moments", "gaussian_input_moments", "predict_gamma",
    "FiniteWidthGamma", "predict_gamma_finite_width",
    # NTK fluctuations (Hanin & Nica 2020)
    "HANIN_NICA_RATE", "ReluNTKMoments", "hanin_nica_ratio", "relu_ntk_moment", "relu_ntk_moments", "relu_ntk_net",
    # generalization difficulty and data geometry (Boopathy et al. 2023)
    "Difficulty", "generalization_difficulty", "IntrinsicDimension", "intrinsic_dimension", "class_separation",
    "data_radius", "nearest_other_class",
]
