import numpy as np
import pytest

from edgevision.errors import EventValidationError
from edgevision.ir.random import random_network, random_tokens
from edgevision.ir.schema import grid_input
from edgevision.quant.reference import dequantize_output, quantize_input, run_network

from .dense_oracle import run_dense


@pytest.mark.parametrize("density", [0.0, 0.02, 0.2, 1.0])
@pytest.mark.parametrize("fc_out", [None, 5])
def test_sparse_reference_equals_dense_oracle(density, fc_out):
    rng = np.random.default_rng(int(density * 100) + (fc_out or 0))
    for _ in range(3):
        net = random_network(rng, height=11, width=14, in_ch=3, widths=(6, 8), grid=(2, 3), fc_out=fc_out)
        coords, feats = random_tokens(rng, 11, 14, 3, density)
        got = run_network(net, coords, feats)
        np.testing.assert_array_equal(got, run_dense(net, coords, feats))
        assert got.dtype == (np.int32 if fc_out else np.int8)


def test_single_site_and_borders():
    rng = np.random.default_rng(1)
    net = random_network(rng, height=9, width=7, in_ch=2, widths=(4,), grid=(3, 2))
    for y, x in [(0, 0), (8, 6), (0, 6), (8, 0), (4, 3)]:
        coords = np.array([[y, x]], np.int32)
        feats = np.array([[5, 9]], np.int8)
        np.testing.assert_array_equal(run_network(net, coords, feats), run_dense(net, coords, feats))


def test_return_all_gives_every_layer():
    rng = np.random.default_rng(2)
    net = random_network(rng, height=10, width=10, in_ch=2, widths=(4,), fc_out=3)
    coords, feats = random_tokens(rng, 10, 10, 2, 0.3)
    acts = run_network(net, coords, feats, return_all=True)
    assert list(acts) == [lay.name for lay in net.layers]
    c, f = acts["down0"]
    assert c.shape[0] == f.shape[0] and f.dtype == np.int8 and c.max() < 5
    np.testing.assert_array_equal(acts["fc"], run_network(net, coords, feats))
    assert dequantize_output(net, acts["fc"]).dtype == np.float32


def test_quantize_input_rounds_half_up_and_saturates():
    spec = grid_input(4, 4, 3, scale=0.5)
    q = quantize_input(np.array([[0.25, -0.25, 100.0], [0.74, -0.76, -100.0]]), spec)
    np.testing.assert_array_equal(q, [[1, 0, 127], [1, -2, -128]])
    assert q.dtype == np.int8


def test_bad_tokens_are_typed_errors():
    rng = np.random.default_rng(3)
    net = random_network(rng, height=6, width=6, in_ch=2, widths=(4,))
    with pytest.raises(EventValidationError, match="raster order"):
        run_network(net, np.array([[1, 1], [0, 0]], np.int32), np.ones((2, 2), np.int8))
    with pytest.raises(EventValidationError, match="outside"):
        run_network(net, np.array([[6, 0]], np.int32), np.ones((1, 2), np.int8))
    with pytest.raises(EventValidationError, match="channels"):
        run_network(net, np.array([[0, 0]], np.int32), np.ones((1, 3), np.int8))
    with pytest.raises(EventValidationError, match="quantize_input"):
        run_network(net, np.array([[0, 0]], np.int32), np.ones((1, 2), np.float32))
