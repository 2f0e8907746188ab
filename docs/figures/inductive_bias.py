"""Inductive bias: bits needed against test error for an RBF kernel and the NNGP (docs figure)."""
import jaxbias as jb
from jaxbias.experiments.inductive_bias import RBF, Infinite, inductive_bias
from jaxbias.plot_inductive_bias import plot_bits_vs_epsilon


def figure(path):
    data = jb.datasets.gaussian_mixture(n_classes=3, dim=4, n_train=40, n_test=30, key=0)
    ds = inductive_bias(data, Infinite(jb.nets.mlp(64, 2, "relu", out=3, weight_var=2.0)),
                        methods=("inversion", "saddlepoint", "chernoff"))
    plot_bits_vs_epsilon(ds, path)
