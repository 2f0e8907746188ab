"""Networks and specs: one random function of four specs on [-1, 1]^2 (docs figure)."""
import matplotlib.pyplot as plt

import jaxbias as jb


def figure(path):
    x = jb.inputs.grid(dim=2, resolution=48)
    specs = {
        "MLP relu": jb.nets.MLP(64, 3, "relu", weight_var=2.0),
        "MLP tanh, C_W=4": jb.nets.MLP(64, 3, "tanh", weight_var=4.0),
        "residual + layer_pre": jb.nets.MLP(64, 3, "gelu", residual=True, norm="layer_pre"),
        "MLP sin, C_W=4": jb.nets.MLP(64, 3, "sin", weight_var=4.0),
    }
    fig, axes = plt.subplots(1, 4, figsize=(10, 2.8))
    for ax, (name, net) in zip(axes, specs.items()):
        y = jb.sample(net, x, n=1, key=1, progress=False)[0, :, 0].reshape(48, 48)
        ax.imshow(y, extent=(-1, 1, -1, 1), origin="lower", cmap="RdBu_r")
        ax.set_title(name, fontsize=9)
        ax.set_xticks([]), ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=100)
