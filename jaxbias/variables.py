"""What each variable of a results file means: CF-style ``long_name``, ``units`` and ``description`` by name.

Every variable and coordinate that jaxbias writes into a results file (the sample and redshift
sweeps, boolean-prior, igb, ntk, check, train, inductive-bias, task-difficulty and the training-dynamics
experiments) has an entry in :data:`MEANINGS`: a short ``long_name``, CF ``units`` (``"1"`` for a
dimensionless number, a count, an index, a label or a flag; ``"bit"`` for information) and a
``description`` that states the convention (what is averaged, which interval, which loss). Names
generated per complexity measure (``mean_frequency_mean``, ``lz_ci_high``, ``target_polynomial_order``,
...) are derived from the measure's entry (:func:`meaning_of`).

:func:`annotate` copies these into a Dataset's variable attributes; :func:`jaxbias.io.save` calls it,
so every saved file carries them. A name that is not here gets nothing (no invented text), and
attributes already set are never overwritten. Names are shared across experiments where they mean
the same thing (``step``, ``net``, ``bits``); the two names that mean different things by type are
told apart by their values' kind (``residual``: a bool coordinate of the redshift sweep, a number in
spectral bias; ``estimate``: a number in a theory check, a label in network-mode inductive bias).

Example:
    >>> import numpy as np, xarray as xr
    >>> from jaxbias.variables import annotate
    >>> ds = annotate(xr.Dataset({"g0": (("net",), np.full(3, 0.5, np.float32))}))
    >>> ds["g0"].attrs["long_name"], ds["g0"].attrs["units"]
    ('class-0 fraction G_0', '1')
"""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np
import xarray as xr

__all__ = ["Meaning", "MEANINGS", "COMPLEXITY_MEASURES", "meaning_of", "annotate"]


class Meaning(NamedTuple):
    """The CF-style attributes of one variable: ``long_name``, ``units`` (``"1"``: dimensionless), ``description``."""

    long_name: str
    units: str
    description: str

    def attrs(self) -> dict[str, str]:
        """The attributes as a dict, in the order they are written: ``long_name``, ``units``, ``description``."""
        return {"long_name": self.long_name, "units": self.units, "description": self.description}


def _m(long_name: str, description: str, units: str = "1") -> Meaning:
    return Meaning(long_name, units, description)


_BOOTSTRAP = ("percentile bootstrap interval over networks at the run's confidence level (95 % unless the "
              "config says otherwise)")
_LOSS = ("the run's loss (attrs config: loss): 'mse' is 0.5 * mean((f - y)^2) over points and outputs, integer "
         "labels one-hot; 'cross_entropy' is the mean softmax cross-entropy")

