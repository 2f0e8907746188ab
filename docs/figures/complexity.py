"""Function complexity: the neural redshift, mean frequency against weight scale (docs figure)."""
import matplotlib.pyplot as plt

from jaxbias.experiments import redshift_cell, unit_scale_mlp


def figure(path):
    scales = (0.5, 1.0, 2.0, 4.0, 8.0)
    fig, ax = plt.subplots(figsize=(6, 3))
    for act in ("relu", "tanh"):
        ds = redshift_cell(unit_scale_mlp(act, 4, width=64), scales, n=16, key=0, resolution=32, progress=False)
        mean = ds["mean_frequency"].mean("net")
        ax.plot(scales, mean, "o-", label=act)
    ax.set(xscale="log", xlabel="weight scale C_W", ylabel="mean frequency",
           title="Neural redshift: depth 4, width 64, 16 networks per point")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
