"""Live sources: a RAW/AEDAT4 file still being written (tail), dv-processing cameras and DV network streams
(a stand-in dv_processing module: no camera here), and their one-line errors."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import types

import numpy as np
import pytest

from edgevision.errors import BackendError, ConfigError, EventFormatError
from edgevision.events.core import EVENT_DTYPE
from edgevision.events.formats import read_events, write_events
from edgevision.runtime.host_model import config_input
from edgevision.runtime.backends import make_backend
from edgevision.runtime.session import run_tracker
from edgevision.runtime.sources import DVSource, open_source
from edgevision.runtime.tail import TailSource

SENSOR = (640, 480)


def _record(path, data: bytes, seed: int = 0, pause: float = 0.004) -> threading.Thread:
    """A recorder appending ``data`` to ``path`` in random-size pieces (cut anywhere)."""

    def run():
        rng = np.random.default_rng(seed)
        pos = 0
        with open(path, "ab") as fh:
            while pos < len(data):
                n = int(rng.integers(1, 15_000))
                fh.write(data[pos : pos + n])
                fh.flush()
                pos += n
                time.sleep(pause)

    th = threading.Thread(target=run, daemon=True)
    path.write_bytes(b"")
    th.start()
    return th


@pytest.mark.parametrize("ext,fmt", [("aedat4", None), ("raw", "evt3"), ("raw", "evt2")])
def test_tail_reads_a_growing_file_exactly_once(tmp_path, blob_windows, ext, fmt):
    events = np.concatenate([w.events for w in blob_windows(40)])
    full = write_events(tmp_path / f"full.{ext}", events, SENSOR, format=fmt)
    want, _ = read_events(full)
    th = _record(tmp_path / f"live.{ext}", full.read_bytes())
    src = open_source(f"tail:{tmp_path / f'live.{ext}'}")
    assert src.live and src.realtime and src.sensor_size == SENSOR
    src.idle_s = 0.3
    wins = list(src)
    th.join()
    got = np.concatenate([w.events for w in wins])
    assert np.array_equal(got, want)
    assert len(wins) == 40 and all(b.t_start == a.t_end for a, b in zip(wins, wins[1:]))
    assert not src._mirror_path.exists()  # the private mirror is removed at the end


def test_tracker_follows_a_recording_in_progress(tmp_path, tiny, blob_windows):
    model, cfg, net = tiny
    events = np.concatenate([w.events for w in blob_windows(30)])
    full = write_events(tmp_path / "full.raw", events, SENSOR, format="evt3")
    th = _record(tmp_path / "live.raw", full.read_bytes(), pause=0.01)
    src = TailSource(tmp_path / "live.raw", idle_s=0.3)
    summary = run_tracker(make_backend("int", net=net, input_clip=cfg.input.input_clip), model, config_input(cfg), src, None,
                          live=False)
    th.join()
    assert summary["windows"] + summary["dropped"] == 30 and summary["source"] == f"tail:{tmp_path / 'live.raw'}"


def test_tail_seconds_and_errors(tmp_path, blob_windows):
    events = np.concatenate([w.events for w in blob_windows(20)])
    full = write_events(tmp_path / "a.aedat4", events, SENSOR)
    src = TailSource(full, seconds=0.05, idle_s=0.2)
    assert len(list(src)) == 5
    with pytest.raises(ConfigError, match="tail follows Prophesee .raw"):
        TailSource(tmp_path / "x.h5")
    with pytest.raises(ConfigError, match="no such file after 0.2 s"):
        TailSource(tmp_path / "later.raw", start_timeout_s=0.2)
    (tmp_path / "bad.aedat4").write_bytes(b"#!NOT-AEDAT-AT-ALL\r\n")
    with pytest.raises(EventFormatError, match="not an AEDAT4 file"):
        TailSource(tmp_path / "bad.aedat4", start_timeout_s=0.2)
    (tmp_path / "half.raw").write_bytes(b"% evt 3.0\n% format EVT3;height=480;wi")  # header still being written
    with pytest.raises(ConfigError, match="header is not complete"):
        TailSource(tmp_path / "half.raw", start_timeout_s=0.2)


class _Batch:
    def __init__(self, n, t0):
        raw = np.zeros(n, [("timestamp", "<i8"), ("x", "<i2"), ("y", "<i2"), ("polarity", "i1")])
        raw["timestamp"] = t0 + np.arange(n) * (10_000 // n)
        raw["x"], raw["y"], raw["polarity"] = 10, 20, np.arange(n) % 2
        self.raw = raw

    def size(self):
        return self.raw.shape[0]

    def numpy(self):
        return self.raw


class _Reader:
    """dv-processing's camera / NetworkReader surface the source uses: 5 batches of 10 ms, then stops."""

    def __init__(self, *args):
        self.args = args
        self.left = 5

    def getEventResolution(self):  # noqa: N802 - dv-processing's names
        return (346, 260)

    def isEventStreamAvailable(self):  # noqa: N802
        return True

    def isRunning(self):  # noqa: N802
        return self.left >= 0

    def getNextEventBatch(self):  # noqa: N802
        self.left -= 1
        return _Batch(50, (4 - self.left) * 10_000) if self.left >= 0 else None