_COORDINATES = {
    "net": _m("network index", "index i of a random network: its parameters are drawn from fold_in(key, i) with "
              "the run's key (attrs key), so the same i is the same network in every cell, whatever the chunk "
              "size or device count"),
    "point": _m("input point index", "index of an input point: a row of x, in the order of the input set"),
    "point_b": _m("second input point index", "column index of a kernel matrix: the second point of the pair "
                  "(point, point_b)"),
    "feature": _m("input coordinate index", "index of an input coordinate (each point flattened)"),
    "out": _m("output unit index", "index of a network output unit"),
    "class": _m("class index", "class i of a classifier: the argmax of the outputs; with one output, class 1 iff "
                "the output is > 0 (an output of 0 counts as class 0)"),
    "step": _m("training step", "the state after this many optimizer updates (0: the network at initialization, "
               "before any update)"),
    "rank": _m("eigenvalue rank", "position of an eigenvalue in descending order, from 1 (the largest)"),
    "degree": _m("Walsh degree", "degree d of the Walsh (parity) functions on the Boolean hypercube, 0 .. n_inputs"),
    "function": _m("Boolean function row", "row of a distinct Boolean function, the most frequent first (ties by "
                   "truth table)"),
    "row": _m("check row", "one component of one prediction of a theory check"),
    "mode": _m("posterior eigendirection", "index i of an eigendirection of the GP posterior covariance on the "
               "test points, by decreasing weight w_i"),
    "frequency": _m("target frequency |k_j|", "Euclidean norm of the integer wave vector k_j of one sinusoid of "
                    "the target sin(pi <k_j, x> + phi_j): its number of periods across [-1, 1] along k_j"),
    "wave_vector": _m("integer wave vector k_j", "the wave vector of each target sinusoid, one integer per input "
                      "axis"),
    "axis": _m("input axis", "index of an input axis"),
    "g0_bin": _m("G_0 histogram bin centre", "centre of one of the equal bins on [0, 1] of the histogram of G_0"),
    "n_train": _m("training points", "training-set size: the first n_train points of one fixed permutation of "
                  "the training set (nested subsets)"),
    "epsilon": _m("target test error eps", "test-error threshold of the bits -log2 P(test error <= eps); kernel "
                  "mode: the test MSE mean((f - y)^2) over test points and outputs (no factor 1/2); network mode: "
                  "the run's error (attrs config: error), test MSE or zero-one error"),
    "epsilon_mse": _m("target test MSE eps", "test MSE threshold mean((f - y)^2) against +-1 targets"),
    "eps": _m("target error eps", "target error (the error rate, as in the authors' code) at which the bits are "
              "evaluated"),
    "tail_method": _m("lower-tail method", "method computing P(Q <= eps) of the test MSE's generalized chi-square "
                      "law (jaxbias.theory.gchisq.METHODS)"),
    "source": _m("hypothesis source", "prior_count: random networks fitting the training labels (exact counts); "
                 "kernel_nngp: NNGP posterior samples; trained: trained networks"),
    "source_mse": _m("hypothesis source (test MSE)", "kernel_nngp: the NNGP posterior (exact tail); trained: "
                     "trained networks (empirical or extrapolated tail)"),
    "n_errors": _m("wrong test points", "number j of misclassified test points"),
    "dataset": _m("data set", "the benchmark whose published parameters are evaluated"),
    "distribution": _m("training distribution", "'data' (the real training set) or a clone kind ('mean', "
                       "'gaussian') that keeps only the per-class low-order statistics; every network is "
                       "evaluated on the real test data"),
    "clone": _m("clone kind", "the clone compared with the real data: 'mean' (per-class mean) or 'gaussian' "
                "(per-class mean and covariance)"),
    "config": _m("network configuration", "name of a network configuration, e.g. 'relu (prejudiced)'"),
    "parameterization": _m("parameterization", "'standard': weights N(0, C_W / fan_in); 'ntk': weights N(0, 1) "
                           "scaled by sqrt(C_W / fan_in) in the forward pass"),
    "width": _m("hidden width", "units per hidden layer (cnn: channels per conv layer; transformer: d_model)"),
    "depth": _m("depth", "hidden layers (mlp), residual blocks (resnet), conv layers (cnn) or encoder layers "
                "(transformer)"),
    "activation": _m("activation", "name of the activation function, e.g. relu, tanh, 'leaky_relu(0.1)'"),
    "weight_var": _m("weight variance C_W", "weights have variance C_W / fan_in"),
    "bias_var": _m("bias variance C_b", "biases have variance C_b"),
    "bias_std": _m("bias standard deviation sigma_b", "biases N(0, sigma_b^2), so C_b = bias_std^2"),
    "weight_law": _m("weight law", "the law of the weights at variance C_W / fan_in: normal, truncated_normal, "
                     "uniform, orthogonal, 'sparse(p)', 'low_rank(r)'; 'absolute(a)': weights and biases U(-a, a)"),
    "norm": _m("normalization", "'none', or layer or batch norm before (pre) or after (post) the activation"),
    "pool": _m("pooling", "'none' or the pooling layer's spec, e.g. 'max(2)'"),
    "input_mean": _m("input mean m", "blob inputs N(m 1, I): |m 1|^2 / tr S = m^2"),
    "scale": _m("weight scale", "what it scales is the dataset attribute scale_meaning: C_W (scale_kind "
                "weight_var) or a, weights and biases U(-a, a) (scale_kind absolute)"),
    "measured_weight_var": _m("C_W of the measured networks", "weight variance C_W of the networks sampled for "
                              "the measured gamma"),
    "measured_bias_var": _m("C_b of the measured networks", "bias variance C_b of the networks sampled for the "
                            "measured gamma"),
    "learning_rate": _m("learning rate eta", "the optimizer's learning rate"),
}

_SAMPLE = {
    "x": _m("input points", "the inputs, one row per point, each point flattened (grid inputs: the grid's shape "
            "is attrs grid_shape)"),
    "outputs": _m("network outputs", "raw outputs f(x) of each network at each input point (in training results: "
                  "on the probe points, at each recorded step)"),
    "net_spec": _m("network spec (JSON)", "the cell's network as canonical JSON (jaxbias.nets.describe); "
                   "jb.nets.from_config(ds.sel(...)) rebuilds it"),
}

