"""Training many networks: 8 MLPs trained at once on digits, two learning rates (docs figure)."""
import numpy as np

import jaxbias as jb
from jaxbias.plot_training import plot_learning_curves


def figure(path):
    data = jb.datasets.digits(test_fraction=0.25, key=0)
    net = jb.nets.MLP(width=32, depth=2, activation="tanh", out=10)
    opt = jb.training.Optimizer("sgd", learning_rate=0.05, momentum=0.9)
    ds = jb.train(net, data, opt, n=8, key=0, steps=100, batch_size=64, loss="cross_entropy",
                  vary={"learning_rate": np.repeat([0.01, 0.05], 4)}, record=8, progress=False)
    plot_learning_curves(ds, path)
