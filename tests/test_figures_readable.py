"""Every figure a command writes is readable at its saved size (issue 20).

Each plotting function is run on a small synthetic result shaped like the command's, and the saved
figure is checked for what can be checked automatically: every drawn text lies inside the canvas (no
clipped title or label), the canvas is at most 2400 pixels a side at the saved dpi, an image or a
colour-mapped scatter has a colour bar, tick labels of one axis do not overlap, titles, axis labels,
legends and tick labels do not overlap one another, and a legend inside an axes covers little of the
drawn data. The checks look at what was drawn (text artists are recorded as the saved file is drawn).
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import xarray as xr

matplotlib = pytest.importorskip("matplotlib")

from matplotlib.figure import Figure  # noqa: E402
from matplotlib.text import Text  # noqa: E402

MAX_PIXELS = 2400


@pytest.fixture
def rendered(monkeypatch):
    """Records, for each figure saved, the figure, its dpi and every text drawn with its window extent."""
    records = []
    drawing = []
    original_draw, original_savefig = Text.draw, Figure.savefig

    def draw(self, renderer):
        original_draw(self, renderer)
        if drawing and self.get_visible() and self.get_text().strip():  # a layout pass may draw it twice: keep the last
            drawing[-1]["texts"][id(self)] = (self, self.get_window_extent(renderer))

    def savefig(self, fname, *args, **kwargs):
        record = {"fig": self, "dpi": kwargs.get("dpi") or self.dpi, "texts": {}, "name": str(fname)}
        drawing.append(record)
        try:
            return original_savefig(self, fname, *args, **kwargs)
        finally:
            drawing.pop()
            records.append(record)

    monkeypatch.setattr(Text, "draw", draw)
    monkeypatch.setattr(Figure, "savefig", savefig)
    return records


def _overlap(a, b, tol=0.5) -> bool:
    return (min(a.x1, b.x1) - max(a.x0, b.x0) > tol) and (min(a.y1, b.y1) - max(a.y0, b.y0) > tol)


def _tick_labels(fig):
    """{id(text): (axes, axis name)} for every tick label artist of every axes."""
    out = {}
    for ax in fig.axes:
        for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            for tick in list(axis.majorTicks) + list(axis.minorTicks):
                for label in (tick.label1, tick.label2):
                    out[id(label)] = (ax, name)
    return out


def _data_texts(fig) -> set:
    """Texts drawn in data space (annotations, cell values, contour labels): checked for clipping only."""
    ids = set()
    for ax in fig.axes:
        ids.update(id(t) for t in ax.texts)
        for child in ax.get_children():
            for t in getattr(child, "labelTexts", []):  # contour labels
                ids.add(id(t))
    return ids


def _legend_cover(fig, renderer) -> list[str]:
    """Legends inside an axes that sit on more than 3 % of the axes' drawn line and marker samples."""
    from matplotlib.collections import PathCollection, PolyCollection

    problems = []
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is None or not legend.get_visible():
            continue
        box = legend.get_window_extent(renderer)
        frame = ax.get_window_extent(renderer)
        if not _overlap(box, frame, tol=2):
            continue  # drawn outside the axes
        samples = []
        for line in ax.get_lines():
            if not line.get_visible():
                continue
            xy = line.get_transform().transform(np.asarray(line.get_xydata(), np.float64))
            xy = xy[np.isfinite(xy).all(axis=1)]
            if len(xy) > 1:
                t = np.linspace(0, 1, 25)[:, None, None]
                xy = (xy[:-1][None] * (1 - t) + xy[1:][None] * t).reshape(-1, 2)
            samples.append(xy)
        for coll in ax.collections:
            if isinstance(coll, PathCollection) and coll.get_visible():
                samples.append(coll.get_offset_transform().transform(coll.get_offsets()))
        # Filled bands (fill_between): the share of the legend's area they cover.
        gx, gy = np.meshgrid(np.linspace(box.x0, box.x1, 24), np.linspace(box.y0, box.y1, 12))
        grid = np.column_stack([gx.ravel(), gy.ravel()])
        filled = np.zeros(len(grid), bool)
        for coll in ax.collections:
            if isinstance(coll, PolyCollection) and coll.get_visible() and coll.get_alpha() != 0:
                for path in coll.get_paths():
                    filled |= path.transformed(coll.get_transform()).contains_points(grid)
        if filled.mean() > 0.1:
            problems.append(f"legend of '{ax.get_title()[:40]}' lies on a band over {filled.mean():.0%} of its area")
        if not samples:
            continue
        xy = np.concatenate(samples)
        inside_axes = (xy[:, 0] >= frame.x0) & (xy[:, 0] <= frame.x1) & (xy[:, 1] >= frame.y0) & (xy[:, 1] <= frame.y1)
        xy = xy[inside_axes]
        if not len(xy):
            continue
        covered = ((xy[:, 0] > box.x0) & (xy[:, 0] < box.x1) & (xy[:, 1] > box.y0) & (xy[:, 1] < box.y1)).mean()
        if covered > 0.03:
            problems.append(f"legend of '{ax.get_title()[:40]}' covers {covered:.0%} of the drawn data")
    return problems