_COMPLEXITY = {
    "mean_frequency": _m("mean frequency", "magnitude-weighted mean radial frequency |k| / max|k| of the "
                         "function's DFT on the grid, DC term excluded (Teney et al. 2024), in [0, 1]: 0 for a "
                         "constant, about 0.54 for white noise; NaN for a network with non-finite outputs"),
    "polynomial_order": _m("polynomial order", "coefficient-magnitude-weighted mean total degree of the "
                           "least-squares tensor Legendre fit on the grid, constant term excluded (Teney et al. "
                           "2024); 0 for a (near-)constant function"),
    "lz": _m("LZ complexity", "Lempel-Ziv complexity log2(n) (N(s) + N(reverse s)) / 2 (LZ76, Valle-Perez et al. "
             "2019) of the function quantized to 2 levels, in point order"),
    "mean_frequency_redshift_code": _m("mean frequency (Neural Redshift code)", "the mean frequency as the public "
                                       "Neural Redshift prototype computes it (|rfft2|, half the frequencies, "
                                       "integer radius bins); orientation-dependent, kept to reproduce its "
                                       "published heatmaps"),
}
COMPLEXITY_MEASURES = tuple(_COMPLEXITY)
"""Complexity measures whose per-cell statistics and target values are named after them (:func:`meaning_of`)."""

_DERIVED = {  # prefix or suffix -> (long_name template, description template), "{}" the measure's own text
    "_mean": ("{}: mean over networks", "mean over the scored networks (finite outputs) of: {}"),
    "_std": ("{}: standard deviation over networks", "standard deviation (ddof 1) over the scored networks of: {}"),
    "_ci_low": ("{}: lower 95 % confidence limit", "mean - 1.96 std / sqrt(n) over the scored networks (normal "
                "95 % confidence interval of the mean) of: {}"),
    "_ci_high": ("{}: upper 95 % confidence limit", "mean + 1.96 std / sqrt(n) over the scored networks (normal "
                 "95 % confidence interval of the mean) of: {}"),
    "target_": ("{} of the target", "the training target's own value on the probe grid (where the trained "
                "functions head) of: {}"),
}
_DERIVED_NAME = re.compile(r"^(target_)?(" + "|".join(COMPLEXITY_MEASURES) + r")(_mean|_std|_ci_low|_ci_high)?$")

_REDSHIFT = {
    "near_constant": _m("near-constant function", "True when the function is constant up to float32 rounding: "
                        "it gets the constant's score"),
    "non_finite": _m("non-finite outputs", "True when an output of the network was NaN or infinite (overflow): it "
                     "has no score and is left out of every statistic"),
    "near_constant_count": _m("near-constant networks", "networks whose function is constant up to float32 "
                              "rounding"),
    "non_finite_count": _m("non-finite networks", "networks with a NaN or infinite output, left out of the "
                           "statistics"),
}

_BOOLEAN = {
    "occurrences": _m("occurrences", "networks that computed this Boolean function"),
    "probability": _m("prior probability P(f)", "occurrences / (n_networks - n_non_finite): the estimated "
                      "probability that a random network computes this function; NaN on padding rows"),
    "lz_complexity": _m("LZ complexity of the truth table", "Valle-Perez et al. 2019: log2(n) (N(s) + N(reverse "
                        "s)) / 2 of the truth table s (LZ76), log2(n) for a constant"),
    "sensitivity": _m("average sensitivity", "E_x sum_i 1[f(x) != f(x xor e_i)], in [0, n_inputs]"),
    "entropy": _m("entropy of the truth table", "binary entropy of the fraction of ones of the truth table; 0 "
                  "for a constant", "bit"),
    "table": _m("packed truth table", "bit j of word k is f(input 32 k + j), inputs {0,1}^n_inputs in "
                "lexicographic order; f(x) = 1[net(x) > 0]"),
    "is_function": _m("real function row", "False for a padding row of a cell with fewer distinct functions "
                      "(its values mean nothing)"),
    "n_distinct": _m("distinct functions", "number of distinct functions (truth tables) among the networks"),
    "n_networks": _m("networks", "networks sampled"),
    "n_non_finite": _m("non-finite networks", "networks with a NaN or infinite output: they compute no function "
                       "and assign no class, and are left out of every statistic"),
    "p_constant": _m("probability of a constant function", "probability of the two constant functions"),
}

