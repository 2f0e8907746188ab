"""Spectral bias: 8 ReLU networks of width 128 fit frequencies 1, 2 and 4, beside the NTK prediction (docs figure)."""
import jaxbias as jb
from jaxbias.experiments.dynamics.spectral_bias import spectral_bias
from jaxbias.plot_dynamics.spectral_bias import plot_spectral_bias


def figure(path):
    net = jb.nets.MLP(128, 1, "relu", weight_var=2.0, bias_var=0.1, parameterization="ntk")
    ds = spectral_bias(net, frequencies=(1, 2, 4), points=32, n=8, record=20, progress=False)
    plot_spectral_bias(ds, path)
