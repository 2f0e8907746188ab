"""The PyTorch baseline network shared by the benchmarks: an MLP drawn as jaxbias draws it.

Imported by the benchmark scripts (run as ``python benchmarks/NAME.py``, so this directory is on
``sys.path``); needs torch, which lives only in the benchmarks' own environment.
"""

from __future__ import annotations

import math

import torch

ACTIVATIONS = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}


def torch_mlp(d0: int, width: int, depth: int, activation: str, weight_var: float, bias_std: float,
              device: str = "cpu") -> torch.nn.Sequential:
    """``nn.Sequential`` d0 -> width x depth -> 1, built with torch's default init and then
    re-initialized as jaxbias draws it: weights N(0, C_W / fan_in), biases N(0, bias_std^2)
    (bias_std 0: zero biases)."""
    dims = [d0] + [width] * depth + [1]
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(dims[:-1], dims[1:])):
        layers.append(torch.nn.Linear(fan_in, fan_out))
        if i < depth:
            layers.append(ACTIVATIONS[activation]())
    model = torch.nn.Sequential(*layers).to(device)
    with torch.no_grad():
        for m in model:
            if isinstance(m, torch.nn.Linear):
                torch.nn.init.normal_(m.weight, 0.0, math.sqrt(weight_var / m.in_features))
                torch.nn.init.normal_(m.bias, 0.0, bias_std)
    return model
