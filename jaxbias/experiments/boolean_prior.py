"""The prior over Boolean functions of random networks (Valle-Perez, Camargo & Louis, ICLR 2019).

A network evaluated on all ``2^n_inputs`` points of ``{0,1}^n_inputs`` (lexicographic order)
defines the Boolean function ``f(x) = 1[net(x) > 0]``. Sampling many networks and counting how
often each truth table occurs estimates the prior ``P(f)`` the architecture and initialization
put on functions; Valle-Perez et al. found it spans many orders of magnitude and is bounded by
``2^(-a K(f) - b)`` in a complexity ``K`` (simplicity bias), with constant functions dominating
when the bias variance is large.

The counting streams inside the compiled program (:func:`jaxbias.summaries.count_distinct`):
each chunk's truth tables are packed into uint32 words and de-duplicated on device, only distinct
tables and their counts leave it, so 10^7 networks run in memory bounded by a chunk and the
number of distinct functions. Complexities (Valle-Perez LZ, average sensitivity, entropy) are
computed once per distinct function afterwards, in one jitted vmap.
"""

from __future__ import annotations

import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from jaxbias import engine, inputs
from jaxbias import measures as jm
from jaxbias.grid import cells, split
from jaxbias.nets.mlp import MLP
from jaxbias.results import result_attrs, to_json
from jaxbias.summaries import count_distinct, unpack_bits
from jaxbias.sweep import run_sweep
from jaxbias.validation import check_float, check_int, check_n

__all__ = ["boolean_prior_cell", "boolean_prior", "boolean_prior_net", "function_complexities", "MAX_EXACT_INPUTS"]

MAX_EXACT_INPUTS = 10
"""Up to 10 inputs (1024-bit tables) functions are counted exactly and their complexities computed;
beyond, tables are counted by 128-bit hashes and cannot be unpacked (complexities are then NaN)."""

_BATCH = 4096


@functools.lru_cache(maxsize=8)
def _complexity_program(n_bits: int):
    def one(table):
        return jm.lz_complexity(table), jm.sensitivity(table), jm.entropy(table)

    return jax.jit(jax.vmap(one))


def function_complexities(tables: np.ndarray) -> dict:
    """Valle-Perez LZ complexity, average sensitivity and entropy of truth tables ``(m, 2^n)`` bool.

    Runs in batches of 4096 tables (one compiled program per table length).

    Returns:
      ``{"lz_complexity", "sensitivity", "entropy"}``, each ``(m,)`` float32.
    """
    tables = np.asarray(tables, bool)
    m, bits = tables.shape
    program = _complexity_program(bits)
    out = {k: np.zeros(m, np.float32) for k in ("lz_complexity", "sensitivity", "entropy")}
    for start in range(0, m, _BATCH):
        block = tables[start:start + _BATCH]
        padded = np.zeros((_BATCH, bits), bool)
        padded[: len(block)] = block
        for name, values in zip(out, program(padded)):
            out[name][start:start + len(block)] = np.asarray(values)[: len(block)]
    return out


def _positive(y):
    """The stat of a cell: one network's truth table ``f(x) = 1[net(x) > 0]`` of its first output, ``(n_points,)``,
    and whether its outputs are finite (a NaN output would read as 0: the network is not counted, only tallied)."""
    return y[:, 0] > 0, jnp.all(jnp.isfinite(y[:, 0]))


