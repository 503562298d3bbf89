import cv2
import numpy as np
import pytest

from edgevision.errors import ConfigError
from edgevision.events.core import EVENT_DTYPE, validate_events
from edgevision.sim.dvs import DVSEmulator, DVSParams, emulate_video

QUIET = DVSParams(
    width=8, height=4, threshold_sigma=0.0, cutoff_hz=0.0, leak_rate_hz=0.0, shot_noise_rate_hz=0.0,
    hot_pixel_fraction=0.0, refractory_us=0,
)


def frame(value: int, p: DVSParams = QUIET) -> np.ndarray:
    return np.full((p.height, p.width), value, np.uint8)


@pytest.mark.parametrize("v1, polarity", [(101, 1), (25, 0)])
def test_step_of_k_thresholds_gives_k_events_with_interpolated_times(v1, polarity):
    emu = DVSEmulator(QUIET)
    emu.step(frame(50), 1000)
    ev = emu.step(frame(v1), 2000)
    validate_events(ev, (QUIET.width, QUIET.height))
    delta = abs(np.log(v1) - np.log(50))
    assert int(delta / 0.2) == 3
    assert ev.shape[0] == 3 * QUIET.width * QUIET.height
    assert np.all(ev["p"] == polarity)
    # every pixel fires at the three interpolated crossing times
    expected = 1000 + np.round(np.array([0.2, 0.4, 0.6]) / delta * 1000).astype(np.int64)
    per_pixel = ev[(ev["x"] == 3) & (ev["y"] == 2)]["t"]
    np.testing.assert_allclose(per_pixel, expected, atol=1)
    assert np.all((ev["t"] >= 1000) & (ev["t"] < 2000))


def test_constant_input_without_noise_gives_no_events():
    emu = DVSEmulator(QUIET)
    total = sum(emu.step(frame(120), t).shape[0] for t in range(0, 200_000, 1000))
    assert total == 0


def test_refractory_period_drops_crossings_but_moves_the_reference():
    emu = DVSEmulator(QUIET.replace(refractory_us=5000))
    emu.step(frame(50), 0)
    ev = emu.step(frame(101), 1000)
    assert ev.shape[0] == QUIET.width * QUIET.height  # one of three crossings per pixel survives
    # the reference moved by all three thresholds: staying at the new level emits nothing more
    assert emu.step(frame(101), 20_000).shape[0] == 0
    back = emu.step(frame(50), 21_000)
    assert back.shape[0] > 0 and np.all(back["p"] == 0)


def test_noise_rates_are_roughly_as_set():
    p = QUIET.replace(width=100, height=100, leak_rate_hz=1.0, shot_noise_rate_hz=2.0, seed=3)
    emu = DVSEmulator(p)
    chunks = [emu.step(frame(100, p), t) for t in range(0, 5_000_001, 10_000)]
    ev = np.concatenate(chunks)
    n_pix, seconds = 100 * 100, 5.0
    # leak: ON only at ~1 Hz; shot noise: 2 Hz with both polarities
    n_off = int((ev["p"] == 0).sum())
    n_on = int((ev["p"] == 1).sum())
    assert n_off == pytest.approx(0.5 * 2.0 * n_pix * seconds, rel=0.1)
    assert n_on - n_off == pytest.approx(1.0 * n_pix * seconds, rel=0.15)
    assert np.all(np.diff(ev["t"]) >= 0)


def test_hot_pixels_fire_at_their_rate():
    p = QUIET.replace(width=100, height=100, hot_pixel_fraction=0.001, hot_pixel_rate_hz=100.0)
    emu = DVSEmulator(p)
    ev = np.concatenate([emu.step(frame(100, p), t) for t in range(0, 2_000_001, 10_000)])
    pix = np.unique(ev["y"].astype(int) * 100 + ev["x"])
    assert pix.shape[0] == 10
    assert ev.shape[0] == pytest.approx(10 * 100 * 2.0, rel=0.2)


def test_region_update_lets_static_pixels_catch_up_later():
    p = QUIET.replace(width=16, height=8)
    emu = DVSEmulator(p)
    emu.step(frame(50, p), 0)
    moved = frame(50, p)
    moved[:, 8:] = 101
    ev = emu.step(moved, 1000, region=(0, 8, 0, 8))  # promise: columns 8.. unchanged (here a lie)
    assert ev.shape[0] == 0
    ev = emu.step(moved, 2000)  # full update: the skipped pixels fire, interpolated over their 2 ms
    assert ev.shape[0] == 3 * 8 * 8 and np.all(ev["x"] >= 8)


def test_threshold_mismatch_and_determinism():
    p = DVSParams(width=32, height=32, seed=5)
    a, b = DVSEmulator(p), DVSEmulator(p)
    assert a.thr_on.std() == pytest.approx(0.03, rel=0.2)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (32, 32), dtype=np.uint8) for _ in range(5)]
    ea = np.concatenate([a.step(f, i * 1000) for i, f in enumerate(frames)])
    eb = np.concatenate([b.step(f, i * 1000) for i, f in enumerate(frames)])
    assert ea.dtype == EVENT_DTYPE and np.array_equal(ea, eb)


def test_float_frames_and_bad_input():
    emu = DVSEmulator(QUIET)
    emu.step(np.full((4, 8), 50.0, np.float32), 0)
    assert emu.step(np.full((4, 8), 101.0, np.float32), 1000).shape[0] == 3 * 32
    with pytest.raises(ConfigError):
        emu.step(frame(50), 1000)  # not after the previous frame
    with pytest.raises(ConfigError):
        emu.step(np.zeros((5, 5), np.uint8), 5000)


def test_emulate_video_reads_frames_from_an_opencv_video(tmp_path):
    path = str(tmp_path / "bar.avi")
    vw = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 100.0, (64, 48))
    for k in range(10):
        img = np.full((48, 64, 3), 40, np.uint8)
        img[:, 10 + 3 * k : 20 + 3 * k] = 200
        vw.write(img)
    vw.release()
    p = DVSParams(width=64, height=48, leak_rate_hz=0.0, shot_noise_rate_hz=0.0, hot_pixel_fraction=0.0)
    chunks = list(emulate_video(path, p, fps=100.0))
    assert len(chunks) == 10
    ev = np.concatenate(chunks)
    assert ev.shape[0] > 100 and set(np.unique(ev["p"])) == {0, 1}
    validate_events(ev, (64, 48))
