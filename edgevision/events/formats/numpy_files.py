"""NumPy event files.

- ``.npy``: one structured array with fields t, x, y, p (tonic's own arrays saved with ``np.save``);
  no sensor size. Read whole (optionally as a zero-copy read-only memory map), or chunked through a
  memory map (files larger than memory).
- ``.npz``: ``events`` (structured) or columns ``t``, ``x``, ``y``, ``p``, plus ``sensor_size`` = [width, height].
Pickled objects are never loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from edgevision.errors import EventFormatError
from edgevision.events.core import EVENT_DTYPE, SensorSize
from edgevision.events.formats.normalize import columns_to_events, foreign_errors, parse_sensor, structured_to_events


def _load_npy(path: Path, mmap: bool) -> np.ndarray:
    with foreign_errors(path):
        arr = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    if not isinstance(arr, np.ndarray) or arr.dtype.names is None or arr.ndim != 1:
        raise EventFormatError(path, "expected a 1-D structured array with fields t, x, y, p (np.save of an event array)")
    return arr


def read_npy(path: Path, mmap: bool = False) -> np.ndarray:
    """All events of a ``.npy`` file; with ``mmap`` a read-only memory map when it already holds EVENT_DTYPE."""
    arr = _load_npy(path, mmap=mmap)
    with foreign_errors(path):
        return structured_to_events(path, arr)


def iter_npy(path: Path, chunk_events: int) -> Iterator[np.ndarray]:
    """Chunks of a ``.npy`` file read through a memory map."""
    arr = _load_npy(path, mmap=True)
    for start in range(0, arr.shape[0], chunk_events):
        with foreign_errors(path):
            block = np.array(arr[start : start + chunk_events])
        yield structured_to_events(path, block)


def read_npz(path: Path) -> tuple[np.ndarray, SensorSize | None]:
    """Events and sensor size of a ``.npz`` file."""
    with foreign_errors(path):
        z = np.load(path, allow_pickle=False)
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise EventFormatError(path, "not a .npz archive")
    with z, foreign_errors(path):
        keys = set(z.files)
        sensor = parse_sensor(path, z["sensor_size"].tolist()) if "sensor_size" in keys else None
        if "events" in keys:
            arr = z["events"]
            if arr.dtype.names is None or arr.ndim != 1:
                raise EventFormatError(path, "'events' must be a 1-D structured array with fields t, x, y, p")
            return structured_to_events(path, arr), sensor
        if {"t", "x", "y", "p"} <= keys:
            return columns_to_events(path, z["t"], z["x"], z["y"], z["p"]), sensor
        raise EventFormatError(path, f"expected 'events' or columns t, x, y, p; found {sorted(keys)}")


def write_npy(path: Path, events: np.ndarray) -> None:
    """Save the events as a structured ``.npy``."""
    np.save(path, events.astype(EVENT_DTYPE, copy=False), allow_pickle=False)


def write_npz(path: Path, events: np.ndarray, sensor_size: SensorSize) -> None:
    """Save events and sensor size in an uncompressed ``.npz``."""
    with open(path, "wb") as fh:
        np.savez(fh, events=events.astype(EVENT_DTYPE, copy=False), sensor_size=np.array(sensor_size, np.int64))
