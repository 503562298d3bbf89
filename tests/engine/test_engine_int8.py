"""The int8 engine (numba CPU and PyTorch paths) is bit-exact with the NumPy integer reference."""

import numpy as np
import pytest

from edgevision.engine import compile_ir
from edgevision.engine.plan import plan_from_ir
from edgevision.engine.torch_path import TorchEngine
from edgevision.errors import EventValidationError, IRError
from edgevision.ir.random import random_network, random_tokens
from edgevision.quant.reference import run_network

from .conftest import batch, edge_windows


@pytest.fixture(scope="module", params=[(60, 80, None), (61, 79, 7), (9, 13, 3)], ids=["60x80", "61x79-fc", "9x13-fc"])
def net(request):
    h, w, fc = request.param
    return random_network(np.random.default_rng(h), height=h, width=w, fc_out=fc, grid=(2, 3))


@pytest.mark.parametrize("density", [0.01, 0.05, 0.2, 0.6])
def test_random_windows_bit_exact(net, density):
    rng = np.random.default_rng(int(density * 100))
    engine = compile_ir(net)
    for _ in range(3):
        coords, feats = random_tokens(rng, net.input.height, net.input.width, net.input.channels, density)
        ref = run_network(net, coords, feats)
        out = engine.run(coords, feats)
        assert out.dtype == ref.dtype and out.shape == ref.shape
        np.testing.assert_array_equal(out, ref)


def test_edge_windows_bit_exact(net):
    engine = compile_ir(net)
    shape = (net.input.height, net.input.width)
    for name, (coords, feats) in edge_windows(shape, net.input.channels, np.random.default_rng(1)).items():
        np.testing.assert_array_equal(engine.run(coords, feats), run_network(net, coords, feats), err_msg=name)


def test_real_windows_bit_exact(real_windows):
    net = random_network(np.random.default_rng(5), height=60, width=80, in_ch=4, widths=(16, 24, 32), fc_out=3)
    engine = compile_ir(net)
    for coords, feats in real_windows:
        q = feats.astype(np.int8)
        np.testing.assert_array_equal(engine.run(coords, q), run_network(net, coords, q))


def test_torch_path_bit_exact_on_a_batch(net):
    rng = np.random.default_rng(3)
    shape = (net.input.height, net.input.width)
    wins = list(edge_windows(shape, net.input.channels, rng).values())
    wins.append(random_tokens(rng, *shape, net.input.channels, 0.1))
    out = TorchEngine(plan_from_ir(net)).run(batch(wins, shape))
    for i, (coords, feats) in enumerate(wins):
        np.testing.assert_array_equal(out[i].numpy(), run_network(net, coords, feats))


def test_saturation_and_ties_match():
    """Large multipliers push outputs into the clip range; shift 1 makes exact .5 ties common."""
    net = random_network(np.random.default_rng(11), fc_out=4)
    for lay in net.layers:
        if "mult" in lay.tensors:
            lay.tensors["mult"] = (lay.tensors["mult"] * 8).astype(np.int32)
    net.layers[0].attrs["shift"] = 1
    net.layers[0].tensors["mult"][:] = 1
    coords, feats = random_tokens(np.random.default_rng(0), 60, 80, 4, 0.3)
    np.testing.assert_array_equal(compile_ir(net).run(coords, feats), run_network(net, coords, feats))


def test_bad_input_raises_typed_errors():
    net = random_network(np.random.default_rng(0))
    engine = compile_ir(net)
    feats = np.ones((2, 4), np.int8)
    with pytest.raises(EventValidationError, match="raster order"):
        engine.run(np.array([[3, 4], [1, 1]], np.int32), feats)
    with pytest.raises(EventValidationError, match="raster order"):
        engine.run(np.array([[1, 1], [1, 1]], np.int32), feats)
    with pytest.raises(EventValidationError, match="outside"):
        engine.run(np.array([[0, 0], [60, 0]], np.int32), feats)
    with pytest.raises(EventValidationError, match="quantize"):
        engine.run(np.array([[0, 0], [0, 1]], np.int32), np.full((2, 4), 200))
    with pytest.raises(EventValidationError, match="feats"):
        engine.run(np.array([[0, 0], [0, 1]], np.int32), np.ones((2, 3), np.int8))


def test_fc_overflow_is_reported():
    net = random_network(np.random.default_rng(0), fc_out=2)
    fc = net.layer("fc")
    fc.tensors["bias"][:] = np.iinfo(np.int32).max
    fc.tensors["weight"][:] = 127
    coords, feats = random_tokens(np.random.default_rng(0), 60, 80, 4, 0.5)
    with pytest.raises(IRError, match="overflows int32"):
        run_network(net, coords, feats)
    with pytest.raises(IRError, match="overflows int32"):
        compile_ir(net).run(coords, feats)


def test_wide_layers_fall_back_to_float64_and_stay_exact():
    """A 2x2 conv over 272 channels sums 1088 int8 products: past float32's exact range, so float64 is used."""
    rng = np.random.default_rng(9)
    narrow = compile_ir(random_network(rng))
    wide_net = random_network(rng, height=20, width=24, widths=(272, 8), expand=1)
    wide = compile_ir(wide_net)
    assert narrow._params.dtype == np.float32 and wide._params.dtype == np.float64
    for d in (0.1, 1.0):
        coords, feats = random_tokens(rng, 20, 24, 4, d)
        np.testing.assert_array_equal(wide.run(coords, feats), run_network(wide_net, coords, feats))


def test_shipped_eye_ir_bit_exact_on_real_windows(real_windows):
    from pathlib import Path

    from edgevision.ir.schema import load_ir
    from edgevision.quant.reference import quantize_input

    path = Path(__file__).resolve().parents[2] / "models" / "eye_small_int8"
    if not (path / "network.json").is_file():
        pytest.skip("no shipped int8 eye IR")
    net = load_ir(path)
    engine = compile_ir(net)
    for coords, feats in real_windows:
        q = quantize_input(feats, net.input)
        np.testing.assert_array_equal(engine.run(coords, q), run_network(net, coords, q))


def test_bias_beyond_float32_stays_exact():
    """A bias above 2**24 (not exact in float32) keeps the engine bit-exact: the plan then packs float64."""
    net = random_network(np.random.default_rng(8), height=8, width=9, in_ch=2, widths=(4,), grid=(1, 1))
    stem = net.layer("stem")
    a = (1 << 24) + 1  # float32 holds 2**24 instead
    shift = 42
    lo, hi = int(100 * 2 ** shift / a), int(101 * 2 ** shift / a)  # stem outputs about 100
    mult = next(m for m in range(lo, hi) if (a * m + (1 << 41)) >> shift != ((a - 1) * m + (1 << 41)) >> shift)
    stem.tensors["weight"][:] = 0
    stem.tensors["bias"][:] = a
    stem.tensors["mult"][:] = mult
    stem.attrs["shift"] = shift
    coords, feats = random_tokens(np.random.default_rng(9), 8, 9, 2, 0.5)
    ref = run_network(net, coords, feats, return_all=True)
    assert int(ref["stem"][1][0, 0]) == (a * mult + (1 << 41)) >> shift <= 127
    np.testing.assert_array_equal(compile_ir(net).run(coords, feats), ref[net.output])
