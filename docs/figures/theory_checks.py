"""Theory checks: output variance against depth, Monte Carlo beside the NNGP length map (docs figure)."""
import matplotlib.pyplot as plt
import numpy as np

import jaxbias as jb


def figure(path):
    x = np.ones((1, 8))                        # |x|^2 / d_in = 1: the first layer has variance C_W + C_b
    depths = (1, 3, 6)
    fig, ax = plt.subplots(figsize=(6, 3))
    for cw in (1.0, 2.5):
        q, pred = 1.0 * cw + 0.05, []
        for _ in range(max(depths) + 1):
            pred.append(q)
            q = float(jb.theory.length_map("tanh", cw, 0.05, q))   # one layer: C_b + C_W E[tanh(z)^2]
        est, err = [], []
        for d in depths:
            net = jb.nets.MLP(64, d, "tanh", weight_var=cw, bias_var=0.05)
            y = np.asarray(jb.sample(net, x, n=300, key=d, progress=False))[:, 0, 0]
            est.append(np.mean(y ** 2)), err.append(2 * np.std(y ** 2) / np.sqrt(len(y)))
        line, = ax.plot(range(max(depths) + 1), pred, label=f"theory, C_W = {cw}")
        ax.errorbar(depths, est, err, fmt="o", color=line.get_color())
    ax.set(xlabel="depth (hidden layers)", ylabel="E[f(x)^2]", title="300 tanh MLPs (width 64) per point, 2 s.e. bars")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
