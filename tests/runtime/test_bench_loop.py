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
