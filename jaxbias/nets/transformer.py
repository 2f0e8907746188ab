"""Transformer encoders (Vaswani et al., NeurIPS 2017) on token ids or continuous sequences.

``h_0 = E x + P`` (token embedding or a dense projection ``d_in -> d_model``, plus positional
encodings), then ``num_layers`` layers of multi-head self-attention and an MLP, each with a
residual connection and layer norm (no learned gain or bias):

* ``norm_position="pre"`` (Xiong et al., ICML 2020): ``h <- h + Attn(LN(h))``,
  ``h <- h + MLP(LN(h))``, and a final ``LN`` after the last layer;
* ``norm_position="post"`` (the original): ``h <- LN(h + Attn(h))``, ``h <- LN(h + MLP(h))``.

``Attn`` projects to queries, keys and values (``d_model -> d_model`` each, split into
``num_heads`` heads of ``head_dim = d_model / num_heads``), takes ``softmax(q k^T / sqrt(head_dim))``
(optionally causal) and projects the concatenated heads back (``d_model -> d_model``);
``MLP`` is ``d_model -> mlp_dim -> d_model`` with the activation in between. The sequence is
pooled (mean over positions, or the first token) and read out densely to ``out``.

Scales at init (Roberts, Yaida & Hanin 2022): every affine map has weights of variance ``C_W / fan_in``
and biases ``C_b``. Tables that are looked up rather than multiplied have fixed scales:

* token embeddings: N(0, 1) entries (standard deviation 1, whatever ``weight_var``);
* learned positional encodings: N(0, 1/2) entries, the mean square of the sinusoidal encodings
  (``sin^2 + cos^2 = 1`` per pair of coordinates), so both choices add inputs of the same scale.

Both tables follow the weight law's shape (e.g. orthogonal, sparse); under ``absolute(a)`` they
are U(-a, a) like everything else.

Layers share one shape, so they are stored stacked and run with ``lax.scan``. Keys: ``init``
splits its key once into: input map, positional table (reserved even when not learned, so that
switching it does not change the other draws), then q, k, v, o, mlp_in, mlp_out of each layer in
order, then the readout.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxbias.nets.activations import get_activation
from jaxbias.nets.core import (
    Affine,
    affine_apply,
    affine_apply_scaled,
    affine_scales,
    check_choice,
    check_input_shape,
    check_int,
    check_parameterization,
    init_groups,
    layer_norm,
    per_layer,
    scale_config,
    stacked_scales,
)
from jaxbias.nets.options import Norm, canonical_activation
from jaxbias.nets.spec import Spec, spec
from jaxbias.nets.weight_laws import get_weight_law

__all__ = ["Transformer", "transformer", "sinusoidal_encoding"]

_SUBLAYERS = ("q", "k", "v", "o", "mlp_in", "mlp_out")
_LEARNED_POS_VAR = 0.5


def sinusoidal_encoding(seq_len: int, d_model: int) -> np.ndarray:
    """Fixed encodings ``(seq_len, d_model)``: ``PE[t, 2i] = sin(t w_i)``, ``PE[t, 2i+1] = cos(t w_i)``,
    ``w_i = 10000^(-2i / d_model)`` (Vaswani et al. 2017)."""
    t = np.arange(seq_len, dtype=np.float64)[:, None]
    i = np.arange(d_model)
    angles = t * np.power(10000.0, -(2 * (i // 2)) / d_model)[None, :]
    return np.where(i % 2 == 0, np.sin(angles), np.cos(angles)).astype(np.float32)


def _build(
    d_model: int,
    num_layers: int,
    num_heads: int,
    mlp_dim: int,
    vocab_size: int | None = None,
    *,
    out: int = 1,
    max_len: int = 512,
    positional: str | None = "sinusoidal",
    norm_position: str = "pre",
    activation: str | Callable = "gelu",
    pool: str = "mean",
    causal: bool = False,
    weight_var: float | Sequence[float] = 1.0,
    bias_var: float | Sequence[float] = 0.0,
    bias: bool = True,
    parameterization: str = "standard",
    weight_law: str = "normal",
    in_shape: Sequence[int] | None = None,
):
    """Builds a random transformer encoder.

    Args:
      d_model: width of the residual stream.
      num_layers: number of encoder layers (>= 0).
      num_heads: attention heads (must divide ``d_model``).
      mlp_dim: hidden width of each MLP block.
      vocab_size: if given, inputs are integer token ids ``(n_points, seq_len)`` embedded by a
        ``(vocab_size, d_model)`` table. Ids outside ``[0, vocab_size)`` cannot be checked inside
        jit: they are clamped into range (``jnp.take(..., mode="clip")``). If None, inputs are
        floating ``(n_points, seq_len, d_in)`` sequences projected densely to ``d_model``.
      out: output dimension.
      max_len: longest accepted sequence (size of the learned positional table).
      positional: ``"sinusoidal"`` (fixed), ``"learned"`` (N(0, 1/2) table) or None.
      norm_position: ``"pre"`` or ``"post"`` layer norm (see module docstring).
      activation: MLP activation, name (see :mod:`jaxbias.nets.activations`) or callable.
      pool: ``"mean"`` over positions or ``"first"`` token, before the readout.
      causal: mask attention to earlier positions (and the position itself).
      weight_var: C_W, one number or ``num_layers + 2`` values: the input projection (used only
        for continuous inputs; token embeddings have unit variance), each encoder layer (shared by
        its q, k, v, o and both MLP maps), the readout.
      bias_var: C_b, same convention.
      bias: whether affine maps have biases (embeddings never do).
      parameterization: "standard" or "ntk".
      weight_law: "normal", "truncated_normal", "uniform", "orthogonal", "sparse(p)", "low_rank(r)"
        or "absolute(a)" (weights and biases U(-a, a); C_W and C_b then unused).
      in_shape: declared input shape (``(seq_len,)`` for tokens, ``(seq_len, d_in)`` otherwise);
        others raise ValueError.

    Returns:
      A :class:`Net`; ``apply(params, x)`` maps ``x`` to ``(n_points, out)``. Params:
      ``{"input": {"w"[, "b"]}, "positional": {"w": (max_len, d_model)} (learned only),
      "layers": {"q", "k", "v", "o", "mlp_in", "mlp_out"} (stacked over layers), "readout": {...}}``.

    Raises:
      ValueError: an invalid argument (at construction) or input (at init/apply).

    Example:
      >>> import jax, jax.numpy as jnp, jaxbias as jb
      >>> net = jb.nets.transformer(d_model=16, num_layers=2, num_heads=4, mlp_dim=32, vocab_size=10)
      >>> x = jnp.zeros((3, 7), jnp.int32)
      >>> net.apply(net.init(jax.random.key(0), x), x).shape
      (3, 1)
    """
    d_model = check_int("d_model", d_model, 1)
    num_layers = check_int("num_layers", num_layers, 0)
    num_heads = check_int("num_heads", num_heads, 1)
    if d_model % num_heads:
        raise ValueError(f"num_heads={num_heads}: must divide d_model={d_model}")
    head_dim = d_model // num_heads
    mlp_dim = check_int("mlp_dim", mlp_dim, 1)
    if vocab_size is not None:
        vocab_size = check_int("vocab_size", vocab_size, 1)
    out = check_int("out", out, 1)
    max_len = check_int("max_len", max_len, 1)
    check_choice("positional", positional, ("sinusoidal", "learned", None))
    check_choice("norm_position", norm_position, ("pre", "post"))
    phi = get_activation(activation)
    check_choice("pool", pool, ("mean", "first"))
    check_choice("causal", causal, (True, False))
    cws = per_layer("weight_var", weight_var, num_layers + 2)
    cbs = per_layer("bias_var", bias_var, num_layers + 2)
    check_choice("bias", bias, (True, False))
    check_parameterization(parameterization)
    law = get_weight_law(weight_law)
    tokens = vocab_size is not None
    if in_shape is not None:
        rank = 1 if tokens else 2
        if not isinstance(in_shape, (tuple, list)) or len(in_shape) != rank:
            expected = "(seq_len,) for token ids" if tokens else "(seq_len, d_in) for continuous inputs"
            raise ValueError(f"in_shape={in_shape!r}: expected {expected}")
        in_shape = tuple(check_int("in_shape", s, 1) for s in in_shape)

    ntk = parameterization == "ntk"

    def table(shape: tuple[int, int], var: float) -> Affine:
        std = law.param / math.sqrt(3.0) if law.absolute else math.sqrt(var)
        return Affine(shape, std, 0.0, False, ntk, law)

    def plan(d_in: int):
        if tokens:
            first = table((vocab_size, d_model), 1.0)
        else:
            first = Affine.make((d_in, d_model), cws[0], cbs[0], bias, parameterization, law)
        pos = table((max_len, d_model), _LEARNED_POS_VAR)
        fans = {"q": (d_model, d_model), "k": (d_model, d_model), "v": (d_model, d_model), "o": (d_model, d_model)}
        fans |= {"mlp_in": (d_model, mlp_dim), "mlp_out": (mlp_dim, d_model)}
        layers = {
            name: [
                Affine.make(fans[name], cws[1 + i], cbs[1 + i], bias, parameterization, law) for i in range(num_layers)
            ]
            for name in _SUBLAYERS
        }
        readout = Affine.make((d_model, out), cws[-1], cbs[-1], bias, parameterization, law)
        return first, pos, layers, readout

    def checked(x) -> jax.Array:
        x = jnp.asarray(x)
        if tokens:
            if x.ndim != 2:
                raise ValueError(
                    f"x with shape {tuple(x.shape)}: transformer with vocab_size expects token ids "
                    "of shape (n_points, seq_len)"
                )
            if not jnp.issubdtype(x.dtype, jnp.integer):
                raise ValueError(f"x with dtype {x.dtype}: transformer with vocab_size expects integer token ids")
        else:
            if x.ndim != 3:
                raise ValueError(
                    f"x with shape {tuple(x.shape)}: transformer without vocab_size expects inputs of shape "
                    "(n_points, seq_len, d_in)"
                )
            if not jnp.issubdtype(x.dtype, jnp.floating):
                raise ValueError(
                    f"x with dtype {x.dtype}: transformer without vocab_size expects floating inputs "
                    "(pass vocab_size for token ids)"
                )
            x = x.astype(jnp.float32)
        check_input_shape(x, in_shape, "transformer")
        if x.shape[1] < 1:
            raise ValueError(f"x with shape {tuple(x.shape)}: expected a sequence length >= 1")
        if positional is not None and x.shape[1] > max_len:
            raise ValueError(f"x with shape {tuple(x.shape)}: sequence length {x.shape[1]} exceeds max_len={max_len}")
        return x

    def init(key, x):
        x = checked(x)
        first, pos, layers, readout = plan(x.shape[-1])
        # The learned positional table is drawn last: switching `positional` changes no other draw.
        stack = [layers[name] for name in _SUBLAYERS] if num_layers else []
        drawn = init_groups(key, [first, readout] + stack + ([pos] if positional == "learned" else []))
        params = {"input": drawn[0], "readout": drawn[1]}
        if num_layers:
            params["layers"] = dict(zip(_SUBLAYERS, drawn[2 : 2 + len(stack)]))
        if positional == "learned":
            params["positional"] = drawn[-1]
        return params

    def attention(p, s, h):
        n, t, _ = h.shape
        q, k, v = (affine_apply_scaled(p[c], h, *s[c]).reshape(n, t, num_heads, head_dim) for c in "qkv")
        scores = jnp.einsum("nqhd,nkhd->nhqk", q, k) / math.sqrt(head_dim)
        if causal:
            mask = np.tril(np.ones((t, t), bool))[None, None]
            scores = jnp.where(mask, scores, -jnp.inf)
        weights = jax.nn.softmax(scores, axis=-1)
        heads = jnp.einsum("nhqk,nkhd->nqhd", weights, v).reshape(n, t, d_model)
        return affine_apply_scaled(p["o"], heads, *s["o"])

    def mlp_block(p, s, h):
        hidden = phi.fn(affine_apply_scaled(p["mlp_in"], h, *s["mlp_in"]))
        return affine_apply_scaled(p["mlp_out"], hidden, *s["mlp_out"])

    def encoder_layer(h, xs):
        p, s = xs
        if norm_position == "pre":
            h = h + attention(p, s, layer_norm(h))
            h = h + mlp_block(p, s, layer_norm(h))
        else:
            h = layer_norm(h + attention(p, s, h))
            h = layer_norm(h + mlp_block(p, s, h))
        return h, None

    def apply(params, x):
        x = checked(x)
        first, pos, layers, readout = plan(x.shape[-1])
        w_in = params["input"]["w"]
        if tuple(w_in.shape) != first.w_shape:
            raise ValueError(
                f"x with shape {tuple(x.shape)}: these params were drawn for inputs of dimension "
                f"{w_in.shape[0]}, got {x.shape[-1]}"
            )
        seq_len = x.shape[1]
        if tokens:
            h = jnp.take(w_in, x, axis=0, mode="clip")
            ws, _ = affine_scales(first)
            h = h * ws if ws != 1.0 else h
        else:
            h = affine_apply(params["input"], x, first)
        if positional == "sinusoidal":
            h = h + jnp.asarray(sinusoidal_encoding(seq_len, d_model))[None]
        elif positional == "learned":
            ws, _ = affine_scales(pos)
            h = h + (params["positional"]["w"][:seq_len] * ws)[None]
        if num_layers:
            scales = {name: stacked_scales(layers[name]) for name in _SUBLAYERS}
            h, _ = jax.lax.scan(encoder_layer, h, (params["layers"], scales))
        if norm_position == "pre":
            h = layer_norm(h)
        h = jnp.mean(h, axis=1) if pool == "mean" else h[:, 0]
        return affine_apply(params["readout"], h, readout)

    config = {
        "arch": "transformer",
        "d_model": d_model,
        "num_layers": num_layers,
        "num_heads": num_heads,
        "mlp_dim": mlp_dim,
        "vocab_size": vocab_size,
        "out": out,
        "max_len": max_len,
        "positional": positional,
        "norm_position": norm_position,
        "activation": phi.name,
        "pool": pool,
        "causal": causal,
        **scale_config(cws, cbs, bias, parameterization, law, in_shape),
    }
    return init, apply, None, config


@spec
class Transformer(Spec):
    """A random transformer encoder: a frozen, hashable spec.

    Attributes:
      d_model: width of the residual stream.
      num_layers: number of encoder layers (>= 0).
      num_heads: attention heads (must divide ``d_model``).
      mlp_dim: hidden width of each MLP block.
      vocab_size: if given, inputs are integer token ids ``(n_points, seq_len)`` embedded by a
        ``(vocab_size, d_model)`` table (ids outside the range are clamped inside jit); if None,
        inputs are float sequences ``(n_points, seq_len, d_in)`` projected densely to ``d_model``.
      out: output dimension.
      max_len: longest accepted sequence (size of the learned positional table).
      positional: ``"sinusoidal"`` (fixed), ``"learned"`` (N(0, 1/2) table) or None.
      norm: a layer :class:`~jaxbias.nets.Norm`: ``"layer_pre"`` (Xiong et al., ICML 2020:
        ``h <- h + Attn(LN(h))``) or ``"layer_post"`` (the original: ``h <- LN(h + Attn(h))``).
      activation: MLP activation, name or callable.
      readout: ``"mean"`` over positions or ``"first"`` token, before the readout map.
      causal: mask attention to earlier positions (and the position itself).
      weight_var: C_W, one number or ``num_layers + 2`` values (input projection, each encoder
        layer, readout).
      bias_var: C_b, same convention.
      bias: whether affine maps have biases (embeddings never do).
      parameterization: "standard" or "ntk".
      weight_law: as in :class:`~jaxbias.nets.MLP`.
      in_shape: declared input shape; other inputs raise ValueError.

    Example:
      >>> import jax, jax.numpy as jnp, jaxbias as jb
      >>> net = jb.nets.Transformer(d_model=8, num_layers=2, num_heads=2, mlp_dim=16, vocab_size=11)
      >>> x = jnp.zeros((3, 5), jnp.int32)
      >>> net.apply(net.init(jax.random.key(0), x), x).shape
      (3, 1)
    """

    d_model: int
    num_layers: int
    num_heads: int
    mlp_dim: int
    vocab_size: int | None = None
    out: int = 1
    max_len: int = 512
    positional: str | None = "sinusoidal"
    norm: Norm | str = "layer_pre"
    activation: str | Callable = "gelu"
    readout: str = "mean"
    causal: bool = False
    weight_var: float | tuple[float, ...] = 1.0
    bias_var: float | tuple[float, ...] = 0.0
    bias: bool = True
    parameterization: str = "standard"
    weight_law: str = "normal"
    in_shape: tuple[int, ...] | None = None

    def __post_init__(self):
        norm = Norm.parse(self.norm)
        if norm is None or norm.kind != "layer":
            raise ValueError(f"norm={self.norm!r}: a transformer uses layer norm: expected 'layer_pre' or 'layer_post'")
        config = self._build_from(norm, self.weight_var, self.bias_var, self.in_shape)[3]
        values = {
            "activation": canonical_activation(self.activation),
            "norm": norm,
            "weight_var": tuple(config["weight_var"]),
            "bias_var": tuple(config["bias_var"]),
            "weight_law": config["weight_law"],
            "in_shape": None if config["in_shape"] is None else tuple(config["in_shape"]),
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def _build_from(self, norm, weight_var, bias_var, in_shape):
        return _build(
            self.d_model, self.num_layers, self.num_heads, self.mlp_dim, self.vocab_size, out=self.out,
            max_len=self.max_len, positional=self.positional, norm_position=norm.position,
            activation=self.activation, pool=self.readout, causal=self.causal, weight_var=weight_var,
            bias_var=bias_var, bias=self.bias, parameterization=self.parameterization,
            weight_law=self.weight_law, in_shape=in_shape,
        )

    def _closures(self):
        return self._build_from(self.norm, self.weight_var, self.bias_var, self.in_shape)

    def init(self, key: jax.Array, x: jax.Array):
        """Draws the parameters from ``key``; ``x`` fixes the input shape."""
        return self._closures()[0](key, x)

    def apply(self, params, x: jax.Array) -> jax.Array:
        """Outputs ``(n_points, out)``."""
        return self._closures()[1](params, x)


def transformer(d_model, num_layers, num_heads, mlp_dim, vocab_size=None, **options) -> Transformer:
    """``Transformer(d_model, num_layers, num_heads, mlp_dim, vocab_size, **options)``: the spelling of earlier versions."""
    return Transformer(d_model, num_layers, num_heads, mlp_dim, vocab_size, **options)
