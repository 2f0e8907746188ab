"""Orthogonal weight law: equals numpy's sign-fixed QR of the same Gaussian matrix; batched inits finish."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxbias as jb
from jaxbias.nets.weight_laws import _normal, get_weight_law, unit_weight_noise


@pytest.mark.parametrize("shape", [(12, 5), (5, 12), (16, 16)])
def test_orthogonal_is_the_unique_positive_qr(shape):
    bits = jax.random.bits(jax.random.key(3), (shape[0] * shape[1],), jnp.uint32)
    big, small = max(shape), min(shape)
    a = np.asarray(_normal(bits, jnp.float32), np.float64).reshape(big, small)
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))[None, :]  # the Q with diag(R) > 0 is unique
    ref = (q if shape[0] >= shape[1] else q.T) * np.sqrt(big)
    got = np.asarray(unit_weight_noise(bits, get_weight_law("orthogonal"), shape), np.float64)
    np.testing.assert_allclose(got, ref, atol=2e-4 * np.sqrt(big))


def test_vmapped_orthogonal_init_of_many_networks():
    # 256 networks with three orthogonal layers each in one program (LAPACK QR stalled here on 2 cores)
    net = jb.nets.mlp(16, 2, "relu", weight_law="orthogonal", weight_var=2.0, out=4)
    x = np.ones((1, 8), np.float32)
    gram = jb.reduce(net, x, n=256, key=0, stat=lambda y: y, progress=False, micro_batch=None)
    assert gram.shape == (256, 1, 4) and np.all(np.isfinite(gram))
    keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.key(0), i))(jnp.arange(256))
    w = jax.jit(jax.vmap(lambda k: net.init(k, x)["layers"][1]["w"]))(keys)
    np.testing.assert_allclose(np.einsum("nij,nik->njk", w, w), np.broadcast_to(2.0 * np.eye(16), (256, 16, 16)),
                               atol=1e-4)