_IGB = {
    "fractions": _m("class fractions G_i", "fraction of the input points the network assigns to class i (see "
                    "class); NaN for a network with non-finite outputs"),
    "class_fractions": _m("class fractions G_i", "fraction of the probe points the network assigns to class i "
                          "(argmax of the outputs; one output: class 1 iff the output is > 0)"),
    "g0": _m("class-0 fraction G_0", "fraction of the input points the network puts in class 0"),
    "max_fraction": _m("largest class fraction max_i G_i", "the largest fraction of the input points that the "
                       "network puts in one class"),
    "sorted_fractions": _m("class fractions, sorted", "the class fractions G_i in decreasing order"),
    "out_mean": _m("output mean over inputs", "mean of each output unit over the input points, per network"),
    "out_var": _m("output variance over inputs", "unbiased (ddof 1) variance of each output unit over the input "
                  "points, per network"),
    "g0_hist": _m("histogram of G_0", "networks whose G_0 falls in each bin (centres g0_bin); non-finite networks "
                  "left out"),
    "gamma": _m("guessing-bias strength gamma", "finite-n corrected estimate of Var_chi(mean_x f) / E_chi var_x f "
                "over networks chi (Francazi et al. 2024): 0 neutral, large prejudiced; inf when every network is "
                "constant over the inputs"),
    "gamma_low": _m("gamma: lower confidence limit", "lower end of the " + _BOOTSTRAP + " of gamma"),
    "gamma_high": _m("gamma: upper confidence limit", "upper end of the " + _BOOTSTRAP + " of gamma"),
    "var_g0": _m("Var(G_0) over networks", "variance of G_0 over networks with the binomial noise of a finite "
                 "input set removed"),
    "var_g0_low": _m("Var(G_0): lower confidence limit", "lower end of the " + _BOOTSTRAP + " of var_g0"),
    "var_g0_high": _m("Var(G_0): upper confidence limit", "upper end of the " + _BOOTSTRAP + " of var_g0"),
    "max_g": _m("E[max_i G_i] over networks", "mean over networks of the largest class fraction"),
    "max_g_low": _m("E[max_i G_i]: lower confidence limit", "lower end of the " + _BOOTSTRAP + " of max_g"),
    "max_g_high": _m("E[max_i G_i]: upper confidence limit", "upper end of the " + _BOOTSTRAP + " of max_g"),
    "ks_stat": _m("KS statistic of G_0", "Kolmogorov-Smirnov distance between the measured G_0 and its law "
                  "predicted for gamma_theory at this input set's size"),
    "ks_pvalue": _m("KS p-value of G_0", "p-value of ks_stat (conservative: the finite-n law is discrete)"),
    "gamma_theory": _m("predicted gamma", "gamma from the NNGP recursion, n_points -> infinity; NaN where the "
                       "theory does not cover the network"),
    "gamma_theory_n": _m("predicted gamma at n_points", "the prediction at this input set's size, what gamma "
                         "estimates; differs from gamma_theory only with batch norm"),
    "var_g0_theory": _m("predicted Var(G_0)", "Var(G_0) predicted from gamma_theory"),
    "max_g_theory": _m("predicted E[max_i G_i]", "E[max_i G_i] predicted from gamma_theory"),
    "no_igb": _m("no guessing bias", "True when the whole interval of gamma lies at or below 0: gamma = 0, a "
                 "negative estimate being the finite input set's offset"),
    "c_deep": _m("deep correlation c", "correlation q_ab / q_aa of two inputs after many layers of the NNGP "
                 "recursion, which sets the regime"),
    "regime": _m("guessing-bias regime", "index into jaxbias.theory.REGIMES: 0 neutral, 1 prejudiced, 2 deep "
                 "prejudice"),
    "gamma_point_theory": _m("predicted gamma of the measured networks", "gamma_theory at the measured networks' "
                             "C_W and C_b"),
}