def figure_problems(record) -> list[str]:
    """What makes a saved figure unreadable (empty list: nothing found)."""
    from matplotlib.collections import PathCollection, QuadMesh
    from matplotlib.image import AxesImage

    fig, dpi = record["fig"], record["dpi"]
    width, height = fig.get_size_inches() * dpi
    problems = []
    if width > MAX_PIXELS or height > MAX_PIXELS:
        problems.append(f"canvas {width:.0f} x {height:.0f} px (at most {MAX_PIXELS})")
    texts = list(record["texts"].values())
    for text, box in texts:
        if box.x0 < -1 or box.y0 < -1 or box.x1 > width + 1 or box.y1 > height + 1:
            problems.append(f"text {text.get_text()[:50]!r} clipped: {box.bounds} outside {width:.0f} x {height:.0f}")
    ticks = _tick_labels(fig)
    data = _data_texts(fig)
    frame = [(t, b) for t, b in texts if id(t) not in data]
    for i, (a, box_a) in enumerate(frame):
        for b, box_b in frame[i + 1:]:
            if _overlap(box_a, box_b):
                kind = "tick labels" if id(a) in ticks and id(b) in ticks else "texts"
                problems.append(f"{kind} overlap: {a.get_text()[:40]!r} and {b.get_text()[:40]!r}")
    colorbars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    for ax in fig.axes:
        if ax in colorbars:
            continue
        mapped = [a for a in ax.get_children() if isinstance(a, (AxesImage, QuadMesh))
                  or (isinstance(a, PathCollection) and a.get_array() is not None)]
        for artist in mapped:
            categorical = getattr(artist.get_cmap(), "N", 256) <= 5 and fig.legends
            if not colorbars and not categorical:
                problems.append(f"'{ax.get_title()[:40]}' draws {type(artist).__name__} without a colour bar")
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)  # one renderer for the legend and the data (a closed figure has lost its canvas)
    canvas.draw()
    problems += _legend_cover(fig, canvas.get_renderer())
    return problems


def _assert_readable(records, expected: int | None = None):
    assert records, "no figure was saved"
    if expected is not None:
        assert len(records) == expected
    found = {r["name"]: figure_problems(r) for r in records}
    assert not any(found.values()), json.dumps({k: v for k, v in found.items() if v}, indent=1)


# ----------------------------------------------------------------------------------------------------------
# Synthetic results shaped like the commands' (the values are random: layout is what is tested)

RNG = np.random.default_rng(0)


def _config(**kw) -> str:
    return json.dumps(kw)


