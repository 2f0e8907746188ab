"""Per-layer arguments take an integer (a number) or a sequence of them, and say so otherwise (issue 20)."""

import numpy as np
import pytest

import jaxbias as jb


@pytest.mark.parametrize("width, got", [("64", "got str"), (2.5, "got float"), ((8, "8"), "got an entry '8'"),
                                        ((8, 8.0), "got an entry 8.0"), ((8,), "got 1 values"), (None, "got NoneType"),
                                        (True, "got bool"), ({8: 8}, "got dict"), ((8, 0), "got an entry 0")])
def test_mlp_width_says_what_it_expects(width, got):
    with pytest.raises(ValueError, match=rf"width=.*: expected an integer >= 1 or a sequence of 2 per-layer integers, "
                                         rf"{got}"):
        jb.nets.mlp(width=width, depth=2)


def test_integers_of_any_kind_are_accepted_and_stored_as_ints():
    ref = jb.nets.MLP(width=(8, 16), depth=2, weight_var=(1.0, 2.0, 1.0))
    for width in ((8, 16), [8, 16], np.array([8, 16]), (np.int64(8), np.int32(16))):
        net = jb.nets.MLP(width=width, depth=2, weight_var=np.array([1.0, 2.0, 1.0]))
        assert net == ref and hash(net) == hash(ref)
        assert all(type(w) is int for w in net.width)
    assert jb.nets.MLP(width=np.int64(8), depth=2, weight_var=np.float32(2.0)) == \
        jb.nets.MLP(width=8, depth=2, weight_var=2.0)
    cnn = jb.nets.CNN(channels=np.array([4, 8]), kernel_size=np.int64(3), stride=(1, np.int64(2)),
                      padding=np.int64(1))
    assert cnn == jb.nets.CNN(channels=(4, 8), kernel_size=3, stride=(1, 2), padding=1)


@pytest.mark.parametrize("value, got", [("1.0", "got str"), ((1.0, "x", 1.0), "got an entry 'x'"),
                                        ((1.0, 1.0), "got 2 values"), ({1: 2}, "got dict"),
                                        ((1.0, True, 1.0), "got an entry True")])
def test_per_layer_scales_say_what_they_expect(value, got):
    with pytest.raises(ValueError, match=rf"weight_var=.*: expected a number or a sequence of 3 per-layer numbers, "
                                         rf"{got}"):
        jb.nets.MLP(width=8, depth=2, weight_var=value)
