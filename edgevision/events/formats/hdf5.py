"""HDF5 event files: edgevision's own layout and the eye-tracking dataset layouts.

Layouts (dataset ``events`` in every case):

- ``h5`` (edgevision): structured EVENT_DTYPE rows, attributes ``width``, ``height``.
- ``h5-3etplus`` (AIS 2024 / CVPR 2025 3ET+ release): structured rows with uint64 fields t [us], x, y, p;
  no size attributes; the sensor is 640x480 (DVXplorer).
- ``h5-tonic`` (tonic's ``ThreeET_Eyetracking``): a 2-D ``[N, 4]`` integer array with rows (t, x, y, p),
  read by tonic as ``f["events"][:, 0..3]``; the sensor is 240x180.

Reading accepts any of these (structured or ``[N, 4]``) plus a group ``events`` holding 1-D datasets
``t|ts``, ``x|xs``, ``y|ys``, ``p|ps``. Sensor size: the ``width``/``height`` attributes when present,
else the layout's sensor when the events fit in it, else ``(max x + 1, max y + 1)``.

This is the only HDF5 event reader: the 3ET+ dataset (:class:`edgevision.datasets.threeet.ThreeETPlus`) reads its
recordings through it. Like every reader it refuses events out of time order (:func:`.normalize.check_events`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from edgevision.errors import EventFormatError
from edgevision.events.core import EVENT_DTYPE, SensorSize
from edgevision.events.formats.normalize import columns_to_events, foreign_errors, structured_to_events

THREEET_PLUS_SENSOR = SensorSize(640, 480)
TONIC_THREEET_SENSOR = SensorSize(240, 180)
THREEET_PLUS_DTYPE = np.dtype([("t", "<u8"), ("x", "<u8"), ("y", "<u8"), ("p", "<u8")])


class _Source:
    """Uniform row access over the three on-disk shapes."""

    def __init__(self, path: Path, f) -> None:
        import h5py

        self.path = path
        if "events" not in f:
            raise EventFormatError(path, f"no 'events' dataset or group (top-level keys: {list(f.keys())})")
        node = f["events"]
        self.columns: dict[str, object] | None = None
        self.table = None
        if isinstance(node, h5py.Group):
            cols = {}
            for key, names in (("t", ("t", "ts")), ("x", ("x", "xs")), ("y", ("y", "ys")), ("p", ("p", "ps", "polarity"))):
                name = next((n for n in names if n in node), None)
                if name is None:
                    raise EventFormatError(path, f"group 'events' lacks a {'/'.join(names)} dataset")
                cols[key] = node[name]
            lengths = {c.shape[0] for c in cols.values()}
            if len(lengths) != 1:
                raise EventFormatError(path, "datasets in group 'events' have different lengths")
            self.columns = cols
            self.n = lengths.pop()
            self.layout = "group"
        elif node.dtype.names is not None:
            if node.ndim != 1:
                raise EventFormatError(path, f"structured 'events' dataset must be 1-D, has shape {node.shape}")
            self.table, self.n, self.layout = node, node.shape[0], "structured"
        elif node.ndim == 2 and node.shape[1] == 4:
            self.table, self.n, self.layout = node, node.shape[0], "rows4"
        else:
            raise EventFormatError(
                path, f"'events' must be structured (t, x, y, p) or shaped [N, 4]; found shape {node.shape} {node.dtype}"
            )
        attrs = node.attrs if "width" in node.attrs else f.attrs
        self.sensor = None
        if "width" in attrs and "height" in attrs:
            self.sensor = SensorSize(int(attrs["width"]), int(attrs["height"]))

    def rows(self, start: int, stop: int) -> np.ndarray:
        if self.columns is not None:
            c = {k: v[start:stop] for k, v in self.columns.items()}
            return columns_to_events(self.path, c["t"], c["x"], c["y"], c["p"])
        block = self.table[start:stop]
        if self.layout == "structured":
            return structured_to_events(self.path, block)
        return columns_to_events(self.path, block[:, 0], block[:, 1], block[:, 2], block[:, 3])

    def fallback_sensor(self) -> SensorSize | None:
        return {"structured": THREEET_PLUS_SENSOR, "rows4": TONIC_THREEET_SENSOR}.get(self.layout)


def _open(path: Path):
    import h5py

    with foreign_errors(path):
        return h5py.File(path, "r")


def read_hdf5(path: Path) -> tuple[np.ndarray, SensorSize | None, SensorSize | None]:
    """Read all events: ``(events, sensor from the file, the layout's default sensor)``."""
    f = _open(path)
    with f, foreign_errors(path):
        src = _Source(path, f)
        return src.rows(0, src.n), src.sensor, src.fallback_sensor()


def iter_hdf5(path: Path, chunk_events: int) -> tuple[SensorSize | None, SensorSize | None, Iterator[np.ndarray]]:
    """The file's sensor size, the layout's default sensor and an iterator over chunks of ``chunk_events`` rows."""
    f = _open(path)
    with foreign_errors(path):
        try:
            src = _Source(path, f)
        except BaseException:
            f.close()
            raise

    def chunks() -> Iterator[np.ndarray]:
        with f, foreign_errors(path):
            for start in range(0, src.n, chunk_events):
                yield src.rows(start, min(start + chunk_events, src.n))

    return src.sensor, src.fallback_sensor(), chunks()


def write_hdf5(path: Path, events: np.ndarray, sensor_size: SensorSize, layout: str = "h5") -> None:
    """Write ``events`` to ``path`` (a temporary file; the caller renames it) in ``layout``."""
    import h5py

    with h5py.File(path, "w") as f:
        if layout == "h5":
            ds = f.create_dataset("events", data=events.astype(EVENT_DTYPE, copy=False))
            ds.attrs["width"] = int(sensor_size.width)
            ds.attrs["height"] = int(sensor_size.height)
            ds.attrs["format"] = "edgevision-events-1"
        elif layout == "h5-3etplus":
            table = np.empty(events.shape[0], THREEET_PLUS_DTYPE)
            for name in ("t", "x", "y", "p"):
                table[name] = events[name]
            f.create_dataset("events", data=table)
        elif layout == "h5-tonic":
            f.create_dataset("events", data=np.stack([events[n].astype(np.int64) for n in ("t", "x", "y", "p")], axis=1))
        else:
            raise ValueError(f"unknown HDF5 layout {layout!r}")