@pytest.fixture
def fake_dv(monkeypatch):
    opened = []

    def open_camera(*name):
        if name and name[0] == "missing":
            raise RuntimeError("camera not found")
        if getattr(open_camera, "none", False):
            raise IndexError("list index out of range")
        opened.append(("camera", *name))
        return _Reader(*name)

    def network(host, port):
        if port == 9:
            raise RuntimeError("Connection refused")
        opened.append(("net", host, port))
        return _Reader(host, port)

    dv = types.ModuleType("dv_processing")
    dv.io = types.SimpleNamespace(camera=types.SimpleNamespace(open=open_camera), NetworkReader=network)
    monkeypatch.setitem(sys.modules, "dv_processing", dv)
    return opened, open_camera


def test_dv_camera_and_network_stream(fake_dv):
    opened, open_camera = fake_dv
    src = open_source("dv")
    assert src.sensor_size == (346, 260) and src.live and src.name == "dv"
    wins = list(src)
    assert len(wins) == 5 and sum(w.events.shape[0] for w in wins) == 250 and wins[0].events.dtype == EVENT_DTYPE
    assert open_source("dv:DVXplorer_DXA00093").name == "dv:DVXplorer_DXA00093"
    net = open_source("dv:tcp://127.0.0.1:7777")
    assert net.name == "dv:tcp://127.0.0.1:7777" and len(list(net)) == 5
    assert open_source("dv:10.0.0.2:4040").name == "dv:tcp://10.0.0.2:4040"
    assert opened == [("camera",), ("camera", "DVXplorer_DXA00093"), ("net", "127.0.0.1", 7777), ("net", "10.0.0.2", 4040)]
    with pytest.raises(BackendError, match="no DV event stream at 127.0.0.1:9 .*Connection refused"):
        open_source("dv:tcp://127.0.0.1:9")
    with pytest.raises(ConfigError, match="port must be an integer"):
        open_source("dv:tcp://host:port")
    with pytest.raises(BackendError, match="no camera 'missing' found"):
        open_source("dv:missing")
    open_camera.none = True
    with pytest.raises(BackendError, match="no iniVation camera found"):
        DVSource()


def test_missing_libraries_and_devices_give_one_line_errors(tmp_path):
    """Through the CLI (exit 2, one line, no traceback): no dv-processing here, no camera 5, a file tail cannot follow."""
    try:
        import dv_processing  # noqa: F401

        have_dv = True
    except ImportError:
        have_dv = False
    cases = [("camera:5", "camera"), (f"tail:{tmp_path / 'x.h5'}", "tail follows Prophesee .raw")]
    if not have_dv:
        cases.append(("dv:tcp://127.0.0.1:7777", "needs dv-processing"))
    for spec, msg in cases:
        p = subprocess.run([sys.executable, "-m", "edgevision", "track", "--backend", "int", "--source", spec,
                            "--headless", "--out", str(tmp_path / "o")], capture_output=True, text=True, timeout=120)
        assert p.returncode == 2, (spec, p.stderr[-1500:])
        lines = [line for line in p.stderr.splitlines() if line.strip()]
        assert msg in lines[-1] and "Traceback" not in p.stderr, (spec, p.stderr[-1500:])
