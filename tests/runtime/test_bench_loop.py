"""The burst scenario of ``edgevision bench loop`` (its structure, not its timings)."""

from __future__ import annotations

import numpy as np

from edgevision.bench.loop import BURST_FACTOR, burst


def test_burst_multiplies_events_only_inside_the_burst(blob_windows):
    wins = blob_windows(10, events=300)
    out = burst(wins, (640, 480), start=3, count=4)
    counts = [w.events.shape[0] for w in out]
    assert counts == [300] * 3 + [300 * BURST_FACTOR] * 4 + [300] * 3
    for w in out[3:7]:
        assert np.all(np.diff(w.events["t"]) >= 0) and w.events["t"].min() >= w.t_start and w.events["t"].max() < w.t_end
    assert wins[3].events.shape[0] == 300  # the input windows are untouched


def test_flood_adds_uniform_noise_inside_the_span_only(blob_windows):
    from edgevision.bench.loop import FLOOD_EVENTS, flood

    out = flood(blob_windows(6, events=300), (640, 480), start=2, count=2)
    assert [w.events.shape[0] for w in out] == [300, 300, 300 + FLOOD_EVENTS, 300 + FLOOD_EVENTS, 300, 300]
    xs = out[2].events["x"]
    assert xs.min() < 20 and xs.max() > 620  # spread over the sensor, not the scene


def test_recovery_is_sensor_time_to_a_run_of_steady_windows():
    from edgevision.bench.loop import recovery_ms

    idx = np.arange(25)
    lat = np.full(25, 1.0)
    lat[10:13] = 9.0  # slow windows just after the disturbance ends at window 10
    assert recovery_ms(idx, lat, end=10, steady_p99_ms=2.0, window_ms=10, run=5) == 30.0
    keep = idx != 15  # a dropped window breaks the run: the next run starts after it
    assert recovery_ms(idx[keep], lat[keep], end=10, steady_p99_ms=2.0, window_ms=10, run=5) == 60.0
    assert recovery_ms(idx, np.full(25, 9.0), end=10, steady_p99_ms=2.0, window_ms=10) is None