def _sample_ds(inputs: str, n: int = 12, swept: dict | None = None) -> xr.Dataset:
    import jaxbias as jb

    x, meta = jb.inputs.parse_inputs(inputs, key=0)
    x = np.asarray(x, np.float32)
    swept = swept or {}
    shape = tuple(len(v) for v in swept.values()) + (n, x.shape[0], 1)
    y = RNG.normal(size=shape).astype(np.float32) * np.tanh(x.sum(1))[:, None]
    ds = xr.Dataset({"outputs": (tuple(swept) + ("net", "point", "out"), y), "x": (("point", "feature"), x)},
                    coords={**swept, "net": np.arange(n)})
    net = {"arch": "mlp", "width": 16, "weight_var": 1.0, "bias_var": 0.0, "swept": swept} if swept else \
        {"type": "MLP", "depth": 2, "width": [16, 16], "activation": "tanh", "weight_var": [1.0] * 3, "bias_var": [0.0] * 3}
    ds.attrs["config"] = _config(inputs={k: v for k, v in meta.items() if k != "labels"}, net=net)
    if "grid_shape" in meta:
        ds.attrs["grid_shape"] = list(meta["grid_shape"])
    return ds


@pytest.mark.parametrize("inputs", ["grid:2:8", "grid:1:16", "sphere:3:60", "sphere:2:40", "hypercube:5",
                                    "hypercube:4:pm1", "blobs:2:2:20"])
def test_sample_figures_single_cell(rendered, tmp_path, inputs):
    from jaxbias.plot import plot_functions

    plot_functions(_sample_ds(inputs), tmp_path / "f.png")
    _assert_readable(rendered, 1)


def test_sample_non_grid_figure_shows_the_output_distribution_not_the_point_index(rendered, tmp_path):
    from jaxbias.plot import plot_functions

    plot_functions(_sample_ds("sphere:3:60"), tmp_path / "f.png")
    fig = rendered[0]["fig"]
    labels = " ".join(ax.get_xlabel() for ax in fig.axes)
    assert "longitude" in labels and "fraction of inputs with f(x) > 0" in labels and "index" not in labels
    titles = " ".join(ax.get_title() for ax in fig.axes)
    assert "Gaussian" in " ".join(t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().texts)
    assert "kurtosis" in titles
    plot_functions(_sample_ds("hypercube:5"), tmp_path / "h.png")
    assert any("Hamming weight" in ax.get_xlabel() for ax in rendered[1]["fig"].axes)


def test_sample_sweep_grid_is_capped_with_horizontal_row_labels_and_one_colour_bar(rendered, tmp_path):
    from jaxbias.plot import plot_functions

    ds = _sample_ds("grid:2:8", n=16, swept={"depth": [1, 2, 3], "activation": ["relu", "tanh"]})
    plot_functions(ds, tmp_path / "s.png")
    _assert_readable(rendered, 1)
    fig = rendered[0]["fig"]
    width = fig.get_size_inches()[0] * rendered[0]["dpi"]
    assert width <= 1600  # was 2816 px: 16 panels a row
    bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(bars) == 1 and "output" in bars[0].get_ylabel()
    row_labels = [ax.yaxis.label for ax in fig.axes if ax.get_ylabel().startswith("depth")]
    assert len(row_labels) == 6 and all(label.get_rotation() == 0 for label in row_labels)


@pytest.mark.slow
@pytest.mark.parametrize("inputs", ["grid:1:16", "sphere:3:40", "hypercube:4"])
def test_sample_sweep_figures(rendered, tmp_path, inputs):
    from jaxbias.plot import plot_functions

    plot_functions(_sample_ds(inputs, n=6, swept={"activation": ["relu", "tanh"], "depth": [1, 2]}),
                   tmp_path / "s.png")
    _assert_readable(rendered, 1)


def test_sample_sweep_names_the_cells_it_leaves_out(rendered, tmp_path):
    from jaxbias.plot import plot_functions

    ds = _sample_ds("grid:1:8", n=2, swept={"depth": [1, 2, 3]})
    with pytest.warns(UserWarning, match="draws 2 of 3 cells"):
        plot_functions(ds, tmp_path / "s.png", max_cells=2)
    assert "first 2 of 3 cells" in rendered[0]["fig"].get_suptitle()


# ---- redshift, Boolean prior ---------------------------------------------------------------------------------