_NTK = {
    "ntk_mean": _m("empirical NTK, mean over networks", "entry-wise mean over networks of the empirical neural "
                   "tangent kernel Theta(x_a, x_b) (traced over outputs)"),
    "ntk_std": _m("empirical NTK, standard deviation over networks", "entry-wise standard deviation over "
                  "networks of the empirical NTK"),
    "eig_mean_kernel": _m("eigenvalues of the mean NTK", "eigenvalues of ntk_mean, descending"),
    "eig_init_mean": _m("NTK eigenvalue, mean over networks", "mean over networks of each network's NTK "
                        "eigenvalue of this rank"),
    "eig_init_lo": _m("NTK eigenvalue, 5 % quantile", "5 % quantile over networks of the NTK eigenvalue of this "
                      "rank"),
    "eig_init_hi": _m("NTK eigenvalue, 95 % quantile", "95 % quantile over networks of the NTK eigenvalue of this "
                      "rank"),
    "ntk_infinite": _m("infinite-width NTK", "the analytic infinite-width neural tangent kernel"),
    "nngp_infinite": _m("infinite-width NNGP kernel", "the analytic infinite-width NNGP kernel E f(x_a) f(x_b)"),
    "eig_infinite_ntk": _m("eigenvalues of the infinite-width NTK", "eigenvalues of ntk_infinite, descending"),
    "eig_infinite_nngp": _m("eigenvalues of the infinite-width NNGP kernel", "eigenvalues of nngp_infinite, "
                            "descending"),
    "walsh_finite": _m("NTK eigenvalue by Walsh degree (finite width)", "mean of the eigenvalues of ntk_mean "
                       "assigned to each Walsh degree (exact per-degree eigenvalues on {-1,+1}^n); NaN where none"),
    "walsh_infinite": _m("NTK eigenvalue by Walsh degree (infinite width)", "the same for ntk_infinite"),
    "walsh_finite_count": _m("eigenvectors per Walsh degree (finite width)", "eigenvectors of ntk_mean assigned "
                             "to each degree"),
    "walsh_infinite_count": _m("eigenvectors per Walsh degree (infinite width)", "eigenvectors of ntk_infinite "
                               "assigned to each degree"),
}

_CHECK = {
    "check": _m("check name", "the prediction this row tests"),
    "component": _m("component", "which value of the prediction: 'depth=L', an index, or 'law' for a "
                    "distribution test"),
    "kind": _m("test kind", "'moment' (estimate against prediction, delta-method standard error) or the "
               "distribution test ('ks', 'wasserstein')"),
    "prediction": _m("prediction", "the theory's value (NaN for a distribution test)"),
    "tolerance": _m("tolerance", "systematic error the prediction admits (reason in tolerance_reason)"),
    "stderr": _m("standard error", "standard error of the estimate over networks (delta method)"),
    "ci_low": _m("lower confidence limit", "estimate - z_c stderr, simultaneous (Bonferroni) at the check's "
                 "confidence (attrs confidence); 0 for a distribution test"),
    "ci_high": _m("upper confidence limit", "estimate + z_c stderr, simultaneous (Bonferroni) at the check's "
                  "confidence; for a distribution test the statistic's critical value"),
    "z": _m("z statistic", "(estimate - prediction) / stderr"),
    "p_value": _m("p-value", "two-sided normal p-value of z against the prediction, Bonferroni-adjusted over the "
                  "check (attrs p_value_meaning)"),
    "status": _m("status", "'ok', 'within tolerance' or 'rejected'"),
    "passed": _m("passed", "True unless the estimate lies outside tolerance + z_c stderr of the prediction"),
    "alternative": _m("alternative", "the value the check must tell from the prediction (NaN: none)"),
    "power": _m("power", "probability of rejecting the prediction were the alternative true"),
    "tolerance_reason": _m("tolerance reason", "why the tolerance applies"),
    "alternative_label": _m("alternative label", "what the alternative is"),
}

