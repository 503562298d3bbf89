import numpy as np
import pytest

from edgevision.quant.requant import pool_average, quantize_multiplier, requantize, round_half_up


def test_exact_ties_round_half_up_also_for_negatives():
    acc = np.array([1, 3, 5, -1, -3, -5, 2, -2])  # / 2 -> 0.5 1.5 2.5 -0.5 -1.5 -2.5 1 -1
    out = requantize(acc, 1, 1, -128, 127)
    np.testing.assert_array_equal(out, [1, 2, 3, 0, -1, -2, 1, -1])


def test_just_below_and_above_ties():
    s = 8
    half = 1 << (s - 1)
    acc = np.array([half - 1, half, half + 1, -half - 1, -half, -half + 1])
    np.testing.assert_array_equal(requantize(acc, 1, s, -128, 127), [0, 1, 1, -1, 0, 0])


def test_saturation_at_int8_and_relu_limits():
    acc = np.array([10**6, -(10**6), 127 * 4 + 1, -128 * 4 - 3])
    np.testing.assert_array_equal(requantize(acc, 1, 2, -128, 127), [127, -128, 127, -128])
    np.testing.assert_array_equal(requantize(acc, 1, 2, 0, 127), [127, 0, 127, 0])


def test_large_accumulators_stay_exact_in_int64():
    acc = np.array([2**31 - 1, -(2**31)], dtype=np.int64)
    m, s = (2**31 - 1), 40
    got = requantize(acc, m, s, -(2**62), 2**62)
    want = [(int(a) * m + (1 << (s - 1))) >> s for a in acc]  # Python ints: exact
    np.testing.assert_array_equal(got, want)


def test_per_channel_multiplier_broadcasts_on_last_axis():
    acc = np.full((3, 2), 100)
    out = requantize(acc, np.array([1 << 4, 3 << 4]), 5, -128, 127)
    np.testing.assert_array_equal(out, [[50, 127]] * 3)


@pytest.mark.parametrize("scales", [[0.5], [1e-3, 2e-3, 7e-4], [0.999, 1.0], [3.7e-6, 0.0]])
def test_quantize_multiplier_is_accurate_and_int32(scales):
    m, s = quantize_multiplier(np.array(scales))
    assert m.dtype == np.int32 and s >= 1
    assert int(m.max()) < 2**31
    assert round_half_up(max(scales) * 2.0 ** (s + 1)) >= 2**31  # the largest shift that fits
    np.testing.assert_allclose(m / 2.0**s, scales, rtol=2e-9, atol=2.0**-s)


def test_quantize_multiplier_limits():
    m, s = quantize_multiplier(1e-9, max_shift=20)
    assert s == 20 and m[0] == 0
    with pytest.raises(ValueError):
        quantize_multiplier(2.0**31)
    with pytest.raises(ValueError):
        quantize_multiplier(-1.0)


def test_pool_average_rounds_half_up_and_handles_empty_cells():
    sums = np.array([[3], [-3], [5], [0], [10000]])
    counts = np.array([2, 2, 0, 3, 1])
    out = pool_average(sums, counts, np.array([1 << 4]), 4, -128, 127)  # mean: 1.5 -1.5 (empty) 0 10000
    np.testing.assert_array_equal(out[:, 0], [2, -1, 0, 0, 127])


def test_round_half_up():
    np.testing.assert_array_equal(round_half_up([0.5, 1.5, -0.5, -1.5, 2.4999]), [1, 2, 0, -1, 2])
