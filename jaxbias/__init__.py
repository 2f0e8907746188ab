"""jaxbias: the functions random neural networks compute, sampled by the thousand in JAX.

>>> import jaxbias as jb
>>> net = jb.nets.mlp(width=64, depth=3, activation="tanh")
>>> x = jb.inputs.grid(dim=2, resolution=16)
>>> jb.sample(net, x, n=100, key=0).shape
(100, 256, 1)
"""

from jaxbias import caches, datasets, experiments, inputs, kernels, measures, nets, summaries, theory, training
from jaxbias.caches import clear_caches
from jaxbias.cpu_devices import use_cpu_devices
from jaxbias.engine import RunOptions, RunPlan, plan, reduce, sample, summarize
from jaxbias.io import load, save
from jaxbias.results import outputs_dataset
from jaxbias.sweep import run_sweep
from jaxbias.training import train
from jaxbias.version import __version__

__all__ = [
    "__version__",
    "nets",
    "inputs",
    "summaries",
    "kernels",
    "measures",
    "theory",
    "experiments",
    "datasets",
    "training",
    "train",
    "sample",
    "reduce",
    "summarize",
    "plan",
    "RunOptions",
    "RunPlan",
    "caches",
    "clear_caches",
    "use_cpu_devices",
    "save",
    "load",
    "outputs_dataset",
    "run_sweep",
]
