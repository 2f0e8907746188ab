import jax
import jax.numpy as jnp

import jaxbias as jb


def test_eight_fake_devices():
    assert len(jax.devices()) == 8


def test_mlp_shapes_under_jit():
    x = jnp.ones((5, 3))
    net = jb.nets.mlp(16, 6, "tanh", out=2, bias_var=0.1, norm="layer_pre")
    p = net.init(jax.random.key(0), x)
    assert jax.jit(net.apply)(p, x).shape == (5, 2)
