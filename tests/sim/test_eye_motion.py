import numpy as np
import pytest

from edgevision.sim.eye_motion import MotionParams, generate_motion, saccade_duration_s


def test_saccades_follow_the_main_sequence():
    p = MotionParams()
    for amp in (1.0, 5.0, 10.0, 20.0):
        d = saccade_duration_s(amp, p)
        vpeak = 1.875 * amp / d  # minimum-jerk peak velocity
        assert vpeak == pytest.approx(500.0 * (1 - np.exp(-amp / 15.0)), rel=1e-6)
    assert 0.02 < saccade_duration_s(10.0, p) < 0.1


def test_generated_velocities_and_ranges_are_physiological():
    m = generate_motion(20.0, np.random.default_rng(1))
    dt = m.grid_us * 1e-6
    speed = np.hypot(np.diff(m.yaw), np.diff(m.pitch)) / dt
    assert speed.max() < 520.0  # below the main-sequence asymptote
    assert np.mean(speed > 30.0) < 0.25  # mostly fixating / pursuing
    assert np.mean(speed > 100.0) > 0.005  # but saccades happen
    assert np.abs(m.yaw).max() < 24 and np.abs(m.pitch).max() < 18
    assert 0.6 < m.pupil_scale.min() and m.pupil_scale.max() < 1.6


def test_blinks_close_fast_and_reopen_slower():
    p = MotionParams(blink_rate_hz=1.0)
    m = generate_motion(10.0, np.random.default_rng(2), p)
    shut = m.lid_open < 0.05
    assert shut.any() and np.mean(m.lid_open < 1) < 0.5
    # first blink: closing (1 -> 0) then opening (0 -> 1) durations
    start = np.flatnonzero(m.lid_open < 1)[0]
    bottom = start + np.argmin(m.lid_open[start : start + 2000])
    end = bottom + np.flatnonzero(m.lid_open[bottom:] >= 1)[0]
    closing_ms = (bottom - start) * m.grid_us / 1000
    opening_ms = (end - bottom) * m.grid_us / 1000
    assert 70 < closing_ms < 200 and 140 < opening_ms < 300


def test_motion_is_deterministic_for_a_seed():
    a = generate_motion(2.0, np.random.default_rng(7))
    b = generate_motion(2.0, np.random.default_rng(7))
    assert np.array_equal(a.yaw, b.yaw) and np.array_equal(a.lid_open, b.lid_open)


def test_partial_blinks_stop_before_closing():
    m = generate_motion(20.0, np.random.default_rng(3), MotionParams(blink_rate_hz=1.0, partial_blinks=1.0))
    assert (m.lid_open < 0.9).any() and m.lid_open.min() > 0.25
    full = generate_motion(20.0, np.random.default_rng(3), MotionParams(blink_rate_hz=1.0))
    assert full.lid_open.min() < 0.05


def test_camera_slippage_is_slow_and_bounded():
    m = generate_motion(10.0, np.random.default_rng(4), MotionParams(slippage_px=4.0))
    speed = np.linalg.norm(np.diff(m.slip, axis=0), axis=1) / (m.grid_us * 1e-6)
    assert np.abs(m.slip).max() <= 12.0 and np.ptp(m.slip, axis=0).max() > 1.0
    assert speed.max() < 30.0  # px/s: a drift over seconds, not a jump
    assert not generate_motion(1.0, np.random.default_rng(4)).slip.any()
    cont = generate_motion(1.0, np.random.default_rng(5), MotionParams(slippage_px=4.0), slip_start=m.slip[-1])
    assert np.array_equal(cont.slip[0], m.slip[-1])

