"""Hand-computed cases for the offsets, jitter and phase breakdown of edgevision.nn.metrics (80x60 space)."""

import numpy as np
import pytest

from edgevision.nn.metrics import PHASES, eye_metrics, jitter_80x60, label_phases

SENSOR = (640, 480)  # x8 to 80x60
S = np.array([8.0, 8.0])  # sensor px per 80x60 px


def still_labels(n: int, closed: tuple[int, ...] = ()) -> np.ndarray:
    lab = np.tile([320.0, 240.0, 0.0], (n, 1))
    lab[list(closed), 2] = 1.0
    return lab


def test_offsets_are_mean_signed_error_over_open_frames():
    lab = still_labels(4, closed=(3,))
    pred = lab[:, :2] + np.array([[1, -2], [2, -2], [3, -2], [400, 400]]) * S  # closed frame ignored
    m = eye_metrics(pred, lab, SENSOR)
    assert m["offset_dx"] == pytest.approx(2.0) and m["offset_dy"] == pytest.approx(-2.0)
    assert m["mean_distance"] == pytest.approx(np.mean(np.hypot([1, 2, 3], 2)))


def test_constant_offset_has_no_jitter_and_shake_has():
    lab = still_labels(6)
    m = eye_metrics(lab[:, :2] + np.array([3.0, 4.0]) * S, lab, SENSOR)
    assert m["jitter"] == 0.0 and m["mean_distance"] == pytest.approx(5.0)
    shake = lab[:, :2] + np.array([[0, 0], [1, 0]] * 3) * S  # error alternates (0, 0), (1, 0): |delta e| = 1
    assert eye_metrics(shake, lab, SENSOR)["jitter"] == pytest.approx(1.0)


def test_jitter_is_prediction_motion_minus_label_motion():
    lab = still_labels(5)
    lab[:, 0] += np.arange(5) * 0.2 * 8  # slow drift, 0.2 px per frame (a fixation)
    assert eye_metrics(lab[:, :2], lab, SENSOR)["jitter"] == 0.0  # followed exactly
    frozen = np.tile(lab[0, :2], (5, 1))  # the prediction does not move: off by 0.2 px more each frame
    assert eye_metrics(frozen, lab, SENSOR)["jitter"] == pytest.approx(0.2)


def test_jitter_pairs_stay_inside_a_recording_and_the_selection():
    err = np.array([[0, 0], [1, 0], [5, 0], [5, 0]], float)
    assert jitter_80x60(err, np.ones(4, bool), ["a", "a", "b", "b"]) == pytest.approx(0.5)  # (1 + 0) / 2
    assert jitter_80x60(err, np.ones(4, bool)) == pytest.approx(5 / 3)  # one sequence: (1 + 4 + 0) / 3
    assert np.isnan(jitter_80x60(err, np.array([True, False, True, False])))  # no selected pair


def test_phases_from_labels():
    lab = still_labels(20, closed=(15,))
    lab[5:, 0] += 8.0  # a 1 px (80x60) step between frames 4 and 5: both are in the saccade
    phase = label_phases(lab, SENSOR, saccade_speed=0.5, blink_margin=2)
    expect = np.zeros(20, int)
    expect[[4, 5]] = 1
    expect[13:18] = 2
    np.testing.assert_array_equal(phase, expect)
    assert (label_phases(lab, SENSOR, saccade_speed=1.5, blink_margin=2)[[4, 5]] == 0).all()  # below the threshold


def test_phases_do_not_cross_recordings():
    lab = still_labels(8, closed=(3,))
    lab[4:, 1] += 80.0  # the next recording starts elsewhere: not a saccade
    phase = label_phases(lab, SENSOR, recordings=["a"] * 4 + ["b"] * 4, blink_margin=2)
    np.testing.assert_array_equal(phase, [0, 2, 2, 2, 0, 0, 0, 0])


def test_eye_metrics_per_phase():
    lab = still_labels(30, closed=(25,))  # default margin 5: frames 20-29 are around the blink
    lab[5:, 0] += 8.0  # saccade frames 4, 5
    pred = lab[:, :2].copy()
    pred[[4, 5], 1] += 2 * 8.0  # 2 px off during the saccade
    pred[20:, 1] += 4 * 8.0  # 4 px off around the blink (the closed frame 25 is not scored)
    m = eye_metrics(pred, lab, SENSOR)
    ph = m["phases"]
    assert set(ph) == set(PHASES)
    assert ph["fixation"]["mean_distance"] == 0.0 and ph["fixation"]["windows"] == 18
    assert ph["fixation"]["jitter"] == 0.0 and m["jitter"] == 0.0
    assert ph["saccade"]["mean_distance"] == pytest.approx(2.0) and ph["saccade"]["p3"] == 1.0 and ph["saccade"]["p1"] == 0.0
    assert ph["saccade"]["jitter"] == 0.0  # frames 4, 5 both off by (0, 2)
    assert ph["blink"]["windows"] == 9 and ph["blink"]["mean_distance"] == pytest.approx(4.0)
    assert m["windows"] == 29 and m["mean_distance"] == pytest.approx((2 * 2 + 9 * 4) / 29)
    assert m["offset_dx"] == 0.0 and m["offset_dy"] == pytest.approx((2 * 2 + 9 * 4) / 29)
