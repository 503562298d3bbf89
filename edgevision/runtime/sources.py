"""Event sources for the tracker, each a stream of fixed-length :class:`TrackWindow` s (``window_us``: the
model's slice, ``InputSpec.slice_us``; the synthetic camera's are 10 ms).

``synthetic`` (built-in near-eye camera, labelled), ``file:PATH`` (replay, real-time paced or as fast as
possible; a 3ET+ ``label.txt`` beside the file adds labels), ``camera:N`` / ``video:PATH`` (OpenCV frames
through the DVS emulator) and ``dv`` (a live iniVation camera via dv-processing).

``realtime`` sources deliver a window only once its end time has passed on the wall clock (a camera does so
by itself; replays and the synthetic camera are paced), and the tracker drops windows it cannot serve in time;
the others deliver as fast as they can and the tracker applies back-pressure instead of dropping.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from edgevision.errors import BackendError, ConfigError
from edgevision.events.core import EVENT_DTYPE

WINDOW_US = 10_000  # the synthetic camera's frame period, and the default of a source made without a model


@dataclass
class TrackWindow:
    """One window: ``[t_start, t_end)`` in us, its events, and its label (x, y, closed) in sensor px if known."""

    index: int
    t_start: int
    t_end: int
    events: np.ndarray
    label: np.ndarray | None = None
    ready: float | None = None  # perf_counter() when the window entered the tracker's queue


class Source:
    """Base: ``sensor_size`` (width, height), ``window_us``, ``realtime``, ``labelled``, iteration yields windows.

    ``live`` sources (cameras) arrive in real time by themselves; the others are paced when ``realtime``.
    """

    name = "source"
    sensor_size: tuple[int, int] = (640, 480)
    window_us = WINDOW_US
    realtime = False
    live = False
    labelled = False

    def windows(self) -> Iterator[TrackWindow]:
        raise NotImplementedError

    def __len__(self) -> int:
        """Windows this source will deliver (0 when unknown: a camera, an unbounded stream)."""
        seconds = getattr(self, "seconds", None)
        return int(round(seconds * 1e6 / self.window_us)) if seconds else 0

    def __iter__(self) -> Iterator[TrackWindow]:
        return paced(self.windows()) if self.realtime and not self.live else self.windows()


def paced(windows: Iterable[TrackWindow], speed: float = 1.0) -> Iterator[TrackWindow]:
    """Yield each window when its end time has passed on the wall clock (relative to the first one)."""
    origin: tuple[float, int] | None = None
    for w in windows:
        if origin is None:
            origin = (time.perf_counter(), w.t_start)
        due = origin[0] + (w.t_end - origin[1]) / 1e6 / speed
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        yield w


def cut_windows(chunks: Iterable[np.ndarray], t_start: int | None = None, window_us: int = WINDOW_US) -> Iterator[TrackWindow]:
    """Fixed, gap-free windows over time-ordered event chunks (see :func:`edgevision.events.windows.stream_time_windows`)."""
    from edgevision.events.windows import stream_time_windows

    for i, w in enumerate(stream_time_windows(chunks, window_us, t_start=t_start)):
        yield TrackWindow(i, int(w.t_start), int(w.t_end), w.events)


class ReplaySource(Source):
    """Windows held in memory (pre-generated or read from a file), optionally paced in real time."""

    name = "replay"

    def __init__(self, windows: list[TrackWindow], sensor_size: tuple[int, int], realtime: bool = True) -> None:
        self._windows = windows
        self.sensor_size = tuple(sensor_size)
        if windows:
            self.window_us = windows[0].t_end - windows[0].t_start
        self.realtime = realtime
        self.labelled = bool(windows) and windows[0].label is not None

    def windows(self) -> Iterator[TrackWindow]:
        return iter(self._windows)

    def __len__(self) -> int:
        return len(self._windows)


class FileSource(ReplaySource):
    """Replay of an event file (any format :func:`edgevision.events.formats.read_events` reads).

    Windows start at the first event (the 3ET+ convention), so label line i pairs with window i.
    """

    def __init__(self, path: str | Path, realtime: bool = True, labels: str | Path | None = None, seconds: float | None = None,
                 window_us: int = WINDOW_US) -> None:
        from edgevision.events.formats import read_events
        from edgevision.events.windows import time_windows

        path = Path(path)
        events, sensor = read_events(path)
        from edgevision.datasets.layouts import LABEL_FILE, LABEL_PERIOD_US, parse_labels

        label_path = Path(labels) if labels is not None else path.parent / LABEL_FILE
        label_rows = None
        if labels is not None or label_path.is_file():
            if not label_path.is_file():
                raise ConfigError(f"{label_path}: label file not found")
            label_rows = parse_labels(label_path.read_text(), label_path)
            if window_us != LABEL_PERIOD_US:
                raise ConfigError(f"{label_path}: labels are {LABEL_PERIOD_US // 1000} ms apart but the model slices "
                                  f"{window_us} us windows; they would pair with the wrong windows")
        if events.shape[0] == 0:
            raise ConfigError(f"{path}: no events to replay")
        t0 = int(events["t"][0])
        t_end = int(events["t"][-1]) + 1
        if seconds is not None:
            t_end = min(t_end, t0 + int(seconds * 1e6))
        idx = time_windows(events, window_us, t_start=t0, t_end=t_end)
        wins = [
            TrackWindow(k, int(idx.t_start[k]), int(idx.t_start[k]) + window_us, events[idx.start[k] : idx.stop[k]],
                        label_rows[k] if label_rows is not None and k < len(label_rows) else None)
            for k in range(len(idx))
        ]
        super().__init__(wins, (sensor.width, sensor.height), realtime)
        self.window_us = window_us
        self.name = f"file:{path}"
        self.labelled = label_rows is not None


class SyntheticSource(Source):
    """The built-in labelled near-eye event camera (:class:`edgevision.sim.eye_camera.SyntheticEyeCamera`)."""

    name = "synthetic"
    labelled = True
    realtime = True

    def __init__(self, seconds: float, seed: int = 0, realtime: bool = True) -> None:
        from edgevision.datasets.threeet import SENSOR_SIZE

        self.seconds = seconds
        self.seed = seed
        self.realtime = realtime
        self.sensor_size = tuple(SENSOR_SIZE)

    def windows(self) -> Iterator[TrackWindow]:
        from edgevision.sim.eye_camera import SyntheticEyeCamera

        for i, (events, label) in enumerate(SyntheticEyeCamera(self.seed).stream(self.seconds)):
            yield TrackWindow(i, i * WINDOW_US, (i + 1) * WINDOW_US, events, np.asarray(label, np.float64))


@contextlib.contextmanager
def quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's own log lines (``[ WARN:0@...] ... can't open camera by index``) while inside.

    The failures they describe reach the user as our one-line error instead. The level is process-wide;
    it is restored on exit.
    """
    import cv2

    log = cv2.utils.logging
    old = log.getLogLevel()
    log.setLogLevel(log.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        log.setLogLevel(old)


class VideoSource(Source):
    """OpenCV video file (``video:PATH``) or camera (``camera:N``) converted to events by the DVS emulator.

    A camera is probed when the source is created: no camera at the index is a :class:`BackendError`
    before the tracker starts, with OpenCV's own warning lines silenced.
    """

    def __init__(self, target: str | int, realtime: bool, seconds: float | None = None, width: int = 640, height: int = 480,
                 window_us: int = WINDOW_US) -> None:
        self.target = target
        self.window_us = window_us
        self.live = isinstance(target, int)
        self.realtime = realtime or self.live
        self.seconds = seconds
        self.sensor_size = (width, height)
        self.name = f"camera:{target}" if isinstance(target, int) else f"video:{target}"
        if self.live:
            import cv2

            with quiet_opencv():
                cap = cv2.VideoCapture(target)
                opened = cap.isOpened()
                cap.release()
            if not opened:
                raise BackendError(f"{self.name}: OpenCV finds no camera at index {target}; plug one in or use --source synthetic")

    def windows(self) -> Iterator[TrackWindow]:
        from edgevision.sim.dvs import DVSParams, emulate_video

        params = DVSParams(width=self.sensor_size[0], height=self.sensor_size[1])
        with quiet_opencv():
            chunks = emulate_video(self.target, params)
            for w in cut_windows(chunks, t_start=0, window_us=self.window_us):
                if self.seconds is not None and w.t_end > self.seconds * 1e6:
                    return
                yield w


class DVSource(Source):
    """A live iniVation camera or DV network stream through dv-processing.

    ``target`` None: the first camera (``dv.io.camera.open()``); a camera name (``DVXplorer_DXA00093``):
    that camera; ``tcp://HOST:PORT`` (or ``HOST:PORT``): an event stream served by DV / ``dv.io.NetworkWriter``
    (``dv.io.NetworkReader``)."""

    name = "dv"
    realtime = True
    live = True

    def __init__(self, seconds: float | None = None, target: str | None = None, window_us: int = WINDOW_US) -> None:
        self.window_us = window_us
        try:
            import dv_processing as dv
        except ImportError:
            raise BackendError("the dv source needs dv-processing (pip install 'edgevision[camera]') and an iniVation "
                               "camera or a DV stream") from None
        host, port = _network_target(target)
        if host is not None:
            self.name = f"dv:tcp://{host}:{port}"
            try:
                self._camera = dv.io.NetworkReader(host, port)
            except (RuntimeError, OSError) as exc:
                raise BackendError(f"no DV event stream at {host}:{port} ({exc}); start the stream (DV's 'Network TCP "
                                   "server' output) or check the address") from None
            if hasattr(self._camera, "isEventStreamAvailable") and not self._camera.isEventStreamAvailable():
                raise BackendError(f"the DV stream at {host}:{port} carries no events (frames or IMU only?)")
        else:
            self.name = f"dv:{target}" if target else "dv"
            try:
                self._camera = dv.io.camera.open(target) if target else dv.io.camera.open()
            except (IndexError, RuntimeError) as exc:
                which = f"camera {target!r}" if target else "iniVation camera"
                raise BackendError(f"no {which} found by dv-processing ({exc}); plug one in or use --source synthetic") from None
        res = self._camera.getEventResolution()
        if res is None:
            raise BackendError(f"{self.name}: dv-processing reports no event resolution (not an event camera/stream)")
        self.sensor_size = (int(res[0]), int(res[1]))
        self.seconds = seconds

    def _chunks(self) -> Iterator[np.ndarray]:
        while self._camera.isRunning():
            batch = self._camera.getNextEventBatch()
            if batch is None or batch.size() == 0:
                time.sleep(0.001)
                continue
            raw = batch.numpy()
            out = np.empty(raw.shape[0], EVENT_DTYPE)
            out["t"], out["x"], out["y"], out["p"] = raw["timestamp"], raw["x"], raw["y"], raw["polarity"]
            yield out

    def windows(self) -> Iterator[TrackWindow]:
        for w in cut_windows(self._chunks(), window_us=self.window_us):
            if self.seconds is not None and w.index >= self.seconds * 1e6 / self.window_us:
                return
            yield w


def _network_target(target: str | None) -> tuple[str | None, int]:
    """(host, port) of ``tcp://HOST:PORT`` or ``HOST:PORT``; (None, 0) for a camera name or None."""
    if not target:
        return None, 0
    rest = target[len("tcp://"):] if target.startswith("tcp://") else target
    host, sep, port = rest.rpartition(":")
    if not sep or not host:
        if target.startswith("tcp://"):
            raise ConfigError(f"DV stream address must be tcp://HOST:PORT, got {target!r}")
        return None, 0
    try:
        number = int(port)
    except ValueError:
        if target.startswith("tcp://"):
            raise ConfigError(f"DV stream port must be an integer, got {port!r}") from None
        return None, 0
    if not 0 < number < 65536:
        raise ConfigError(f"DV stream port must be 1-65535, got {number}")
    return host, number


def open_source(spec: str, seconds: float | None = None, realtime: bool = True, seed: int = 0,
                window_us: int = WINDOW_US) -> Source:
    """Parse ``synthetic | file:PATH | tail:PATH | camera:N | video:PATH | dv[:NAME|:tcp://HOST:PORT]`` into a
    :class:`Source` of ``window_us`` windows (``tail``: a RAW/AEDAT4 file still being written,
    :mod:`edgevision.runtime.tail`); the synthetic camera's are 10 ms, another ``window_us`` is a
    :class:`ConfigError`."""
    kind, _, arg = spec.partition(":")
    if kind == "synthetic":
        if window_us != WINDOW_US:
            raise ConfigError(f"the synthetic camera delivers {WINDOW_US // 1000} ms windows but the model slices "
                              f"{window_us} us; use a file or camera source")
        return SyntheticSource(10.0 if seconds is None else seconds, seed, realtime)
    if kind == "file" and arg:
        return FileSource(arg, realtime, seconds=seconds, window_us=window_us)
    if kind == "video" and arg:
        if not Path(arg).is_file():
            raise ConfigError(f"{arg}: video file not found")
        return VideoSource(arg, realtime, seconds, window_us=window_us)
    if kind == "camera":
        try:
            index = int(arg or 0)
        except ValueError:
            raise ConfigError(f"camera index must be an integer, got {arg!r}") from None
        return VideoSource(index, realtime, seconds, window_us=window_us)
    if kind == "tail" and arg:
        from edgevision.runtime.tail import TailSource

        return TailSource(arg, seconds, window_us=window_us)
    if kind == "dv":
        return DVSource(seconds, arg or None, window_us)
    raise ConfigError(f"unknown source {spec!r}; use synthetic, file:PATH, tail:PATH, camera:N, video:PATH, dv, "
                      "dv:CAMERA_NAME or dv:tcp://HOST:PORT")
