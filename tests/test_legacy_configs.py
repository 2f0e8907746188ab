"""Results files of jaxbias 0.1.0 stay reproducible: their config dicts rebuild the same networks.

``tests/data/configs_v0_1.json`` was written by jaxbias 0.1.0 (commit b429d2d, before network
specs): for each of 8 networks covering every family and most options, ``net.config`` and
``jb.sample(net, x, 3, key=5)`` on fixed inputs. Rebuilt through :func:`jaxbias.nets.from_config`,
today's specs must give the same outputs bit for bit.
"""

import json
import pathlib

import jax
import numpy as np
import pytest

import jaxbias as jb

CASES = json.loads((pathlib.Path(__file__).parent / "data" / "configs_v0_1.json").read_text())
INPUTS = {
    "x": np.random.RandomState(0).randn(6, 3).astype(np.float32),
    "img": np.random.RandomState(1).randn(4, 12, 12, 2).astype(np.float32),
    "tok": np.random.RandomState(2).randint(0, 11, size=(3, 5)).astype(np.int32),
    "seqs": np.random.RandomState(3).randn(3, 5, 4).astype(np.float32),
}


@pytest.mark.parametrize("case", CASES, ids=[f"{c['config']['arch']}{i}" for i, c in enumerate(CASES)])
def test_old_config_rebuilds_the_same_network(case):
    net = jb.nets.from_config(case["config"])
    again = jb.nets.from_dict(json.loads(json.dumps(jb.nets.to_dict(net))))
    assert again == net
    # One device, as the file was written: batch norm and layer norm reduce over axes whose
    # vectorization (hence float rounding) follows the per-device batch.
    y = jb.sample(net, INPUTS[case["x"]], n=3, key=5, progress=False, devices=jax.devices()[:1])
    np.testing.assert_array_equal(y, np.asarray(case["y"], np.float32))


def test_unknown_arch_is_refused():
    with pytest.raises(ValueError, match="arch='rnn'"):
        jb.nets.from_config({"arch": "rnn"})