_TRAINING = {
    "train_loss": _m("training loss", _LOSS + ", on the training set"),
    "test_loss": _m("test loss", _LOSS + ", on the test set"),
    "train_accuracy": _m("training accuracy", "fraction of training points whose largest output is the label "
                         "(one output: its sign, label 1 for > 0)"),
    "test_accuracy": _m("test accuracy", "fraction of test points whose largest output is the label (one output: "
                        "its sign, label 1 for > 0)"),
    "param_distance": _m("parameter distance from init", "|theta_t - theta_0|, the global L2 norm of the change "
                         "of all parameters"),
    "param_distance_relative": _m("relative parameter distance from init", "|theta_t - theta_0| / |theta_0|"),
    "ntk_distance": _m("NTK distance from init", "1 - <K_0, K_t>_F / (|K_0|_F |K_t|_F) (Fort et al. 2020) of the "
                       "empirical NTK on the kernel points, in [0, 2]"),
    "ntk_relative_change": _m("NTK relative change", "|K_t - K_0|_F / |K_0|_F of the empirical NTK on the kernel "
                              "points"),
    "ntk_velocity": _m("NTK velocity", "NTK distance between this and the previous recorded step, divided by the "
                       "steps between them; NaN at step 0"),
    "ntk_alignment": _m("NTK-target alignment", "centred kernel-target alignment <K_c, Y_c>_F / (|K_c|_F |Y_c|_F), "
                        "Y = y y^T (Cortes et al. 2012)"),
    "diverged_step": _m("divergence step", "the step at which the loss or gradient was first not finite, -1 if "
                        "never; a diverged network keeps its last finite state"),
    "lambda_max": _m("largest NTK eigenvalue at init", "median over networks of the largest eigenvalue of the "
                     "initial empirical NTK on the training points"),
    "function_space_rate": _m("function-space rate", "eta lambda_max / N, N scalar training targets: the share "
                              "of the slowest-stable mode one step moves"),
    "slope": _m("log-log slope against width", "least-squares slope of log mean(final ntk_relative_change) "
                "against log width"),
    "slope_low": _m("slope: lower confidence limit", "lower end of the " + _BOOTSTRAP + " of slope"),
    "slope_high": _m("slope: upper confidence limit", "upper end of the " + _BOOTSTRAP + " of slope"),
    "intercept": _m("log-log intercept", "intercept of the fit of slope (natural logs)"),
    "separation_step": _m("separation step", "first recorded step at which the mean test accuracy of networks "
                          "trained on the data and on the clone differ by more than k standard errors (and at "
                          "least min_difference); inf if never within the run"),
    "separation_low": _m("separation step: lower confidence limit", "lower end of the " + _BOOTSTRAP + " of the "
                         "separation step"),
    "separation_high": _m("separation step: upper confidence limit", "upper end of the " + _BOOTSTRAP + " of the "
                          "separation step (inf where resamples never separate)"),
    "separation_fraction": _m("share of resamples that separate", "fraction of bootstrap resamples whose curves "
                              "separate within the run"),
    "accuracy_gap": _m("accuracy gap, data minus clone", "mean across networks of the real-test accuracy of "
                       "networks trained on the data minus that of the same networks trained on the clone"),
    "accuracy_gap_se": _m("accuracy gap: standard error", "standard error across networks of accuracy_gap"),
    "mean_residual": _m("normalised residual of the ensemble mean", "|c_k(mean f_t - y)| / |c_k(y)|: the DFT "
                        "coefficient of the ensemble-mean residual at the target frequency, relative to the target's"),
    "mean_residual_se": _m("normalised residual: standard error", "Monte Carlo standard error of mean_residual"),
    "ntk_residual": _m("predicted normalised residual", "(I - eta Theta / N)^t of the infinite-width NTK Theta at "
                       "the target frequency (Jacot et al. 2018; Lee et al. 2019)"),
    "learned_step": _m("step a frequency is learned", "first recorded step after which the median network's "
                       "normalised residual stays below the threshold; inf if never"),
    "ntk_learned_step": _m("predicted step a frequency is learned", "the same for ntk_residual, at every integer "
                           "step"),
    "eigenvalue": _m("NTK eigenvalue of the frequency", "Rayleigh quotient e_k^* Theta e_k of the unit Fourier "
                     "mode (the exact eigenvalue with a periodic embedding)"),
    "decay_rate": _m("predicted decay per step", "eta lambda / N: the share of the residual at this frequency "
                     "removed per step"),
    "ntk_deviation": _m("largest deviation from the NTK prediction", "max over steps and frequencies of "
                        "|mean_residual - ntk_residual|"),
    "ntk_mc_error": _m("Monte Carlo error", "max over steps and frequencies of 3 mean_residual_se"),
    "ntk_excess": _m("deviation beyond the Monte Carlo error", "max of |mean_residual - ntk_residual| - 3 "
                     "mean_residual_se: <= 0 when every difference is within the Monte Carlo error"),
}

