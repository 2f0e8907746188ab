"""Transformer encoders (Vaswani et al., NeurIPS 2017) on token ids or continuous sequences.

``h_0 = E x + P`` (token embedding or a dense projection ``d_in -> d_model``, plus positional
encodings), then ``num_layers`` layers of multi-head self-attention and an MLP, each with a
residual connection and layer norm (no learned gain or bias):

* position ``"pre"`` (Xiong et al., ICML 2020): ``h <- h + Attn(LN(h))``, ``h <- h + MLP(LN(h))``,
  and a final ``LN`` after the last layer;
* position ``"post"`` (the original): ``h <- LN(h + Attn(h))``, ``h <- LN(h + MLP(h))``.

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

:class:`Transformer` is a recipe of layer primitives (:attr:`Transformer.layers`:
:class:`~jaxbias.nets.layers.Embedding` or :class:`~jaxbias.nets.layers.Dense`,
:class:`~jaxbias.nets.layers.Positional`, :class:`~jaxbias.nets.layers.SelfAttention`, ...). The
encoder layers share one shape, so they are one :class:`~jaxbias.nets.layers.Repeat` run with
``lax.scan`` and their parameters are stored stacked. ``init`` draws every parameter from one call
of the key's random words: the input map, the readout, then q, k, v, o, mlp_in, mlp_out each across
all layers, then the learned positional table (last, so that switching ``positional`` changes no
other draw), as earlier versions did.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from jaxbias.nets import layers as L
from jaxbias.nets.core import check_input_shape, check_int, check_parameterization, per_layer
from jaxbias.nets.layers import sinusoidal_encoding
from jaxbias.nets.options import Norm, canonical_activation, canonical_law
from jaxbias.nets.spec import Spec, spec

__all__ = ["Transformer", "transformer", "sinusoidal_encoding"]

_SUBLAYERS = ("q", "k", "v", "o", "mlp_in", "mlp_out")
_LEARNED_POS_VAR = 0.5


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
        d_model = check_int("d_model", self.d_model, 1)
        num_heads = check_int("num_heads", self.num_heads, 1)
        if d_model % num_heads:
            raise ValueError(f"num_heads={num_heads}: must divide d_model={d_model}")
        norm = Norm.parse(self.norm)
        if norm is None or norm.kind != "layer":
            raise ValueError(f"norm={self.norm!r}: a transformer uses layer norm: expected 'layer_pre' or 'layer_post'")
        for name, choices in (("positional", ("sinusoidal", "learned", None)), ("readout", ("mean", "first"))):
            if getattr(self, name) not in choices:
                raise ValueError(f"{name}={getattr(self, name)!r}: expected one of {', '.join(map(repr, choices))}")
        for name in ("causal", "bias"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name}={getattr(self, name)!r}: expected True or False")
        num_layers = check_int("num_layers", self.num_layers, 0)
        tokens = self.vocab_size is not None
        in_shape = self.in_shape
        if in_shape is not None:
            if not isinstance(in_shape, (tuple, list)) or len(in_shape) != (1 if tokens else 2):
                expected = "(seq_len,) for token ids" if tokens else "(seq_len, d_in) for continuous inputs"
                raise ValueError(f"in_shape={in_shape!r}: expected {expected}")
            in_shape = tuple(check_int("in_shape", s, 1) for s in in_shape)
        values = {
            "d_model": d_model,
            "num_layers": num_layers,
            "num_heads": num_heads,
            "mlp_dim": check_int("mlp_dim", self.mlp_dim, 1),
            "vocab_size": None if not tokens else check_int("vocab_size", self.vocab_size, 1),
            "out": check_int("out", self.out, 1),
            "max_len": check_int("max_len", self.max_len, 1),
            "norm": norm,
            "activation": canonical_activation(self.activation),
            "weight_var": per_layer("weight_var", self.weight_var, num_layers + 2),
            "bias_var": per_layer("bias_var", self.bias_var, num_layers + 2),
            "parameterization": check_parameterization(self.parameterization),
            "weight_law": canonical_law(self.weight_law),
            "in_shape": in_shape,
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def _dense(self, features: int, i: int) -> L.Dense:
        return L.Dense(features, self.weight_var[i], self.bias_var[i], self.bias, self.parameterization,
                       self.weight_law)

    def _encoder_layer(self, i: int) -> L.Serial:
        """Encoder layer ``i`` (1-based, the index of its ``weight_var``): attention, then the MLP."""
        attention = L.SelfAttention(self.num_heads, self.causal, self.weight_var[i], self.bias_var[i], self.bias,
                                    self.parameterization, self.weight_law)
        mlp = (self._dense(self.mlp_dim, i), L.Activation(self.activation), self._dense(self.d_model, i))
        if self.norm.position == "pre":
            return L.Serial((L.Residual(L.Serial((L.LayerNorm(), attention))),
                             L.Residual(L.Serial((L.LayerNorm(), *mlp)))))
        return L.Serial((L.Residual(attention), L.LayerNorm(), L.Residual(L.Serial(mlp)), L.LayerNorm()))

    @property
    def layers(self) -> L.Serial:
        """The network as layer primitives (:mod:`jaxbias.nets.layers`): the recipe ``init`` and ``apply`` run.

        The readout is drawn right after the input map, the encoder layers by layer
        (:attr:`~jaxbias.nets.layers.Repeat.by_layer`) and the learned positional table last, as
        in earlier versions.
        """
        law = (self.parameterization, self.weight_law)
        if self.vocab_size is not None:
            seq = [L.Embedding(self.vocab_size, self.d_model, 1.0, *law)]
        else:
            seq = [self._dense(self.d_model, 0)]
        first_draws = [0]
        if self.positional is not None:
            seq.append(L.Positional(self.positional, self.max_len, _LEARNED_POS_VAR, *law))
        if self.num_layers:
            first_draws.append(len(seq))
            seq.append(L.Repeat(tuple(self._encoder_layer(1 + i) for i in range(self.num_layers)), by_layer=True))
        if self.norm.position == "pre":
            seq.append(L.LayerNorm())
        seq.append(L.GlobalAvgPool() if self.readout == "mean" else L.FirstPosition())
        seq.append(self._dense(self.out, -1))
        first_draws.insert(1, len(seq) - 1)
        return L.Serial(tuple(seq), (*first_draws, *(i for i in range(len(seq)) if i not in first_draws)))

    def _checked(self, x) -> jax.Array:
        x = jnp.asarray(x)
        if self.vocab_size is not None:
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
        check_input_shape(x, self.in_shape, "transformer")
        if x.shape[1] < 1:
            raise ValueError(f"x with shape {tuple(x.shape)}: expected a sequence length >= 1")
        if self.positional is not None and x.shape[1] > self.max_len:
            raise ValueError(f"x with shape {tuple(x.shape)}: sequence length {x.shape[1]} exceeds "
                             f"max_len={self.max_len}")
        return x

    def init(self, key: jax.Array, x: jax.Array) -> dict:
        """Draws the parameters from ``key``; ``x`` fixes the input shape.

        Returns ``{"input": {"w"[, "b"]}, "readout": {...}, "layers": {"q", "k", "v", "o", "mlp_in",
        "mlp_out"} (stacked over layers), "positional": {"w": (max_len, d_model)} (learned only)}``.
        """
        flat = self.layers.init(key, self._checked(x))
        params = {"input": flat[0], "readout": flat[-1]}
        if self.num_layers:
            params["layers"] = dict(zip(_SUBLAYERS, flat[-2]))
        if self.positional == "learned":
            params["positional"] = flat[1]
        return params

    def apply(self, params: dict, x: jax.Array) -> jax.Array:
        """Outputs ``(n_points, out)``."""
        x = self._checked(x)
        layers = self.layers
        w_in = params["input"]["w"]
        expected = layers.groups(tuple(x.shape[1:]))[0].w_shape
        if tuple(w_in.shape) != expected:
            raise ValueError(
                f"x with shape {tuple(x.shape)}: these params were drawn for inputs of dimension "
                f"{w_in.shape[0]}, got {x.shape[-1]}"
            )
        flat = [params["input"]]
        if self.positional == "learned":
            flat.append(params["positional"])
        if self.num_layers:
            flat.append(tuple(params["layers"][name] for name in _SUBLAYERS))
        flat.append(params["readout"])
        return layers.forward(tuple(flat), x, None)


def transformer(d_model, num_layers, num_heads, mlp_dim, vocab_size=None, **options) -> Transformer:
    """``Transformer(d_model, num_layers, num_heads, mlp_dim, vocab_size, **options)``: the spelling of earlier versions."""
    return Transformer(d_model, num_layers, num_heads, mlp_dim, vocab_size, **options)
