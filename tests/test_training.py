"""The ensemble training engine: invariances (chunks, devices, ensemble size, resume), a slow obvious
reference for gradient descent, per-network hyperparameters, divergence and bad input."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import pathlib

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxbias as jb
from jaxbias.datasets import from_arrays
from jaxbias.training import SEGMENT, Optimizer, train
from test_distributed import free_port

NET = jb.nets.MLP(8, 1, "tanh", out=3, bias_var=0.1)


def blobs(n_train=24, n_test=12, dim=4, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, dim)) * 2
    y = rng.integers(0, classes, n_train + n_test)
    x = centres[y] + rng.normal(size=(len(y), dim))
    return from_arrays(x[:n_train], y[:n_train], x[n_train:], y[n_train:], standardize=False)


DATA = blobs()
SGD = Optimizer("sgd", learning_rate=0.1, momentum=0.9)


def run(n=5, **kw):
    args = dict(n=n, key=3, steps=20, batch_size=8, record=(0, 1, 7, 20), loss="cross_entropy", progress=False)
    args.update(kw)
    return train(NET, DATA, SGD, **args)


def assert_same(a, b, nets=None):
    for name in a.data_vars:
        va, vb = a[name].values, b[name].values
        if nets is not None:
            va, vb = va[nets], vb[nets]
        np.testing.assert_array_equal(va, vb, err_msg=name)


def test_result_layout_and_config():
    ds = run(probe=DATA.x_test[:4], measures={"outputs": None}, ntk_points=6)
    assert ds.sizes == {"net": 5, "step": 4, "point": 4, "out": 3}
    assert ds["outputs"].dims == ("net", "step", "point", "out")
    np.testing.assert_array_equal(ds["step"].values, [0, 1, 7, 20])
    for name in ("train_loss", "train_accuracy", "test_loss", "test_accuracy", "param_distance",
                 "param_distance_relative", "ntk_distance", "ntk_relative_change", "ntk_velocity", "ntk_alignment"):
        assert ds[name].dims == ("net", "step"), name
    # At step 0 nothing has moved; the kernel velocity is undefined there.
    chex.assert_trees_all_equal(ds["param_distance"].values[:, 0], np.zeros(5, np.float32))
    # 1 - <K, K> / |K|^2 in float32: zero up to rounding
    np.testing.assert_allclose(ds["ntk_distance"].values[:, 0], 0.0, atol=4 * np.finfo(np.float32).eps)
    assert np.isnan(ds["ntk_velocity"].values[:, 0]).all()
    assert np.isfinite(ds["ntk_velocity"].values[:, 1:]).all()
    config = jb.results.config_of(ds) if hasattr(jb, "results") else None
    config = config or __import__("json").loads(ds.attrs["config"])
    assert config["optimizer"] == {"name": "sgd", "hyperparams": {"learning_rate": 0.1, "momentum": 0.9}}
    assert config["loss"] == "cross_entropy" and config["steps"] == 20 and config["batch_size"] == 8
    assert config["data"]["name"] == "arrays"
    assert jb.io.net_of(ds) == NET
    assert (ds["diverged_step"].values == -1).all()


def test_initial_state_is_jb_sample():
    probe = DATA.x_test
    ds = run(probe=probe, measures={"outputs": None}, record=(0, 20))
    y0 = jb.sample(NET, probe, n=5, key=3, progress=False)
    # The same parameters; the forward pass runs in another batch shape, so it may round differently.
    np.testing.assert_allclose(ds["outputs"].values[:, 0], y0, rtol=1e-5, atol=1e-6)


def test_same_result_whatever_chunk_size_and_device_count():
    reference = run(n=11)
    one_device = run(n=11, options=jb.RunOptions(devices=jax.devices()[:1]))
    small_chunks = run(n=11, options=jb.RunOptions(chunk_size=3))
    assert_same(reference, one_device)
    assert_same(reference, small_chunks)


def test_one_network_alone_equals_it_inside_an_ensemble_of_1000():
    alone = run(n=1, steps=10, record=(0, 10))
    crowd = run(n=1000, steps=10, record=(0, 10))
    assert crowd.sizes["net"] == 1000
    assert_same(alone, crowd.isel(net=[0]))


def test_full_batch_gradient_descent_matches_a_plain_optax_loop():
    """Reference: one network at a time, optax.sgd in a Python loop (a slow, obvious implementation)."""
    steps, lr = 12, 0.05
    ds = train(NET, DATA, Optimizer("sgd", learning_rate=lr), n=3, key=2, steps=steps, loss="mse",
               probe=DATA.x_test, measures={"outputs": None}, record=(0, 5, steps), progress=False)
    x, y = jnp.asarray(DATA.x_train), jax.nn.one_hot(DATA.y_train, 3)
    opt = optax.sgd(lr)
    for i in range(3):
        params = NET.init(jax.random.fold_in(jb.keys.as_key(2), i), x)
        state = opt.init(params)
        loss = lambda p: 0.5 * jnp.mean((NET.apply(p, x) - y) ** 2)  # noqa: E731
        outs = {0: NET.apply(params, DATA.x_test)}
        for t in range(1, steps + 1):
            updates, state = opt.update(jax.grad(loss)(params), state)
            params = optax.apply_updates(params, updates)
            outs[t] = NET.apply(params, DATA.x_test)
        for j, t in enumerate((0, 5, steps)):
            np.testing.assert_allclose(ds["outputs"].values[i, j], outs[t], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(ds["train_loss"].values[i, -1], loss(params), rtol=1e-5)


def test_minibatches_cover_each_epoch_once():
    """With loss = mean of the inputs' first feature, the epoch-mean loss is the data mean only if every
    point is seen exactly once per epoch. Inputs: distinct powers of two (sums identify the batch)."""
    n_train, batch = 8, 2
    x = (2.0 ** np.arange(n_train)).reshape(-1, 1).astype(np.float32)
    data = from_arrays(x, np.zeros((n_train, 1), np.float32), x[:2], np.zeros((2, 1), np.float32), standardize=False)
    seen = []
    # A linear "network" f = w x with lr 1 and loss -mean(f) moves w by the batch mean of x at every step,
    # so batch * (w_t - w_(t-1)) is the batch's sum of distinct powers of two: its bits name the points.
    net = jb.nets.MLP(1, 0, "relu", bias=False)
    ds = train(net, data, Optimizer("sgd", learning_rate=1.0), n=2, key=0, steps=8, batch_size=batch,
               loss=lambda f, y: -jnp.mean(f), probe=np.ones((1, 1), np.float32), measures={"outputs": None},
               record=np.arange(9), progress=False)
    w = ds["outputs"].values[:, :, 0, 0]  # (net, step): the weight itself (probe x = 1)
    for i in range(2):
        moves = np.round(np.diff(w[i]) * batch).astype(np.int64)  # batch sums of distinct powers of two
        for epoch in range(2):
            sums = moves[epoch * 4:(epoch + 1) * 4]
            # disjoint batches of `batch` points each that together hold every point: sums add to 2^8 - 1
            assert sums.sum() == np.bitwise_or.reduce(sums) == 2 ** n_train - 1, (i, epoch, sums)
            assert all(bin(s).count("1") == batch for s in sums), (i, epoch, sums)
        seen.append(tuple(moves))
    assert seen[0] != seen[1], "per-network data order: the two networks should see different batches"
    shared = train(net, data, Optimizer("sgd", learning_rate=1.0), n=2, key=0, steps=8, batch_size=batch,
                   data_order="shared", loss=lambda f, y: -jnp.mean(f), probe=np.ones((1, 1), np.float32),
                   measures={"outputs": None}, record=np.arange(9), progress=False)
    ws = shared["outputs"].values[:, :, 0, 0]
    np.testing.assert_array_equal(np.round(np.diff(ws[0]) * batch), np.round(np.diff(ws[1]) * batch))


def test_the_same_initial_networks_train_on_two_datasets():
    other = blobs(seed=1)
    a = run(n=3, probe=DATA.x_test, measures={"outputs": None}, record=(0, 20))
    b = train(NET, other, SGD, n=3, key=3, steps=20, batch_size=8, record=(0, 20), loss="cross_entropy",
              probe=DATA.x_test, measures={"outputs": None}, progress=False)
    np.testing.assert_array_equal(a["outputs"].values[:, 0], b["outputs"].values[:, 0])
    assert np.abs(a["outputs"].values[:, 1] - b["outputs"].values[:, 1]).max() > 0.1


def test_probe_measures_and_batch_norm_in_training_mode():
    """A jb.measures value on a probe grid, recorded per network and step; batch norm uses each batch's statistics."""
    grid = jb.inputs.grid(dim=2, resolution=8)
    data = jb.datasets.gaussian_mixture(n_classes=2, dim=2, n_train=32, n_test=16, key=0)
    net = jb.nets.MLP(16, 2, "relu", out=2, norm="batch_pre")
    measure = jb.measures.MeanFrequency(shape=(8, 8))
    ds = train(net, data, SGD, n=4, key=0, steps=10, batch_size=8, loss="cross_entropy", probe=grid,
               measures={"mean_frequency": measure, "outputs": None}, record=(0, 10), progress=False)
    assert ds["mean_frequency"].dims == ("net", "step")
    for i in range(4):
        for t in range(2):
            expected = measure(jnp.asarray(ds["outputs"].values[i, t]))
            np.testing.assert_allclose(ds["mean_frequency"].values[i, t], expected, rtol=1e-5)
    assert np.isfinite(ds["train_loss"].values).all() and (ds["diverged_step"].values == -1).all()


