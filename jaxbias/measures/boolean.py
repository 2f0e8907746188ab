"""Measures of Boolean functions given by their truth tables.

Conventions: inputs ``{0,1}^n`` in lexicographic order (as
``jb.inputs.hypercube(n)`` enumerates them: input ``j`` has bit ``i`` equal to bit ``n - 1 - i``
of ``j``, so ``x_1`` is the most significant), and the output bit is ``f(x) > 0``. A truth table
is the ``(2^n,)`` Boolean vector of outputs.

* :func:`sensitivity`: average sensitivity ``as(f) = E_x sum_i 1[f(x) != f(x xor e_i)]``
  (Kahn, Kalai & Linial 1988; used for networks by Franco 2006 and Valle-Perez et al. 2019), by
  flipping each input bit of the table; :func:`sensitivity_walsh` gives the same number from the
  Walsh-Fourier coefficients, ``sum_S |S| fhat(S)^2`` (O'Donnell, "Analysis of Boolean Functions",
  Thm 2.38).
* :func:`entropy`: binary entropy of the fraction of ones.
* :func:`truth_table` and :func:`pack_truth_table`: the table of one network's outputs and its
  exact packing into uint32 words (the key by which :func:`jaxbias.summaries.count_distinct`
  counts functions on device); :func:`truth_table_hex` prints a table compactly.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from jaxbias.summaries import pack_bits

__all__ = ["truth_table", "pack_truth_table", "truth_table_hex", "sensitivity", "sensitivity_walsh",
           "walsh_fourier", "entropy"]


def _check_table(table, name: str = "truth_table"):
    t = jnp.asarray(table)
    size = int(t.size)
    n = size.bit_length() - 1
    if t.ndim != 1 or size < 2 or size != 1 << n:
        raise ValueError(f"{name} with shape {tuple(t.shape)}: expected a 1-D table of 2^n entries, n >= 1")
    return t.astype(jnp.bool_), n


def truth_table(outputs, unit: int = 0):
    """The truth table ``outputs[:, unit] > 0`` of one network evaluated on all of ``{0,1}^n``.

    Args:
      outputs: ``(2^n, n_out)`` or ``(2^n,)`` outputs on ``jb.inputs.hypercube(n)``.
      unit: output unit.

    Returns:
      ``(2^n,)`` bool.
    """
    y = jnp.asarray(outputs)
    if y.ndim == 2:
        if not 0 <= unit < y.shape[1]:
            raise ValueError(f"unit={unit!r}: expected an output unit in [0, {y.shape[1]})")
        y = y[:, unit]
    return _check_table(y > 0, "outputs")[0]


def pack_truth_table(table):
    """A truth table packed into ``ceil(2^n / 32)`` uint32 words (bit ``j`` of word ``k`` is entry ``32k + j``)."""
    t, _ = _check_table(table)
    return pack_bits(t)


def truth_table_hex(table) -> str:
    """Hexadecimal text of a truth table (host side), entry 0 as the most significant bit.

    >>> truth_table_hex([0, 0, 0, 1])  # AND of 2 inputs
    '1'
    >>> truth_table_hex([1] * 8)
    'ff'
    """
    bits = np.asarray(table, dtype=bool).reshape(-1)
    width = max(1, -(-bits.size // 4))
    return format(int("".join("1" if b else "0" for b in bits), 2), f"0{width}x")


def sensitivity(truth_table):
    """Average sensitivity ``E_x sum_i 1[f(x) != f(x xor e_i)]``, in ``[0, n]`` (divide by n for as/n).

    Args:
      truth_table: ``(2^n,)`` bool, lexicographic inputs.

    Returns:
      float32 scalar, jit- and vmap-able.

    Example:
      >>> import jax.numpy as jnp
      >>> float(sensitivity(jnp.array([0, 1, 1, 0], bool)))   # XOR: every flip changes it
      2.0
      >>> float(sensitivity(jnp.array([0, 0, 0, 1], bool)))   # AND: (0 + 1 + 1 + 2) / 4
      1.0
    """
    t, n = _check_table(truth_table)
    cube = t.reshape((2,) * n)
    flips = sum(jnp.sum(cube != jnp.flip(cube, axis=i), dtype=jnp.int32) for i in range(n))
    return flips.astype(jnp.float32) / jnp.float32(1 << n)


def walsh_fourier(truth_table):
    """Walsh-Fourier coefficients ``fhat(S) = 2^-n sum_x (-1)^(f(x) + S.x)`` of the ±1 function.

    Entry ``j`` is the set ``S`` whose indicator has the bits of ``j`` (same order as the inputs).
    Computed with the fast Walsh-Hadamard transform (n butterflies). ``sum_S fhat(S)^2 = 1``.

    Returns:
      ``(2^n,)`` float32.
    """
    t, n = _check_table(truth_table)
    f = jnp.where(t, -1.0, 1.0).astype(jnp.float32).reshape((2,) * n)
    for axis in range(n):
        a = jnp.take(f, 0, axis=axis)
        b = jnp.take(f, 1, axis=axis)
        f = jnp.stack([a + b, a - b], axis=axis)
    return f.reshape(-1) / jnp.float32(1 << n)


def sensitivity_walsh(truth_table):
    """Average sensitivity from the spectrum: ``sum_S |S| fhat(S)^2`` (equal to :func:`sensitivity`)."""
    t, n = _check_table(truth_table)
    coef = walsh_fourier(t)
    size = np.array([bin(j).count("1") for j in range(1 << n)], np.float32)
    return jnp.sum(jnp.asarray(size) * jnp.square(coef))


def entropy(truth_table):
    """Binary entropy (bits) of the fraction of ones, ``H(p) = -p log2 p - (1 - p) log2(1 - p)``; 0 for a constant."""
    t, _ = _check_table(truth_table)
    p = jnp.mean(t.astype(jnp.float32))
    q = 1 - p
    h = -(jnp.where(p > 0, p * jnp.log2(jnp.where(p > 0, p, 1)), 0) + jnp.where(q > 0, q * jnp.log2(jnp.where(q > 0, q, 1)), 0))
    return h + 0.0  # -0.0 -> 0.0 for constants