_INDUCTIVE_BIAS = {
    "bits": _m("inductive bias I(eps)", "-log2 P(test error <= eps) over the hypotheses that fit the training set "
               "(Boopathy et al.; inductive-bias: GP posterior samples or trained networks; task-difficulty: the "
               "closed-form bound of Boopathy et al. 2023)", "bit"),
    "bits_lo": _m("inductive bias: lower limit", "lower end of the bits' interval (Monte Carlo or counts: "
                  "Clopper-Pearson; an approximation: bits - 2 bits_error; extrapolation: the joint interval at "
                  "the run's confidence)", "bit"),
    "bits_hi": _m("inductive bias: upper limit", "upper end of the bits' interval (inf for a lower bound)", "bit"),
    "bits_error": _m("inductive bias: error", "one standard error (Monte Carlo) or the method's numerical error "
                     "estimate; 0 for a certified bound, NaN where not estimated", "bit"),
    "disagree": _m("method disagrees", "True when the method's bits are inconsistent with the recommended ones "
                   "beyond their errors (a bound: violated)"),
    "recommended_bits": _m("inductive bias, recommended method", "the bits of the method recommended for this "
                           "eps", "bit"),
    "recommended_error": _m("inductive bias error, recommended method", "bits_error of the recommended method",
                            "bit"),
    "recommended_method": _m("recommended method", "the tail method whose bits are recommended for this eps"),
    "weights": _m("posterior weights w_i", "lambda_i / (n_test k_out), lambda_i the eigenvalues of the GP "
                  "posterior covariance on the test points: test MSE Q = sum_i w_i sum_o (z_io + b_io)^2 + c"),
    "c": _m("constant of the test MSE", "the posterior mean's test error in directions of zero posterior "
            "variance"),
    "mean_mse": _m("test MSE of the posterior mean", "mean over test points and outputs of (mu - y)^2"),
    "expected_mse": _m("expected test MSE E[Q]", "expected test MSE of a GP posterior sample"),
    "count": _m("hypotheses within eps", "hypotheses (trained networks, fitting random networks or posterior "
                "samples) with test error <= eps"),
    "train_mse": _m("training MSE", "mean over training points and outputs of (f - y)^2 (no factor 1/2: kernel "
                    "mode's scale)"),
    "test_mse": _m("test MSE", "mean over test points and outputs of (f - y)^2 (no factor 1/2: kernel mode's "
                   "scale)"),
    "train_zero_one": _m("training zero-one error", "fraction of training points misclassified"),
    "test_zero_one": _m("test zero-one error", "fraction of test points misclassified"),
    "n_hypotheses": _m("hypotheses", "fitting random networks, kernel posterior samples or trained networks"),
    "n_prior": _m("random networks sampled", "random networks whose sign tables were counted"),
    "n_fit": _m("fitting networks", "random networks whose signs equal the training labels"),
    "bits_fit": _m("bits to fit", "-log2 P(a random network fits the training labels)", "bit"),
    "error_counts": _m("fitting networks by test errors", "fitting random networks with exactly n_errors wrong "
                       "test points"),
    "train_fit": _m("share of trained networks fitting", "fraction of trained networks whose signs fit every "
                    "training label"),
    "bits_mse": _m("inductive bias at a test MSE", "-log2 P(test MSE <= eps) against +-1 targets", "bit"),
    "bits_mse_lo": _m("inductive bias at a test MSE: lower limit", "lower end of the interval of bits_mse", "bit"),
    "bits_mse_hi": _m("inductive bias at a test MSE: upper limit", "upper end of the interval of bits_mse", "bit"),
    "estimate_mse": _m("estimate of bits_mse", "the method behind bits_mse (kernel: the recommended tail method; "
                       "trained: 'empirical', 'extrapolation' or 'bound')"),
}

_TASK_DIFFICULTY = {
    "bits_low": _m("inductive bias: lower confidence limit", "the smaller of I(eps) at the two ends of m's "
                   "bootstrap interval", "bit"),
    "bits_high": _m("inductive bias: upper confidence limit", "the larger of I(eps) at the two ends of m's "
                    "bootstrap interval", "bit"),
    "log10_bits": _m("log10 of the inductive bias", "log10 I(eps), NaN where the bound is void (I <= 0)"),
    "log10_bits_low": _m("log10 of bits_low", "log10 of bits_low"),
    "log10_bits_high": _m("log10 of bits_high", "log10 of bits_high"),
    "m": _m("intrinsic dimension m", "intrinsic dimension of the data manifold (Levina-Bickel estimate from the "
            "training inputs; the paper's value in the paper table)"),
    "m_se": _m("intrinsic dimension: standard error", "bootstrap standard error of m"),
    "m_low": _m("intrinsic dimension: lower confidence limit", "lower end of m's bootstrap interval at the run's "
                "confidence"),
    "m_high": _m("intrinsic dimension: upper confidence limit", "upper end of m's bootstrap interval"),
    "delta": _m("class separation delta", "smallest distance between training points of different classes (or "
                "its delta_quantile), in the units of the inputs"),
    "radius": _m("data radius R", "largest norm of the training inputs (from their mean with center=True), in "
                 "the units of the inputs"),
    "K": _m("largest eigenfunction degree K", "largest (real) degree of the band-limited eigenfunctions, "
            "K (K + m - 1) = M^2"),
    "M": _m("maximum frequency M", "2 pi R / delta"),
    "L_f": _m("Lipschitz constant L_f", "Lipschitz constant of the hypotheses K sqrt(D) / R"),
    "log2_W": _m("log2 of the Wasserstein distance W", "log2 of the distance between training and test "
                 "distributions in the bound"),
    "log10_hypothesis_dim": _m("log10 of the hypothesis-space dimension", "log10 of 2 D d E, E the number of "
                               "eigenfunctions of degree <= K"),
    "n": _m("training points", "training points n of the data set"),
    "n_classes": _m("classes", "number of classes d"),
}