def _redshift_ds(acts=("tanh", "relu", "sin"), depths=(1, 2, 4), scales=(0.5, 1.0, 2.0, 4.0, 8.0), n=4):
    shape = (len(acts), len(depths), len(scales))
    mean = 0.3 + 0.25 * RNG.uniform(size=shape)
    ds = xr.Dataset({"mean_frequency_mean": (("activation", "depth", "scale"), mean),
                     "mean_frequency_ci_low": (("activation", "depth", "scale"), mean - 0.02),
                     "mean_frequency_ci_high": (("activation", "depth", "scale"), mean + 0.02),
                     "mean_frequency": (("activation", "depth", "scale", "net"),
                                        mean[..., None] + 0.01 * RNG.normal(size=shape + (n,)))},
                    coords={"activation": list(acts), "depth": list(depths), "scale": list(scales),
                            "net": np.arange(n)})
    ds.attrs.update(scale_kind="weight_var", ramp_mean_frequency=0.2926, noise_mean_frequency=0.555,
                    config=_config(window="hann", scale_kind="weight_var"))
    return ds


@pytest.mark.parametrize("sizes", [dict(acts=("tanh",), depths=(2,), scales=(1.0,)), {}])
def test_redshift_figures(rendered, tmp_path, sizes):
    from jaxbias.plot_complexity import plot_redshift_curves, plot_redshift_heatmaps

    ds = _redshift_ds(**sizes)
    plot_redshift_heatmaps(ds, tmp_path / "h.png")
    plot_redshift_curves(ds, tmp_path / "c.png")
    _assert_readable(rendered, 2)
    bar = [ax for ax in rendered[0]["fig"].axes if ax.get_label() == "<colorbar>"]
    assert len(bar) == 1 and "mean frequency" in bar[0].get_ylabel() and not bar[0].texts
    title = " ".join(rendered[0]["fig"].get_suptitle().split())
    assert "linear ramp 0.29" in title and "white noise 0.56" in title


def test_boolean_prior_figure(rendered, tmp_path):
    from jaxbias.plot_complexity import plot_boolean_prior

    f = 60
    p = np.sort(RNG.dirichlet(np.ones(f) * 0.3, size=2), axis=1)[:, ::-1]
    ds = xr.Dataset({"probability": (("activation", "function"), p),
                     "occurrences": (("activation", "function"), (p * 2000).astype(np.int64) + 1),
                     "lz_complexity": (("activation", "function"), RNG.integers(4, 26, (2, f)).astype(np.float32)),
                     "n_distinct": (("activation",), [f, f]), "n_networks": (("activation",), [2000, 2000])},
                    coords={"activation": ["relu", "tanh"]})
    plot_boolean_prior(ds, tmp_path / "b.png")
    _assert_readable(rendered, 1)


# ---- initial guessing bias, NTK ------------------------------------------------------------------------------

def _igb_ds(acts=("tanh", "relu"), depths=(1, 3), n=40):
    dims = ("activation", "depth")
    shape = (len(acts), len(depths))
    gamma = np.array([[-0.01, -0.001], [0.55, 1.6]])[:shape[0], :shape[1]]
    ds = xr.Dataset({"g0": (dims + ("net",), RNG.uniform(0, 1, shape + (n,))),
                     "gamma": (dims, gamma), "gamma_low": (dims, gamma - 0.2), "gamma_high": (dims, gamma + 0.2),
                     "gamma_theory": (dims, np.abs(gamma))},
                    coords={"activation": list(acts), "depth": list(depths)}, attrs={"n_points": 30})
    return ds


@pytest.mark.parametrize("cells", [(("relu",), (1,)), (("tanh", "relu"), (1, 3))])
def test_g0_histograms(rendered, tmp_path, cells):
    from jaxbias.plot import plot_g0_histograms

    ds = _igb_ds(*cells)
    if ds["g0"].shape[:2] == (1, 1):
        ds = ds.isel(activation=0, depth=0)
    plot_g0_histograms(ds, tmp_path / "g.png")
    _assert_readable(rendered, 1)


