"""Network specs: typed, hashable values; exact round trip through results files; composed layers.

References: the round trip is checked through JSON text (what a results file stores); composed
networks against the built-in MLP that is the same recipe, and against unrolled equivalents.
"""

import json

import chex
import jax
import numpy as np
import pytest

import jaxbias as jb
from jaxbias.kernels import empirical_ntk
from jaxbias.nets import layers as L
from jaxbias.nets.core import affine_taps

X = np.random.RandomState(0).randn(6, 3).astype(np.float32)
IMAGES = np.random.RandomState(1).randn(4, 7, 6, 2).astype(np.float32)
SEQUENCES = np.random.RandomState(2).randn(3, 5, 4).astype(np.float32)
TOKENS = np.random.RandomState(3).randint(-1, 12, (3, 5)).astype(np.int32)  # some out of range: clamped

SPECS = {
    "mlp_default": lambda: jb.nets.MLP(8, 2),
    "mlp_every_option": lambda: jb.nets.MLP((8, 4, 8), 3, "leaky_relu(0.2)", out=2, weight_var=(1, 2, 1.5, 1),
                                            bias_var=0.1, bias=True, parameterization="ntk", weight_law="sparse(0.5)",
                                            norm="layer_post", in_dim=3),
    "mlp_residual": lambda: jb.nets.MLP(8, 5, "tanh", residual=True, residual_scale=0.5, norm="batch_pre"),
    "mlp_pool": lambda: jb.nets.MLP(8, 2, "relu", pool="max(4)", weight_law="absolute(2)", bias=False),
    "mlp_depth0": lambda: jb.nets.MLP(4, 0, "erf", out=3),
    "cnn_default": lambda: jb.nets.CNN((4,)),
    "cnn_every_option": lambda: jb.nets.CNN((3, 4), kernel_size=((3, 2), 1), stride=(1, 2), padding=(1, "VALID"),
                                           activation="gelu", out=2, pool="avg(2)", global_pool=False,
                                           norm="batch_pre", weight_var=2.0, bias_var=(0.1, 0.2, 0.3),
                                           parameterization="ntk", weight_law="orthogonal", in_shape=(9, 9, 2)),
    "resnet_dense": lambda: jb.nets.ResNet(8, 2, 1, activation="tanh", norm="layer_post", residual_scale=0.7),
    "resnet_conv": lambda: jb.nets.ResNet(4, 1, 3, kind="conv", kernel_size=(1, 3), norm="batch_pre", out=2,
                                          weight_law="truncated_normal", in_shape=(6, 6, 1)),
    "transformer_tokens": lambda: jb.nets.Transformer(8, 2, 4, 16, 11, positional="learned", norm="layer_post",
                                                      readout="first", causal=True, max_len=16),
    "transformer_sequences": lambda: jb.nets.Transformer(8, 1, 2, 8, out=3, positional=None, activation="relu",
                                                         bias=False, parameterization="ntk"),
    "layers_composed": lambda: L.Serial((L.Dense(8, 2.0, 0.1), L.Activation("relu"), L.FeaturePool("avg", 2),
                                         L.Repeat((L.Residual(L.Serial((L.Dense(4), L.Activation("tanh"))), 0.5),
                                                   L.Residual(L.Serial((L.Dense(4, 1.5), L.Activation("tanh"))), 0.5))),
                                         L.LayerNorm(), L.Dense(2))),
    "layers_conv": lambda: L.Serial((L.Conv(4, (3, 2), 2, 1, 2.0, 0.1, parameterization="ntk"), L.Activation("tanh"),
                                     L.Pool2D("max", 2, 1), L.Conv(3, 1, padding="valid", weight_law="orthogonal"),
                                     L.BatchNorm(), L.Activation("relu"), L.GlobalAvgPool(), L.Dense(2))),
    "layers_conv_flatten": lambda: L.Serial((L.Conv(2, bias=False), L.Activation("relu"), L.Pool2D("avg", 2),
                                             L.Flatten(), L.Dense(1)), draw=(3, 4, 0, 1, 2)),
    "layers_sequence": lambda: L.Serial((L.Embedding(11, 8, weight_law="orthogonal"), L.Positional("learned", 16),
                                         L.Repeat.of(L.Residual(L.Serial((L.LayerNorm(), L.SelfAttention(2, True)))), 2,
                                                     by_layer=True),
                                         L.FirstPosition(), L.Dense(1))),
}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_round_trip_through_json_rebuilds_an_equal_spec(name):
    net = SPECS[name]()
    text = json.dumps(jb.nets.to_dict(net), sort_keys=True)
    again = jb.nets.from_dict(json.loads(text))
    assert again == net and hash(again) == hash(net) and type(again) is type(net)
    assert json.dumps(jb.nets.to_dict(again), sort_keys=True) == text
    assert SPECS[name]() == net and hash(SPECS[name]()) == hash(net)  # built twice: equal