def boolean_prior_cell(net, *, n: int = 10**6, n_inputs: int = 7, keep: int = 2**17, key=0, chunk_size=None,
                       memory_budget=None, progress=None) -> xr.Dataset:
    """Frequencies of the Boolean functions of ``n`` random networks on ``{0,1}^n_inputs``.

    Args:
      net: the network spec, with inputs of dimension ``n_inputs``; its first output's sign is the
        function (e.g. ``jb.nets.MLP(40, 2, "relu", bias_var=1.0)``: weights ``N(0, C_W / fan_in)``,
        biases ``N(0, C_b)``, as in Valle-Perez et al. with ``sigma_b^2 = C_b``).
      n: networks (default 10^6).
      n_inputs: input bits (1 .. 20); all ``2^n_inputs`` inputs are enumerated.
      keep: most rows kept, the most frequent functions first: the result has
        ``min(keep, n_distinct)`` rows, every one a function that occurred (no padding).
      key: int seed or JAX key; network ``i`` uses ``fold_in(key, i)``.
      chunk_size, memory_budget, progress: engine options (:func:`jaxbias.summarize`).

    Returns:
      Dataset with dim ``function`` (by decreasing count; ties by truth table): ``occurrences``,
      ``probability`` (count / n), ``lz_complexity`` (Valle-Perez, LZ76), ``sensitivity``
      (average sensitivity, in [0, n_inputs]), ``entropy``, ``table`` (packed truth table,
      ``(function, word)`` uint32, bit ``j`` of word ``k`` = input ``32k + j``); scalars
      ``n_distinct``, ``n_networks``, ``p_constant`` (probability of the two constant functions),
      ``n_non_finite``: networks with a NaN or infinite output (overflow at large weights), which
      compute no Boolean function: they are left out, and probabilities are over the other
      ``n_networks - n_non_finite`` networks (a ``RuntimeWarning`` says so).
    """
    n = check_n(n)
    n_inputs = check_int("n_inputs", n_inputs, 1, inputs.MAX_HYPERCUBE_BITS)
    keep = min(check_int("keep", keep, 1), n)
    x = inputs.hypercube(n_inputs)
    res = engine.summarize(net, x, n=n, key=key, stat=_positive, summary=count_distinct(),
                           chunk_size=chunk_size, memory_budget=memory_budget, progress=progress)
    keys, counts = res["keys"], res["counts"]
    n_non_finite = int(res["excluded"])
    n_scored = n - n_non_finite
    if n_non_finite:
        warnings.warn(f"boolean_prior_cell: {n_non_finite} of {n} networks had NaN or infinite outputs and compute no "
                      "Boolean function; they are left out (n_non_finite) and probabilities are over the other "
                      f"{n_scored}", RuntimeWarning, stacklevel=2)
    n_distinct = len(counts)
    rows = min(keep, n_distinct)
    size = 1 << n_inputs
    n_words = -(-size // 32)
    table = np.zeros((rows, keys.shape[1] if res["exact"] else n_words), np.uint32)
    table[:rows] = keys[:rows]
    count = np.asarray(counts[:rows], np.int64)
    nan = np.full(rows, np.nan, np.float32)
    comp = {"lz_complexity": nan.copy(), "sensitivity": nan.copy(), "entropy": nan.copy()}
    p_constant = np.nan
    if res["exact"]:
        tables = unpack_bits(keys[:rows], size)
        for name, values in function_complexities(tables).items():
            comp[name][:rows] = values
        constant = tables.all(axis=1) | ~tables.any(axis=1)
        p_constant = float(counts[:rows][constant].sum()) / n_scored if n_scored else np.nan  # both are top rows
    config = {"experiment": "boolean_prior", "net": net, "n": n, "n_inputs": n_inputs, "keep": keep}
    ds = xr.Dataset(
        {
            "occurrences": (("function",), count),
            "probability": (("function",), count / max(n_scored, 1)),
            **{name: (("function",), v) for name, v in comp.items()},
            "table": (("function", "word"), table),
            "n_distinct": ((), np.int64(n_distinct)),
            "n_networks": ((), np.int64(n)),
            "n_non_finite": ((), np.int64(n_non_finite)),
            "p_constant": ((), np.float64(p_constant)),
        },
        coords={"function": np.arange(rows)},
    )
    ds.attrs = {**result_attrs(config, key), "exact": int(bool(res["exact"])),
                "complexity": "lz_complexity: Valle-Perez et al. 2019, log2(n) (N(s) + N(rev s)) / 2, LZ76 "
                              "(Kaspar-Schuster) phrase counts N; log2(n) for constant tables"}
    return ds


def boolean_prior(path, *, bias_stds=(1.0,), weight_vars=(1.0,), activations=("relu",), n: int = 10**6,
                  n_inputs: int = 7, width: int = 40, depth: int = 2, keep: int = 2**17, key=0, resume=False,
                  progress=True, chunk_size=None, memory_budget=None, overwrite: bool = False) -> xr.Dataset:
    """:func:`boolean_prior_cell` over a sweep of bias std (always a dimension), C_W and activation, saved to ``path``.

    Each cell is the MLP ``n_inputs -> width x depth -> 1`` with that cell's activation,
    ``weight_var`` and ``bias_var = bias_std^2`` (:func:`boolean_prior_net`). Resumable through
    :func:`jaxbias.run_sweep`; an existing ``path`` is refused unless ``overwrite=True`` (or an
    interrupted sweep of it is resumed).

    With one cell the result holds only the functions that occurred (:func:`boolean_prior_cell`).
    With several, the cells share one ``function`` dim of ``min(keep, n)`` rows: a cell with fewer
    distinct functions is padded, and its padding rows are marked, never passed off as functions:
    ``is_function`` False, ``occurrences`` 0, ``probability`` and the complexities NaN (their
    ``table`` is 0 and means nothing); ``n_distinct`` says how many rows are real.
    """
    check_n(n)
    check_int("n_inputs", n_inputs, 1, inputs.MAX_HYPERCUBE_BITS)
    check_int("keep", keep, 1)
    grid, fixed = split({"bias_std": [check_float("bias_std", b, 0.0) for b in bias_stds],
                         "weight_var": [float(v) for v in weight_vars], "activation": list(activations)},
                        always=("bias_std",))
    for cell in cells(grid, fixed):  # bad options fail before anything runs
        boolean_prior_net(width, depth, cell["activation"], cell["weight_var"], cell["bias_std"])

    several = len(list(cells(grid))) > 1

    def cell_fn(cell):
        c = {**fixed, **cell}
        net = boolean_prior_net(width, depth, c["activation"], c["weight_var"], c["bias_std"])
        ds = boolean_prior_cell(net, n=n, n_inputs=n_inputs, keep=keep, key=key, chunk_size=chunk_size,
                                memory_budget=memory_budget, progress=progress)
        ds.attrs = {}
        ds = ds.assign(net_spec=((), to_json(net)))  # jb.nets.from_config(ds.sel(...)) rebuilds it
        return _pad_rows(ds, min(keep, n)) if several else ds

    config = {"experiment": "boolean_prior", "grid": grid, "fixed": fixed, "n": n, "n_inputs": n_inputs,
              "width": width, "depth": depth, "keep": keep, "arch": "mlp"}
    attrs = {**result_attrs(config, key), "exact": int(n_inputs <= MAX_EXACT_INPUTS)}
    return run_sweep(grid, cell_fn, path, resume=resume, attrs=attrs, progress=progress and several, overwrite=overwrite)


def _pad_rows(ds: xr.Dataset, rows: int) -> xr.Dataset:
    """A cell padded to ``rows`` functions (so that the cells of a sweep share one shape), padding marked."""
    real = ds.sizes["function"]
    ds = ds.assign(is_function=(("function",), np.ones(real, bool)))
    if real == rows:
        return ds
    ds = ds.reindex(function=np.arange(rows), fill_value={"occurrences": 0, "table": 0, "is_function": False})
    return ds.assign(occurrences=ds["occurrences"].astype(np.int64), table=ds["table"].astype(np.uint32),
                     is_function=ds["is_function"].astype(bool))


def boolean_prior_net(width: int, depth: int, activation, weight_var: float, bias_std: float) -> MLP:
    """The MLP of a :func:`boolean_prior` cell: one output, ``C_W = weight_var``, ``C_b = bias_std^2``."""
    weight_var = check_float("weight_var", weight_var, 0.0)
    bias_std = check_float("bias_std", bias_std, 0.0)
    return MLP(width, depth, activation, weight_var=weight_var, bias_var=bias_std**2)
