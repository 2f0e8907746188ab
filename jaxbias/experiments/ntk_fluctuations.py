"""The diagonal NTK of random networks, sampled: the Monte Carlo side of :mod:`jaxbias.theory.ntk_fluctuations`.

:func:`ntk_diagonal_samples` runs ``n`` networks through the engine and returns ``T = Theta(x, x)``
and ``T^2`` per network and point, so ``E[T^2]/E[T]^2`` and its confidence interval follow from
:func:`jaxbias.experiments.compare`; the catalogue check "ntk-fluctuations" confronts them with the
exact moments :func:`jaxbias.theory.relu_ntk_moments`.

>>> import numpy as np
>>> from jaxbias.theory import relu_ntk_net
>>> ntk_diagonal_samples(relu_ntk_net(8, 2), np.ones((3, 4), np.float32), n=5).shape
(5, 3, 2)
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from jaxbias.engine import reduce
from jaxbias.kernels.empirical import ntk_fn
from jaxbias.nets.core import Net
from jaxbias.validation import check_int

__all__ = ["ntk_diagonal_net", "ntk_diagonal_samples"]


def ntk_diagonal_net(net: Net, method: str = "auto") -> Net:
    """A Net whose output at points ``x (p, ...)`` is the traced diagonal NTK ``Theta(x_i, x_i)``, shape ``(p,)``.

    Run through :func:`jaxbias.reduce` it gives the NTK of each of ``n`` networks in one compiled program.
    """
    return Net(net.init, ntk_fn(net, method=method, diagonal=True), "ntk_diagonal")


def _diag_moments(t):  # t (p,): T and T^2 at each point
    return jnp.stack([t, t ** 2], axis=-1)


def ntk_diagonal_samples(net: Net, x: Any, *, n: int, key: Any = 0, progress: bool = False) -> np.ndarray:
    """Per-network ``(T, T^2)`` at each point, ``(n, p, 2)``: network ``i`` is ``net.init(fold_in(key, i), x)``.

    ``E[T^2]/E[T]^2`` is ``mean[..., 1] / mean[..., 0]**2`` of these (a smooth function of means, so
    :func:`jaxbias.experiments.compare` gives its confidence interval by the delta method).
    """
    n = check_int("n", n, 2)
    return np.asarray(reduce(ntk_diagonal_net(net), x, n=n, key=key, stat=_diag_moments, progress=progress))
