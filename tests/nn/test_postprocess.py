"""The causal motion-aware median filter: causal, a step passes through, noise on a fixation shrinks."""

import numpy as np
import pytest

from edgevision.nn.postprocess import MotionMedianFilter, motion_median_filter

SENSOR = (640, 480)


def test_causal_output_depends_only_on_the_past():
    rng = np.random.default_rng(0)
    x = 320 + rng.normal(0, 4, (60, 2))
    full = motion_median_filter(x, SENSOR)
    for t in (0, 7, 30, 59):
        changed = x.copy()
        changed[t + 1 :] += rng.normal(0, 50, changed[t + 1 :].shape)
        np.testing.assert_array_equal(motion_median_filter(changed, SENSOR)[: t + 1], full[: t + 1])
        np.testing.assert_array_equal(motion_median_filter(x[: t + 1], SENSOR), full[: t + 1])


def test_a_step_passes_through():
    x = np.zeros((20, 2)) + [100.0, 100.0]
    x[10:] += [80.0, 0.0]  # 10 px in 80x60
    y = motion_median_filter(x, SENSOR, k=5)
    np.testing.assert_array_equal(y, x)


def test_noise_on_a_fixation_shrinks():
    rng = np.random.default_rng(1)
    true = np.array([320.0, 240.0])
    x = true + rng.normal(0, 2.4, (2000, 2))  # 0.3 px (80x60) per axis
    y = motion_median_filter(x, SENSOR, k=5)
    raw, out = np.linalg.norm(x - true, axis=1).mean(), np.linalg.norm(y - true, axis=1).mean()
    assert out < 0.7 * raw
    assert np.linalg.norm(np.diff(y, axis=0), axis=1).mean() < 0.6 * np.linalg.norm(np.diff(x, axis=0), axis=1).mean()


def test_streaming_equals_batch_and_reset():
    x = np.array([[0, 0], [1, 0], [2, 0], [100, 0], [101, 0]], float)
    f = MotionMedianFilter(SENSOR, k=3, threshold=1.0)
    stream = np.stack([f.update(p) for p in x])
    np.testing.assert_array_equal(stream, motion_median_filter(x, SENSOR, k=3, threshold=1.0))
    f.reset()
    np.testing.assert_array_equal(f.update(np.array([7.0, 7.0])), [7.0, 7.0])
    with pytest.raises(ValueError):
        MotionMedianFilter(SENSOR, k=0)