_BY_KIND = {  # names that mean different things by the kind of their values
    "residual": {
        "bool": _m("residual connections", "True: skip connections around hidden layers 2..depth"),
        "number": _m("normalised residual", "|c_k(f_t - y)| / |c_k(y)| per network: the DFT coefficient of the "
                     "residual at the target frequency relative to the target's (1 before training, 0 once learned)"),
    },
    "estimate": {
        "number": _m("estimate", "Monte Carlo estimate over networks of the predicted quantity (a distribution "
                     "test: its statistic)"),
        "text": _m("estimate kind", "how the bits were estimated: 'empirical' (share of networks within eps), "
                   "'extrapolation' (power-law lower tail) or 'bound' (only bits_lo is known)"),
    },
}

MEANINGS: dict[str, Meaning | dict[str, Meaning]] = {
    **_COORDINATES, **_SAMPLE, **_COMPLEXITY, **_REDSHIFT, **_BOOLEAN, **_IGB, **_NTK, **_CHECK, **_TRAINING,
    **_INDUCTIVE_BIAS, **_TASK_DIFFICULTY, **_BY_KIND,
}
"""Variable or coordinate name -> :class:`Meaning`; where a name means different things by type, a dict
``{"bool" | "text" | "number": Meaning}`` picked by the kind of the values."""


def _kind(dtype) -> str:
    kind = np.dtype(dtype).kind
    return "bool" if kind == "b" else "text" if kind in "USO" else "number"


def meaning_of(name: str, dtype=np.float64) -> Meaning | None:
    """The :class:`Meaning` of a variable or coordinate named ``name`` with values of ``dtype``, or None.

    Names in :data:`MEANINGS` come first; then the names generated per complexity measure ``m`` of
    :data:`COMPLEXITY_MEASURES`: ``m_mean``, ``m_std``, ``m_ci_low``, ``m_ci_high`` (per-cell statistics
    over networks) and ``target_m`` (the training target's score).

    Args:
        name: the variable's name.
        dtype: its values' dtype (picks the meaning where a name means different things by type).

    Returns:
        The meaning, or None for a name jaxbias does not write.
    """
    entry = MEANINGS.get(name)
    if isinstance(entry, dict):
        return entry.get(_kind(dtype))
    if entry is not None:
        return entry
    match = _DERIVED_NAME.match(name)
    if match is None or bool(match.group(1)) == bool(match.group(3)):
        return None  # not derived, or statistics of a target's score (which jaxbias does not write)
    prefix, measure, suffix = match.groups()
    base = _COMPLEXITY[measure]
    long_name, description = _DERIVED[suffix or prefix]
    return Meaning(long_name.format(base.long_name), base.units, description.format(base.description))


def annotate(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with ``long_name``, ``units``, ``description`` on each variable and coordinate :func:`meaning_of` knows.

    Attributes already set are kept (the meaning fills only the missing ones); unknown names and
    date or time variables (whose ``units`` netCDF encoding owns) are left as they are. ``ds`` itself
    is not modified.

    Args:
        ds: a results Dataset.

    Returns:
        A shallow copy of ``ds`` (the data are shared) with the attributes filled in.
    """
    out = ds.copy(deep=False)
    for name, var in out.variables.items():
        meaning = meaning_of(str(name), var.dtype)
        if meaning is not None and var.dtype.kind not in "Mm":
            var.attrs = {**meaning.attrs(), **var.attrs}
    return out
