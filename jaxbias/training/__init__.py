"""Training many networks at once: the ensemble engine, optimizers, losses and kernel-motion measures.

>>> import jaxbias as jb
>>> data = jb.datasets.gaussian_mixture(n_classes=2, dim=2, n_train=32, n_test=16, key=0)
>>> opt = jb.training.Optimizer("sgd", learning_rate=0.1)
>>> ds = jb.train(jb.nets.MLP(16, 1, "tanh", out=2), data, opt, n=4, steps=10, record=3, progress=False)
>>> ds["test_accuracy"].dims
('net', 'step')
"""

from jaxbias.training.engine import SEGMENT, record_steps, segment_length, train
from jaxbias.training.kernel_motion import centered_alignment, kernel_distance, relative_change
from jaxbias.training.losses import LOSSES, accuracy
from jaxbias.training.optimizers import Optimizer

__all__ = ["train", "record_steps", "segment_length", "SEGMENT", "Optimizer", "LOSSES", "accuracy", "kernel_distance",
           "relative_change", "centered_alignment"]