def test_igb_phase_diagram(rendered, tmp_path):
    from jaxbias.plot import plot_igb_phase

    cw, cb = np.linspace(0.25, 4, 10), np.linspace(0, 2, 10)
    g = cb[None, :] / cw[:, None] * 3
    ds = xr.Dataset({"regime": (("activation", "weight_var", "bias_var"), np.stack([(g > 0.3) + (g > 1)] * 2)),
                     "gamma_theory": (("activation", "weight_var", "bias_var"), np.stack([g, g * 2])),
                     "gamma": (("activation", "measured_weight_var", "measured_bias_var"),
                               np.array([[[-0.01, 0.3, 3.0], [0.2, 1.0, 14.0]]] * 2))},
                    coords={"activation": ["tanh", "relu"], "weight_var": cw, "bias_var": cb,
                            "measured_weight_var": [0.5, 3.0], "measured_bias_var": [0.0, 0.3, 1.0]},
                    attrs={"depth": 3})
    plot_igb_phase(ds, tmp_path / "p.png")
    _assert_readable(rendered, 1)


def test_ntk_spectrum(rendered, tmp_path):
    from jaxbias.plot import plot_ntk_spectrum

    lam = np.geomspace(8.0, 0.005, 8)
    ds = xr.Dataset({"eig_init_lo": ("rank", lam / 2), "eig_init_hi": ("rank", lam * 2), "eig_init_mean": ("rank", lam),
                     "eig_mean_kernel": ("rank", lam * 1.1), "eig_infinite_ntk": ("rank", lam * 0.8)},
                    coords={"rank": np.arange(1, 9), "point": np.arange(8)})
    plot_ntk_spectrum(ds, tmp_path / "n.png")
    _assert_readable(rendered, 1)


# ---- training, inductive bias --------------------------------------------------------------------------------

