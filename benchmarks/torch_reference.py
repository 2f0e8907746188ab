"""The PyTorch side shared by the benchmarks: an MLP drawn as jaxbias draws it, thread settings.

PyTorch lives only in the benchmarks' own environment (benchmarks/requirements.txt); without it
``torch`` is None here and the scripts print their torch rows as skipped.
"""

from __future__ import annotations

import math
import os

import numpy as np

try:
    import torch
except ImportError:  # pragma: no cover - depends on the environment
    torch = None


def torch_device() -> str:
    """"cuda" when the installed torch has a GPU, else "cpu"."""
    return "cuda" if torch is not None and torch.cuda.is_available() else "cpu"


def torch_mlp(d0: int, width: int, depth: int, activation: str, weight_var: float, bias_std: float,
              device: str = "cpu", out: int = 1):
    """``nn.Sequential`` d0 -> width x depth -> out, built with torch's default init and then
    re-initialized as jaxbias draws it: weights N(0, C_W / fan_in), biases N(0, bias_std^2)
    (bias_std 0: zero biases)."""
    activations = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}
    dims = [d0] + [width] * depth + [out]
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(dims[:-1], dims[1:])):
        layers.append(torch.nn.Linear(fan_in, fan_out))
        if i < depth:
            layers.append(activations[activation]())
    model = torch.nn.Sequential(*layers).to(device)
    with torch.no_grad():
        for m in model:
            if isinstance(m, torch.nn.Linear):
                torch.nn.init.normal_(m.weight, 0.0, math.sqrt(weight_var / m.in_features))
                torch.nn.init.normal_(m.bias, 0.0, bias_std)
    return model


def load_jax_mlp(model, layers) -> None:
    """Copies jaxbias MLP parameters (``params["layers"]``: ``{"w": (fan_in, fan_out), "b": (fan_out,)}``
    per dense layer, numpy arrays) into the ``nn.Linear`` layers of ``model``, in order: the same network."""
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    if len(linears) != len(layers):
        raise ValueError(f"model has {len(linears)} linear layers, params have {len(layers)}")
    with torch.no_grad():
        for m, layer in zip(linears, layers):
            m.weight.copy_(torch.from_numpy(np.array(np.asarray(layer["w"], np.float32).T, order="C")))
            m.bias.copy_(torch.from_numpy(np.array(layer["b"], np.float32)))


class torch_threads:
    """Context manager: ``torch.set_num_threads(n)`` inside, restored after."""

    def __init__(self, n: int):
        self.n = n

    def __enter__(self):
        self.old = torch.get_num_threads()
        torch.set_num_threads(self.n)

    def __exit__(self, *exc):
        torch.set_num_threads(self.old)


def thread_settings() -> list[int]:
    """The thread counts each PyTorch baseline runs at: all cores, then 1 (tiny ops can run faster
    on one thread: OpenMP workers wait on each other, worst on a shared machine)."""
    return sorted({os.cpu_count() or 1, 1}, reverse=True)