def test_varied_learning_rate_equals_separate_runs():
    lrs = np.array([0.0, 0.03, 0.1, 0.3], np.float32)
    sweep = run(n=4, vary={"learning_rate": lrs})
    np.testing.assert_array_equal(sweep["learning_rate"].values, lrs)
    for i, lr in enumerate(lrs):
        alone = train(NET, DATA, Optimizer("sgd", learning_rate=float(lr), momentum=0.9), n=4, key=3, steps=20,
                      batch_size=8, record=(0, 1, 7, 20), loss="cross_entropy", progress=False)
        for name in ("test_loss", "train_loss", "param_distance"):
            np.testing.assert_array_equal(sweep[name].values[i], alone[name].values[i], err_msg=f"{name} lr={lr}")


def test_a_diverging_network_is_recorded_and_the_others_go_on():
    lrs = np.array([0.01, 1e30, 0.01], np.float32)
    with pytest.warns(RuntimeWarning, match="1 of 3 networks diverged"):
        ds = train(NET, DATA, Optimizer("sgd", learning_rate=0.1), n=3, key=0, steps=6, loss="mse",
                   vary={"learning_rate": lrs}, record=(0, 6), progress=False)
    assert ds["diverged_step"].values.tolist()[0] == -1 and ds["diverged_step"].values[1] >= 0
    assert np.isfinite(ds["train_loss"].values[[0, 2]]).all()
    calm = train(NET, DATA, Optimizer("sgd", learning_rate=0.01), n=3, key=0, steps=6, loss="mse", record=(0, 6),
                 progress=False)
    np.testing.assert_array_equal(ds["train_loss"].values[[0, 2]], calm["train_loss"].values[[0, 2]])