def _train_ds(n=4, steps=(0, 1, 2, 5, 12, 30, 60)):
    s = np.asarray(steps, np.float64)
    decay = np.exp(-s / 20.0)[None, :] * RNG.uniform(0.8, 1.2, (n, 1))
    ds = xr.Dataset({"train_loss": (("net", "step"), decay), "test_loss": (("net", "step"), decay * 1.1),
                     "train_accuracy": (("net", "step"), 1 - decay * 0.7), "test_accuracy": (("net", "step"), 1 - decay * 0.8),
                     "param_distance": (("net", "step"), 1 - decay), "ntk_distance": (("net", "step"), (1 - decay) * 1e-3),
                     "mean_frequency": (("net", "step"), 0.33 + 0.01 * RNG.normal(size=(n, len(s)))),
                     "class_fractions": (("net", "step", "class"), RNG.dirichlet(np.ones(3), (n, len(s))))},
                    coords={"net": np.arange(n), "step": np.asarray(steps),
                            "learning_rate": ("net", np.repeat([0.05, 0.5], n // 2))})
    ds.attrs["config"] = _config(data={"name": "gaussian_mixture"}, optimizer={"name": "sgd", "hyperparams": {}},
                                 loss="mse")
    return ds


def test_training_figures(rendered, tmp_path):
    from jaxbias.plot_training import plot_training

    plot_training(_train_ds(), tmp_path)
    _assert_readable(rendered, 2)


def test_inductive_bias_figures(rendered, tmp_path):
    from jaxbias.plot_inductive_bias import plot_bits_intervals, plot_bits_vs_epsilon, plot_bits_vs_n_train

    eps = np.geomspace(0.05, 0.3, 4)
    bits = np.stack([[515.0, 91.0, 2.4, 0.0002], [510.0, 87.0, 0.5, 0.0]], axis=1)
    ds = xr.Dataset({"bits": (("epsilon", "tail_method"), bits), "bits_error": (("epsilon", "tail_method"), bits * 0)},
                    coords={"epsilon": eps, "tail_method": ["inversion", "chernoff"]})
    plot_bits_vs_epsilon(ds, tmp_path / "e.png")
    extra = xr.Dataset({"recommended_bits": (("n_train", "epsilon"), np.array([[118, 34, 8.8, 1.8], [515, 91, 2.4, 0]]))},
                       coords={"n_train": [8, 24], "epsilon": eps})
    plot_bits_vs_n_train(extra, tmp_path / "n.png")
    eps = np.geomspace(0.2, 2.0, 3)
    net = xr.Dataset({"bits": ("epsilon", [0.78, 0.0, np.nan]), "bits_lo": ("epsilon", [0.24, 0.0, 0.1]),
                      "bits_hi": ("epsilon", [1.85, 0.44, np.inf]),
                      "estimate": ("epsilon", ["empirical", "extrapolation", "bound"])}, coords={"epsilon": eps})
    plot_bits_intervals(net, tmp_path / "i.png", xlabel="target test error epsilon (mse)")
    _assert_readable(rendered, 3)
    axes = rendered[0]["fig"].axes[0]
    assert axes.get_ylim()[0] >= -1e-9  # bits are >= 0: no empty negative half


# ---- training dynamics ---------------------------------------------------------------------------------------

def test_redshift_training_figure(rendered, tmp_path):
    from jaxbias.plot_dynamics.redshift_training import plot_redshift_training

    steps = np.array([0, 1, 2, 5, 10])
    dims = ("activation", "scale", "net", "step")
    data = {m: (dims, base + 0.05 * RNG.normal(size=(1, 2, 3, 5))) for m, base in
            (("mean_frequency", 0.35), ("polynomial_order", 2.5), ("lz", 39.0))}
    ds = xr.Dataset({**data, **{f"target_{m}": ((), v) for m, v in
                                (("mean_frequency", 0.36), ("polynomial_order", 4.5), ("lz", 27.0))}},
                    coords={"activation": ["relu"], "scale": [1.0, 4.0], "net": np.arange(3), "step": steps})
    ds.attrs.update(target="sine:2", scale_meaning="scale = C_W: weights N(0, C_W / fan_in) (fan-in law)",
                    ramp_mean_frequency=0.34, noise_mean_frequency=0.55, ramp_lz=18.0, noise_lz=75.0)
    plot_redshift_training(ds, tmp_path)
    _assert_readable(rendered, 1)


def test_ntk_motion_figure(rendered, tmp_path):
    from jaxbias.plot_dynamics.ntk_motion import plot_ntk_motion

    widths, steps = np.array([8, 16, 32]), np.arange(4)
    change = np.stack([RNG.uniform(0.5, 1.5, (3, 3, 4)) * 0.3 / widths[:, None, None] ** p for p in (0.5, 1.0)])
    p = ("parameterization",)
    ds = xr.Dataset({"ntk_relative_change": (("parameterization", "width", "net", "step"), change),
                     "function_space_rate": (("parameterization", "width"), np.full((2, 3), 0.5)),
                     "slope": (p, [-0.6, -1.5]), "slope_low": (p, [-1.2, -2.6]), "slope_high": (p, [-0.1, -0.5]),
                     "intercept": (p, [-1.8, 0.0])},
                    coords={"parameterization": ["ntk", "standard"], "width": widths, "net": np.arange(3),
                            "step": steps}, attrs={"lr_rule": "function_space"})
    plot_ntk_motion(ds, tmp_path / "m.png")
    _assert_readable(rendered, 1)


def test_igb_training_figure(rendered, tmp_path):
    from jaxbias.plot_dynamics.igb_training import plot_igb_training

    steps = np.arange(11)
    c = ("config", "step")
    gamma = np.stack([np.linspace(0.6, 0.45, 11), np.full(11, -0.03)])
    ds = xr.Dataset({"max_fraction": (("config", "net", "step"), RNG.uniform(0.5, 0.9, (2, 6, 11))),
                     "max_g": (c, np.stack([np.full(11, 0.75), np.full(11, 0.57)])),
                     "gamma": (c, gamma), "gamma_low": (c, gamma - 0.3), "gamma_high": (c, gamma + 0.15),
                     "gamma_theory": ("config", [0.95, -0.015])},
                    coords={"config": ["relu (prejudiced)", "tanh (neutral)"], "net": np.arange(6), "step": steps,
                            "class": [0, 1]}, attrs={"n_points": 32})
    ds = ds.assign_coords(class_=("class", [0, 1]))
    plot_igb_training(ds, tmp_path / "g.png")
    _assert_readable(rendered, 1)


def test_simplicity_figure(rendered, tmp_path):
    from jaxbias.plot_dynamics.simplicity import plot_simplicity

    steps = np.array([0, 1, 2, 4, 6, 10])
    acc = np.clip(0.53 + 0.01 * steps[None, None, :] + 0.02 * RNG.normal(size=(3, 2, 6)), 0, 1)
    ds = xr.Dataset({"test_accuracy": (("distribution", "net", "step"), acc),
                     "separation_step": ("clone", [6.0, np.inf]), "separation_low": ("clone", [2.0, 1.0]),
                     "separation_high": ("clone", [6.0, np.inf]),
                     "accuracy_gap": (("clone", "step"), 0.02 * RNG.normal(size=(2, 6))),
                     "accuracy_gap_se": (("clone", "step"), np.full((2, 6), 0.015))},
                    coords={"distribution": ["data", "mean", "gaussian"], "clone": ["mean", "gaussian"],
                            "net": np.arange(2), "step": steps})
    ds.attrs["config"] = _config(separation={"k": 3.0, "min_difference": 0.01},
                                 data={"name": "cumulants", "n_classes": 2},
                                 optimizer={"name": "sgd", "hyperparams": {"learning_rate": 0.05}}, loss="mse")
    plot_simplicity(ds, tmp_path / "s.png")
    _assert_readable(rendered, 1)


def test_spectral_bias_figure(rendered, tmp_path):
    from jaxbias.plot_dynamics.spectral_bias import plot_spectral_bias

    steps, widths, freqs = np.array([0, 1, 2, 4, 10, 20]), np.array([16, 32]), np.array([1.0, np.sqrt(5), 3.0])
    decay = np.exp(-steps[:, None] / (3.0 * freqs[None, :]))
    ds = xr.Dataset({"residual": (("width", "net", "step", "frequency"), decay[None, None] * RNG.uniform(0.8, 1.2, (2, 2, 6, 3))),
                     "ntk_residual": (("width", "step", "frequency"), np.stack([decay, decay])),
                     "learned_step": (("width", "frequency"), [[4.0, 10.0, np.inf], [4.0, 9.0, 20.0]]),
                     "ntk_learned_step": (("width", "frequency"), [[4.0, 10.0, 20.0]] * 2),
                     "ntk_deviation": ("width", [0.7, 0.5]), "ntk_mc_error": ("width", [1.7, 1.4]),
                     "ntk_excess": ("width", [0.006, 0.06])},
                    coords={"width": widths, "net": np.arange(2), "step": steps, "frequency": freqs})
    ds.attrs["config"] = _config(threshold=0.1, data={"points_per_axis": 8}, embedding="periodic", steps=20,
                                 net={"type": "MLP", "depth": 1, "activation": "relu", "parameterization": "ntk"})
    plot_spectral_bias(ds, tmp_path / "b.png")
    _assert_readable(rendered, 1)


def test_the_checker_finds_a_clipped_title_and_overlapping_ticks(rendered, tmp_path):
    """The checks themselves: a long title on a small canvas and crowded tick labels are reported."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2))
    fig.suptitle("a title far too long for a figure three inches wide, clipped at both of its sides")
    ax.set_xticks(np.linspace(0, 1, 40), [f"{v:.3f}" for v in np.linspace(0, 1, 40)])
    fig.savefig(tmp_path / "bad.png", dpi=110)
    plt.close(fig)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        problems = figure_problems(rendered[0])
    assert any("clipped" in p for p in problems) and any("tick labels overlap" in p for p in problems)