def test_canonical_forms_make_equal_specs_equal():
    assert jb.nets.MLP(8, 2, weight_var=2) == jb.nets.MLP((8, 8), 2, weight_var=[2.0, 2.0, 2.0])
    assert jb.nets.MLP(8, 2, "swish", norm=jb.nets.Norm("layer", "pre")) == jb.nets.MLP(8, 2, "silu", norm="layer_pre")
    assert jb.nets.MLP(8, 2, pool="max") == jb.nets.MLP(8, 2, pool="max(2)") == jb.nets.MLP(8, 2, pool=jb.nets.Pool("max"))
    assert jb.nets.MLP(8, 2) != jb.nets.MLP(8, 2, bias_var=0.1)
    assert jb.nets.mlp(8, 2, "tanh") == jb.nets.MLP(8, 2, "tanh")  # the earlier spelling builds the same spec


def test_results_file_stores_the_spec_and_rebuilds_it(tmp_path):
    net = SPECS["mlp_every_option"]()
    y = jb.sample(net, X, n=3, key=1, progress=False)
    ds = jb.outputs_dataset(y, X, {"net": net, "n": 3}, key=1)
    jb.save(ds, tmp_path / "r.nc")
    again = jb.io.net_of(jb.load(tmp_path / "r.nc"))
    assert again == net
    np.testing.assert_array_equal(jb.sample(again, X, n=3, key=1, progress=False), y)


def test_user_callables_are_described_not_stored():
    net = jb.nets.MLP(8, 2, lambda z: z * z)
    assert net == net and hash(net) == hash(net)
    with pytest.raises(ValueError, match="user callable"):
        jb.nets.to_dict(net)
    assert jb.nets.describe(net)["rebuildable"] is False
    user = jb.nets.Net(net.init, net.apply, "mine")
    assert jb.nets.describe(user) == {"type": "Net", "rebuildable": False, "name": "mine"}
    with pytest.raises(ValueError, match="type='Bogus'"):
        jb.nets.from_dict({"type": "Bogus"})
    with pytest.raises(ValueError, match="unknown fields"):
        jb.nets.from_dict({"type": "MLP", "width": 8, "depth": 1, "layer_norm_position": "pre"})


