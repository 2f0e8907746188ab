"""One compile per structure (issue 15): compiles counted through JAX's monitoring events.

``jb.caches.count_compiles()`` records every XLA compilation (JAX's backend-compile event). The
engine's per-chunk program is ``jit(chunk_program)``; a repeated call must compile nothing at all.

Measured behaviour, asserted here:

* the README's engine examples, run a second time: no compile;
* equal specs built separately (constructor, factory, ``from_dict``) and equal measure values: one
  compile between them;
* a sweep over 4 specs of one shape that differ only in ``weight_var``: one compile per distinct
  spec (the weight scale is part of the spec, a constant of the compiled program), none when the
  sweep runs again; the same 4 scales as one ``scaled_net`` (all scales from one draw): one compile;
* an inline ``lambda`` as ``stat``: one compile per new function object (as documented);
* ``jb.clear_caches()``: the next call compiles again.
"""

from __future__ import annotations

import pathlib
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxbias as jb
from jaxbias.experiments.redshift import scaled_net

ROOT = pathlib.Path(__file__).resolve().parents[1]
PROGRAM = "jit(chunk_program)"
X = np.asarray(jb.inputs.grid(2, 8))  # (64, 2)


def _engine_examples() -> list[str]:
    """The README's python blocks that run the engine, with network counts cut to 16 (same code otherwise)."""
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    engine = [b for b in blocks if re.search(r"jb\.(sample|reduce|summarize)\(", b)]
    return [re.sub(r"\bn=\d+", "n=16", b) for b in engine]


EXAMPLES = _engine_examples()


def test_readme_has_engine_examples():
    assert len(EXAMPLES) >= 3  # quickstart, measures, guessing bias


@pytest.mark.parametrize("index", range(len(EXAMPLES)))
def test_readme_examples_compile_nothing_the_second_time(index):
    code = compile(EXAMPLES[index], f"README.md example {index}", "exec")
    exec(code, {})  # noqa: S102 - the README's own example
    with jb.caches.count_compiles() as again:
        exec(code, {})  # noqa: S102
    assert again == [], f"the second run of README example {index} compiled {again}"


def test_equal_specs_built_separately_compile_once():
    jb.clear_caches()
    a = jb.nets.MLP(width=24, depth=2, activation="tanh", bias_var=0.05)
    specs = [a, jb.nets.mlp(24, 2, "tanh", bias_var=0.05), jb.nets.from_dict(jb.nets.to_dict(a))]
    assert specs[1] is not a and specs[2] is not a and all(s == a for s in specs)
    stat = jb.measures.MeanFrequency(shape=(8, 8))
    with jb.caches.count_compiles() as compiled:
        values = [jb.reduce(s, X, n=12, key=3, stat=jb.measures.MeanFrequency((8, 8)), progress=False)
                  for s in specs]
    assert compiled.count(PROGRAM) == 1
    for v in values[1:]:
        np.testing.assert_array_equal(v, values[0])
    with jb.caches.count_compiles() as again:
        jb.reduce(jb.nets.MLP(24, 2, "tanh", bias_var=0.05), X, n=12, key=7, stat=stat, progress=False)
    assert again == []  # another key, another equal spec and measure value: no compile


def test_sweep_over_equal_shaped_specs_compiles_once_per_spec():
    jb.clear_caches()
    scales = np.linspace(0.5, 2.5, 4).tolist()  # each distinct spec costs a compile (~1 s): 4 show the rule
    stat = jb.measures.NearConstant()
    opts = jb.RunOptions(chunk_size=8, devices=jax.devices()[:1], progress=False, micro_batch=None)

    def sweep():
        return [jb.reduce(jb.nets.MLP(8, 1, "tanh", weight_var=s, bias_var=0.1), X, n=8, key=0, stat=stat,
                          options=opts) for s in scales]

    with jb.caches.count_compiles() as first:
        values = sweep()
    assert first.count(PROGRAM) == len(scales)  # weight_var is part of the spec: one program per distinct spec
    with jb.caches.count_compiles() as again:
        assert all(np.array_equal(a, b) for a, b in zip(sweep(), values))
    assert again == []
    # The same scales as one network evaluated at every scale from one draw: one program.
    base = jb.nets.MLP(8, 1, "tanh", weight_var=1.0, bias_var=0.1)
    with jb.caches.count_compiles() as scaled:
        y = jb.sample(scaled_net(base, scales), X, n=8, key=0, options=opts)
    assert scaled.count(PROGRAM) == 1 and y.shape == (8, 64, len(scales))


def test_inline_lambda_compiles_once_per_new_function():
    jb.clear_caches()
    net = jb.nets.MLP(8, 1, "relu")
    with jb.caches.count_compiles() as compiled:
        for _ in range(2):
            jb.reduce(net, X, n=8, stat=lambda y: jnp.mean(y), progress=False)  # a new function each time
    assert compiled.count(PROGRAM) == 2

    def stat(y):  # defined once: one program
        return jnp.mean(y)

    with jb.caches.count_compiles() as compiled:
        for _ in range(2):
            jb.reduce(net, X, n=8, stat=stat, progress=False)
    assert compiled.count(PROGRAM) == 1


def test_clear_caches_makes_the_next_call_compile_again():
    net, stat = jb.nets.MLP(8, 2, "gelu"), jb.measures.PolynomialOrder(shape=(8, 8), degree=3)
    jb.reduce(net, X, n=8, stat=stat, progress=False)
    with jb.caches.count_compiles() as warm:
        jb.reduce(net, X, n=8, stat=stat, progress=False)
    assert warm == []
    jb.clear_caches()
    assert all(info.currsize == 0 for info in jb.caches.cache_info().values())
    with jb.caches.count_compiles() as cold:
        jb.reduce(net, X, n=8, stat=stat, progress=False)
    assert cold.count(PROGRAM) == 1


def test_every_cache_is_bounded_and_listed():
    info = jb.caches.cache_info()
    assert "jaxbias.engine._chunk_program" in info
    assert all(isinstance(i.maxsize, int) and i.maxsize >= 1 for i in info.values())
    with pytest.raises(ValueError, match="maxsize=None"):
        jb.caches.bounded_cache(None)


def test_equal_specs_share_the_empirical_ntk_and_kernel_moments_programs():
    x = jb.inputs.sphere(3, 6)
    params = jb.nets.MLP(16, 2, "relu").init(jax.random.key(0), x)
    jb.kernels.empirical_ntk(jb.nets.MLP(16, 2, "relu"), params, x)
    jb.kernels.ntk_moments(jb.nets.MLP(16, 2, "relu"), x, n=8, progress=False)
    with jb.caches.count_compiles() as again:
        k = jb.kernels.empirical_ntk(jb.nets.MLP(16, 2, "relu"), params, x)
        jb.kernels.ntk_moments(jb.nets.MLP(16, 2, "relu"), x, n=8, progress=False)
    assert again == [] and k.shape == (6, 6)
