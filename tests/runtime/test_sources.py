"""Sources: file replay (pacing, labels), video through the DVS emulator, spec parsing."""

from __future__ import annotations

import time

import numpy as np
import pytest

from edgevision.errors import BackendError, ConfigError
from edgevision.events.core import make_events
from edgevision.runtime.sources import FileSource, VideoSource, open_source


@pytest.fixture()
def event_file(tmp_path):
    from edgevision.datasets.layouts import format_labels
    from edgevision.events.formats import write_events

    rng = np.random.default_rng(0)
    n = 20_000
    t = np.sort(rng.integers(5_000, 5_000 + 250_000, n))  # 0.25 s starting at 5 ms
    ev = make_events(t, rng.integers(0, 640, n), rng.integers(0, 480, n), rng.integers(0, 2, n))
    path = tmp_path / "rec.npy"
    write_events(path, ev, sensor_size=(640, 480))
    labels = np.column_stack([np.arange(25) * 10.0, np.arange(25) * 5.0, np.zeros(25)])
    (tmp_path / "label.txt").write_text(format_labels(labels))
    return path, ev, labels


def test_file_replay_windows_labels_and_pacing(event_file):
    path, ev, labels = event_file
    fast = FileSource(path, realtime=False)
    t0 = time.perf_counter()
    wins = list(fast)
    assert time.perf_counter() - t0 < 0.2
    assert len(wins) == 25 and fast.labelled and fast.sensor_size == (640, 480)
    assert wins[0].t_start == int(ev["t"][0]) and all(b.t_start == a.t_end for a, b in zip(wins, wins[1:]))
    assert sum(w.events.shape[0] for w in wins) == ev.shape[0]
    np.testing.assert_array_equal(wins[7].label, labels[7])
    t0 = time.perf_counter()
    paced = list(FileSource(path, realtime=True, seconds=0.1))
    took = time.perf_counter() - t0
    assert len(paced) == 10 and 0.09 <= took < 0.5


def test_video_through_the_dvs_emulator(tmp_path):
    import cv2

    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 100.0, (160, 120))
    assert writer.isOpened()
    for k in range(12):
        frame = np.full((120, 160, 3), 40, np.uint8)
        cv2.circle(frame, (30 + 8 * k, 60), 15, (230, 230, 230), -1)
        writer.write(frame)
    writer.release()
    src = VideoSource(str(path), realtime=False, width=160, height=120)
    wins = list(src)
    assert len(wins) >= 8
    assert all(b.t_start == a.t_end and a.t_end - a.t_start == 10_000 for a, b in zip(wins, wins[1:]))
    assert sum(w.events.shape[0] for w in wins) > 100  # the moving disc produces events
    assert all((w.events["t"] >= w.t_start).all() and (w.events["t"] < w.t_end).all() for w in wins)


def test_source_specs():
    with pytest.raises(ConfigError, match="unknown source"):
        open_source("bogus")
    with pytest.raises(ConfigError, match="integer"):
        open_source("camera:x")
    with pytest.raises(ConfigError, match="not found"):
        open_source("video:/nonexistent.avi")
    try:
        import dv_processing  # noqa: F401
    except ImportError:
        with pytest.raises(BackendError, match="dv-processing"):
            open_source("dv")