@pytest.mark.parametrize("bad, needle", [
    (lambda: jb.nets.MLP(8, 2, norm="layer"), "norm='layer'"),
    (lambda: jb.nets.MLP(8, 2, pool="max(3)"), "window 3"),
    (lambda: jb.nets.Transformer(8, 1, 2, 8, norm="batch_pre"), "layer norm"),
    (lambda: jb.nets.ResNet(8, 1, kernel_size=3), "only for kind='conv'"),
    (lambda: L.Dense(0), "features=0"),
    (lambda: L.FeaturePool("min"), "kind='min'"),
    (lambda: L.Serial((L.Dense(2), "relu")), "expected layer specs"),
    (lambda: L.Repeat(()), "at least one block"),
    (lambda: L.Conv(4, kernel_size=0), "kernel_size=0"),
    (lambda: L.Conv(4, stride=(1, 2, 3)), "stride=(1, 2, 3)"),
    (lambda: L.Conv(4, padding="FULL"), "padding='FULL'"),
    (lambda: L.Pool2D("min"), "kind='min'"),
    (lambda: L.Serial((L.Dense(2), L.Dense(1)), draw=(0, 0)), "draw=(0, 0)"),
    (lambda: L.Positional("rope"), "kind='rope'"),
    (lambda: L.SelfAttention(2, causal=1), "causal=1"),
    (lambda: L.SelfAttention(2, weight_law="cauchy"), "weight_law='cauchy'"),
])
def test_bad_specs_raise_naming_the_field(bad, needle):
    with pytest.raises(ValueError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        bad()


def test_mlp_is_its_layer_recipe():
    """The MLP runs its recipe: the recipe as a plain layer net gives the same parameters and outputs."""
    for net in (jb.nets.MLP(8, 5, "tanh", residual=True, bias_var=0.1), jb.nets.MLP(8, 2, "relu", pool="avg(2)")):
        p = net.init(jax.random.key(0), X)
        q = net.layers.init(jax.random.key(0), X)
        np.testing.assert_array_equal(jax.tree.leaves(p)[0], jax.tree.leaves(q)[0])
        np.testing.assert_array_equal(net.apply(p, X), net.layers.apply(q, X))


@pytest.mark.parametrize("net, x", [
    (jb.nets.CNN((3, 4), kernel_size=(3, (1, 2)), stride=(1, 1), pool="max(2)", norm="layer_post", bias_var=0.1),
     IMAGES),
    (jb.nets.CNN((3,), padding="VALID", global_pool=False, norm="batch_pre", weight_law="orthogonal"), IMAGES),
    (jb.nets.ResNet(4, 3, 2, kind="conv", norm="batch_post", bias_var=0.1, residual_scale=0.5), IMAGES),
    (jb.nets.ResNet(5, 2, 1, activation="tanh", parameterization="ntk", weight_var=(1, 2, 3, 4)), X),
], ids=["cnn_pool", "cnn_flatten", "resnet_conv", "resnet_dense"])
def test_cnn_and_resnet_are_their_layer_recipes(net, x):
    """The family runs its recipe: the recipe as a plain layer net gives the same parameters, outputs and taps."""
    p, q = net.init(jax.random.key(0), x), net.layers.init(jax.random.key(0), x)
    if isinstance(net, jb.nets.CNN):
        flat = (*p["conv"], p["readout"])
    else:
        flat = (p["input"], tuple(p["blocks"]), p["readout"])
    chex.assert_trees_all_equal(flat, q)
    chex.assert_trees_all_equal(net.apply(p, x), net.layers.apply(q, x))
    chex.assert_trees_all_equal(net.tapped(p, x, None), net.layers.tapped(q, x, None))


@pytest.mark.parametrize("net, x", [
    (jb.nets.Transformer(8, 2, 2, 6, 11, positional="learned", causal=True, readout="first", max_len=7), TOKENS),
    (jb.nets.Transformer(8, 1, 4, 6, norm="layer_post", parameterization="ntk", bias_var=0.1), SEQUENCES),
], ids=["tokens", "sequences"])
def test_transformer_is_its_layer_recipe_and_its_layers_get_the_structured_ntk(net, x):
    """The recipe gives the family's parameters and outputs; as a plain layer net it exposes every
    parameter (attention maps and MLPs at every position, the embedding and positional tables as
    dense layers on one-hot rows), so its structured NTK equals the Jacobian method."""
    layers = net.layers
    p, q = net.init(jax.random.key(1), x), layers.init(jax.random.key(1), x)
    flat = [p["input"], *([p["positional"]] if "positional" in p else []),
            tuple(p["layers"][c] for c in ("q", "k", "v", "o", "mlp_in", "mlp_out")), p["readout"]]
    chex.assert_trees_all_equal(tuple(flat), q)
    chex.assert_trees_all_equal(net.apply(p, x), layers.apply(q, x))
    assert affine_taps(net) is None  # the family itself keeps the NTK methods it had
    structured = empirical_ntk(layers, q, x, method="structured", trace=False)
    jacobian = empirical_ntk(layers, q, x, method="jacobian", trace=False)
    np.testing.assert_allclose(structured, jacobian, rtol=1e-4, atol=1e-4)


def test_repeat_draws_and_computes_like_the_unrolled_layers():
    block = lambda cw: L.Residual(L.Serial((L.Dense(5, cw, 0.2), L.Activation("tanh"))), 0.7)  # noqa: E731
    scanned = L.Serial((L.Dense(5), L.Repeat((block(1.0), block(2.0), block(0.5))), L.Dense(1)))
    unrolled = L.Serial((L.Dense(5), block(1.0), block(2.0), block(0.5), L.Dense(1)))
    p, q = scanned.init(jax.random.key(3), X), unrolled.init(jax.random.key(3), X)
    stacked = p[1][0]
    for i in range(3):  # the same random words, layer by layer
        np.testing.assert_array_equal(stacked["w"][i], q[1 + i]["w"])
        np.testing.assert_array_equal(stacked["b"][i], q[1 + i]["b"])
    np.testing.assert_allclose(scanned.apply(p, X), unrolled.apply(q, X), rtol=1e-6, atol=1e-6)


def test_repeat_by_layer_draws_each_layer_across_the_blocks():
    """``by_layer``: layer 1 of every block, then layer 2 (the order of the ResNet and Transformer)."""
    block = lambda cw: L.Serial((L.Dense(5, cw, 0.2), L.Activation("tanh"), L.Dense(5, 2 * cw, 0.1)))  # noqa: E731
    cws = (1.0, 2.0, 0.5)
    stacked = L.Serial((L.Repeat(tuple(block(cw) for cw in cws), by_layer=True),))
    one_by_one = L.Serial(tuple(L.Dense(5, cw, 0.2) for cw in cws) + tuple(L.Dense(5, 2 * cw, 0.1) for cw in cws))
    x = np.repeat(X[:, :1], 5, axis=1)
    (p,), q = stacked.init(jax.random.key(3), x), one_by_one.init(jax.random.key(3), x)
    for j in range(2):
        for b in range(3):
            np.testing.assert_array_equal(p[j]["w"][b], q[3 * j + b]["w"])
            np.testing.assert_array_equal(p[j]["b"][b], q[3 * j + b]["b"])


def test_serial_draw_order_permutes_the_random_words():
    net = L.Serial((L.Dense(4), L.Activation("relu"), L.Dense(2)), draw=(2, 0, 1))
    swapped = L.Serial((L.Dense(2), L.Dense(4)))  # drawn in forward order: the readout's shape first
    p = net.init(jax.random.key(1), X)
    q = L.init_params(jax.random.key(1), swapped.groups((4,)))  # the readout's words, then the first layer's
    np.testing.assert_array_equal(p[1]["w"], q[0]["w"])
    first = L.init_params(jax.random.key(1), (L.Dense(2).affine((4,)), L.Dense(4).affine((3,))))
    np.testing.assert_array_equal(p[0]["w"], first[1]["w"])
    assert L.Serial((L.Dense(2),), draw=(0,)) == L.Serial((L.Dense(2),))  # the identity order is the default


def test_composed_net_gets_infinite_kernels_equal_to_the_family():
    net = jb.nets.MLP(64, 4, "tanh", residual=True, residual_scale=0.5, norm="layer_post", bias_var=0.1)
    a, b = jb.kernels.infinite(net, X), jb.kernels.infinite(net.layers, X)
    np.testing.assert_array_equal(a.nngp, b.nngp)
    np.testing.assert_array_equal(a.ntk, b.ntk)


@pytest.mark.parametrize("net, needle", [
    (L.Serial((L.Dense(4), L.BatchNorm(), L.Activation("relu"), L.Dense(1))), "BatchNorm: no infinite-width"),
    (L.Serial((L.Dense(4), L.Activation("relu"), L.FeaturePool("max"), L.Dense(1))), "FeaturePool: no"),
    (L.Serial((L.Dense(4), L.Activation("relu"))), "must end with a Dense layer"),
    (L.Serial((L.Activation("relu"), L.Dense(1))), "put a Dense layer before it"),
    (L.Serial((L.Conv(4), L.Activation("relu"), L.GlobalAvgPool(), L.Dense(1))), "Conv: no infinite-width"),
    (L.Serial((L.Dense(4), L.Activation("relu"), L.GlobalAvgPool(), L.Dense(1))), "GlobalAvgPool: no infinite-width"),
    (L.Serial((L.Dense(4), L.Activation("relu"), L.Flatten(), L.Dense(1))), "Flatten: no infinite-width"),
    (L.Serial((L.Dense(4), L.Activation("relu"), L.Pool2D("avg"), L.Dense(1))), "Pool2D: no infinite-width"),
    (L.Serial((L.Dense(4), L.SelfAttention(2), L.Dense(1))), "SelfAttention: no infinite-width"),
])
def test_layers_without_a_kernel_rule_are_named(net, needle):
    with pytest.raises(ValueError, match=needle):
        jb.kernels.infinite(net, X)


def test_composed_net_structured_ntk_matches_the_jacobian():
    net = SPECS["layers_composed"]()
    params = net.init(jax.random.key(2), X)
    structured = empirical_ntk(net, params, X, method="structured")
    jacobian = empirical_ntk(net, params, X, method="jacobian")
    np.testing.assert_allclose(structured, jacobian, rtol=1e-4, atol=1e-5)


CONV_NETS = {
    # No 1x1 convolution after the first layer here: XLA's SPMD partitioner rejects the grouped
    # convolution that vmap makes of it when the engine shards the networks over devices.
    "conv_pool_flatten": (L.Serial((L.Conv(3, (3, 2), 2, 1, 1.5, 0.1), L.Activation("tanh"), L.Pool2D("avg", 2, 1),
                                    L.Conv(2, (2, 1), padding="VALID", parameterization="ntk", bias_var=0.2),
                                    L.Activation("relu"), L.Flatten(), L.Dense(2))), IMAGES),
    "conv_repeat_residual": (L.Serial((L.Conv(3), L.Repeat.of(L.Residual(L.Serial((L.LayerNorm(), L.Activation("relu"),
                                                                                      L.Conv(3, (1, 3), bias_var=0.1))),
                                                                         0.5), 2),
                                       L.Pool2D("max"), L.GlobalAvgPool(), L.Dense(2))), IMAGES),
    "dense_on_sequences": (L.Serial((L.Dense(4, bias_var=0.1), L.Activation("tanh"),
                                     L.Repeat((L.Serial((L.Dense(4), L.Activation("erf"))),) * 2, by_layer=True),
                                     L.GlobalAvgPool(), L.Dense(2))), SEQUENCES),
}


@pytest.mark.parametrize("name", sorted(CONV_NETS))
def test_composed_conv_net_samples_and_gets_the_structured_ntk(name):
    """A composed image or sequence net samples through the engine (same outputs as ``apply``) and
    its structured NTK (conv taps, dense layers at every position as 1x1 convolutions, stacked
    taps from a Repeat) equals the Jacobian method."""
    net, x = CONV_NETS[name]
    y = jb.sample(net, x, n=2, key=5, progress=False)
    params = net.init(jax.random.fold_in(jax.random.key(5), 1), x)  # network i of a run: fold_in(key, i)
    assert y.shape == (2, x.shape[0], 2)
    np.testing.assert_allclose(y[1], net.apply(params, x), rtol=1e-5, atol=1e-6)
    structured = empirical_ntk(net, params, x, method="structured", trace=False)
    jacobian = empirical_ntk(net, params, x, method="jacobian", trace=False)
    np.testing.assert_allclose(structured, jacobian, rtol=1e-4, atol=1e-5)