RESUME_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    import numpy as np
    import jaxbias as jb
    from jaxbias.datasets import from_arrays
    from jaxbias.training import Optimizer, checkpoints, train

    checkpoint, out, kill_at = sys.argv[1], sys.argv[2], sys.argv[3]
    jb.use_cpu_devices(2)
    saves = 0
    write = checkpoints.atomic_write_bytes

    def killing_write(data, path):  # SIGKILL at a chosen moment of the run's saves
        global saves
        saves += 1
        if kill_at == f"writing:{saves}":  # mid-write: half the bytes in the temporary file
            with open(os.path.join(os.path.dirname(path), ".partial"), "wb") as f:
                f.write(data[: len(data) // 2])
            os.kill(os.getpid(), signal.SIGKILL)
        write(data, path)
        if kill_at == f"after:{saves}":
            os.kill(os.getpid(), signal.SIGKILL)

    checkpoints.atomic_write_bytes = killing_write
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3)).astype(np.float32)
    y = rng.integers(0, 2, 40)
    data = from_arrays(x[:32], y[:32], x[32:], y[32:], standardize=False)
    ds = train(jb.nets.MLP(8, 1, "tanh", out=2), data, Optimizer("sgd", learning_rate=0.05, momentum=0.9), n=6,
               key=5, steps=3 * SEGMENT + 5, batch_size=4, loss="cross_entropy", record=12,
               options=jb.RunOptions(chunk_size=2, micro_batch=1), checkpoint=checkpoint, checkpoint_every=0,
               progress=False)
    jb.save(ds, out)
    """
).replace("SEGMENT", str(SEGMENT))


def _run_script(script, *args):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run([sys.executable, str(script), *map(str, args)], env=env, capture_output=True, text=True,
                          timeout=300)


# Saves per chunk of 4 segments: after segments 1, 2 and 3 (inside the chunk) and after the chunk.
@pytest.mark.parametrize("kill_at", ["after:2", pytest.param("after:4", marks=pytest.mark.slow),
                                     pytest.param("writing:7", marks=pytest.mark.slow)])
def test_a_killed_run_resumes_bitwise(tmp_path, kill_at):
    script = tmp_path / "run.py"
    script.write_text(RESUME_SCRIPT)
    ckpt, resumed_out, clean_out = tmp_path / "run.ckpt", tmp_path / "resumed.nc", tmp_path / "clean.nc"
    killed = _run_script(script, ckpt, resumed_out, kill_at)
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    assert ckpt.exists() and not resumed_out.exists()
    for args in ((ckpt, resumed_out, "never"), (tmp_path / "other.ckpt", clean_out, "never")):
        done = _run_script(script, *args)
        assert done.returncode == 0, done.stdout + done.stderr
    resumed, clean = jb.load(resumed_out), jb.load(clean_out)
    assert_same(resumed, clean)
    assert resumed.attrs["config"] == clean.attrs["config"]


def training_run(checkpoint=None):
    """The run of the two-process test (tests/scripts/two_process_train_worker.py runs it in each process)."""
    return run(n=19, steps=SEGMENT + 3, record=(0, 5, SEGMENT + 3), probe=DATA.x_test[:3], measures={"outputs": None},
               options=jb.RunOptions(chunk_size=8, micro_batch=2), checkpoint=checkpoint, checkpoint_every=0)


@pytest.mark.slow
def test_two_processes_train_the_same_networks_as_one(tmp_path):
    port, out = free_port(), tmp_path / "two.nc"
    worker = pathlib.Path(__file__).parent / "scripts" / "two_process_train_worker.py"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [subprocess.Popen([sys.executable, str(worker), str(i), str(port), str(out), str(tmp_path / "c.ckpt")],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env) for i in range(2)]
    try:
        logs = [p.communicate(timeout=400)[0] for p in procs]
    finally:
        for p in procs:
            p.kill()
    assert all(p.returncode == 0 for p in procs), "\n".join(logs)[-3000:]
    assert_same(jb.load(out), training_run())


def test_checkpoint_of_another_run_is_refused(tmp_path):
    ckpt = tmp_path / "a.ckpt"
    run(n=2, checkpoint=ckpt)
    with pytest.raises(ValueError, match="other arguments: differs in .*steps"):
        run(n=2, steps=21, checkpoint=ckpt)
    again = run(n=2, checkpoint=ckpt)  # finished checkpoint: the same result, nothing retrained
    assert_same(again, run(n=2))


@pytest.mark.parametrize("kwargs, match", [
    (dict(data=(1, 2)), "data=tuple: expected a jaxbias.datasets.Dataset"),
    (dict(optimizer=optax.sgd), "optimizer=.*expected jb.training.Optimizer"),
    (dict(optimizer=Optimizer("sgd", learning_rate=0.1), vary={"momentum": [0.1] * 5}),
     "no injected hyperparameter 'momentum'"),
    (dict(vary={"learning_rate": [0.1, 0.2]}), r"vary\['learning_rate'\] with shape \(2,\)"),
    (dict(record=(0, 99)), r"record=\(0, 99\): steps must lie in \[0, steps=20\]"),
    (dict(epochs=2), "give exactly one of them"),
    (dict(batch_size=100), "batch_size=100: the training set has only 24 points"),
    (dict(loss="hinge"), "loss='hinge'"),
    (dict(probe=np.zeros((3, 5), np.float32)), r"probe with shape \(3, 5\)"),
    (dict(measures={"m": None}), "measures= given without probe="),
    (dict(data_order="random"), "data_order='random'"),
    (dict(n=0), "n=0"),
    (dict(ntk_points=1), "ntk_points"),
])
def test_bad_input_is_a_clear_error(kwargs, match):
    args = dict(net=NET, data=DATA, optimizer=SGD, n=5, steps=20, batch_size=8, progress=False)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        train(args.pop("net"), args.pop("data"), args.pop("optimizer"), **args)


def test_inputs_that_do_not_fit_the_net_are_named():
    net = jb.nets.MLP(8, 1, "tanh", out=3, in_dim=7)
    with pytest.raises(ValueError, match=r"mlp expects inputs of shape \(n_points, 7\)"):
        train(net, DATA, SGD, n=2, steps=2, progress=False)


def test_unwritable_checkpoint_path_is_an_error(tmp_path):
    with pytest.raises((ValueError, OSError), match="checkpoint|missing|directory|writ"):
        run(n=2, checkpoint=tmp_path / "no" / "such" / "dir" / "x.ckpt")
