"""Event files: one entry point for reading, chunked reading and atomic writing of every format.

All readers return EVENT_DTYPE arrays (t int64 us, x/y uint16, p uint8 0/1) sorted by time, plus the sensor
size ``(width, height)``. Every problem with a file raises :class:`EventFormatError` naming the file.

Formats (name: extensions): ``npy``: .npy, ``npz``: .npz, ``h5``: .h5 .hdf5 (edgevision layout; reads also
the 3ET+ and tonic layouts), ``h5-3etplus`` and ``h5-tonic`` (write only by name, see :mod:`.hdf5`), ``csv``:
.csv .txt (rules in :mod:`.text`), ``evt3``: .raw, ``evt2`` (write by name; reading a .raw takes the version
from its header), ``dat``: .dat, ``aedat4``: .aedat4. The content (magic bytes) wins over the extension.

Sensor size when the file has none (npy, header-less CSV, HDF5 without attributes): the ``sensor_size``
argument, else the dataset layout's sensor (3ET+ 640x480, tonic 240x180) when the events fit, else
``(max x + 1, max y + 1)``.

Chunked reading is native for every format (HDF5 slices, memory-mapped .npy, block-wise CSV, faery's
packet decoders for RAW/DAT/AEDAT4) except .npz, which is read whole and then split. Whole reads of EVT 2.0
and DAT files go through expelliarmus where it decodes them exactly as faery does (:mod:`.camera_files`).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from edgevision.atomic import atomic_path
from edgevision.errors import EventFormatError, EventValidationError, TruncatedEventFileWarning
from edgevision.events.core import EVENT_DTYPE, SensorSize, validate_events
from edgevision.events.formats import camera_files, hdf5, numpy_files, text
from edgevision.events.formats.limits import check_writable
from edgevision.events.formats.normalize import check_events, foreign_errors, parse_sensor

READ_FORMATS = ("npy", "npz", "h5", "csv", "evt", "dat", "aedat4")
WRITE_FORMATS = ("npy", "npz", "h5", "h5-3etplus", "h5-tonic", "csv", "evt2", "evt3", "dat", "aedat4")
_READ_ALIASES = {"h5-3etplus": "h5", "h5-tonic": "h5", "hdf5": "h5", "evt2": "evt", "evt3": "evt", "raw": "evt", "txt": "csv"}
_EXTENSIONS = {
    ".npy": "npy",
    ".npz": "npz",
    ".h5": "h5",
    ".hdf5": "h5",
    ".csv": "csv",
    ".txt": "csv",
    ".raw": "evt3",
    ".dat": "dat",
    ".aedat4": "aedat4",
}
_UNSIGNED_TIME = ("h5-3etplus", "evt2", "evt3", "dat", "aedat4", "csv")
DEFAULT_CHUNK_EVENTS = 1 << 20


@dataclass
class EventChunks:
    """Chunks of one event file, read lazily: iterate to get EVENT_DTYPE arrays in time order.

    ``sensor_size`` is the file's (or the caller's) sensor, None when the file does not say; after a full
    iteration ``extent`` is ``(max x + 1, max y + 1)`` over all events and :meth:`resolved_sensor` applies
    the same rule as :func:`read_events`.
    """

    path: Path
    format: str
    sensor_size: SensorSize | None
    _chunks: Iterator[np.ndarray]
    layout_sensor: SensorSize | None = None
    extent: SensorSize = SensorSize(1, 1)
    truncation: str | None = None  # what shows the file was cut short (RAW/DAT), None if nothing does
    decoder: str | None = None  # the third-party decoder for camera files (faery: chunked reads), None for ours

    def resolved_sensor(self) -> SensorSize:
        """The sensor size :func:`read_events` would return (valid after a full iteration)."""
        return _resolve_sensor(self.sensor_size, self.layout_sensor, self.extent)

    def __iter__(self) -> Iterator[np.ndarray]:
        prev = None
        for chunk in self._chunks:
            ext = check_events(self.path, chunk, self.sensor_size, prev)
            if chunk.shape[0]:
                self.extent = SensorSize(max(self.extent[0], ext[0]), max(self.extent[1], ext[1]))
                prev = int(chunk["t"][-1])
                yield chunk


def _magic_format(path: Path) -> str | None:
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise EventFormatError(path, f"cannot open ({exc.strerror or exc})") from None
    if not head:
        raise EventFormatError(path, "file is empty")
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith(b"PK\x03\x04"):
        return "npz"
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "h5"
    if head.startswith(b"#!AER-DAT4"):
        return "aedat4"
    if head.startswith(b"#!AER-DAT"):
        raise EventFormatError(path, "AEDAT 2/3 files are not supported; convert to AEDAT4 with DV")
    if head.startswith(b"%"):
        lowered = head.lower()
        if b"evt 2" in lowered or b"evt 3" in lowered or b"format evt" in lowered:
            return "evt"
    return None


def detect_format(path: str | os.PathLike, format: str | None = None) -> str:
    """The read format of ``path``: ``format`` if given, else from its magic bytes, else its extension."""
    path = Path(path)
    if format is not None:
        fmt = _READ_ALIASES.get(format, format)
        if fmt not in READ_FORMATS:
            raise EventFormatError(path, f"unknown format {format!r}; choose one of {sorted(set(READ_FORMATS) | set(_READ_ALIASES))}")
        return fmt
    magic = _magic_format(path)
    if magic is not None:
        return magic
    ext = _EXTENSIONS.get(path.suffix.lower())
    if ext is None:
        raise EventFormatError(path, f"unknown event file type (extension {path.suffix!r}); pass format=")
    return _READ_ALIASES.get(ext, ext)


def _truncated(path: Path, truncation: str | None, strict: bool) -> None:
    """Warn (or, ``strict``, raise) when a reader found that ``path`` was cut short."""
    if truncation is None:
        return
    if strict:
        raise EventFormatError(path, f"truncated: {truncation}")
    warnings.warn(
        TruncatedEventFileWarning(f"{path}: truncated ({truncation}); only its complete records are read"),
        stacklevel=3,
    )


def iter_events(
    path: str | os.PathLike,
    chunk_events: int = DEFAULT_CHUNK_EVENTS,
    format: str | None = None,
    sensor_size: tuple[int, int] | None = None,
    strict: bool = False,
) -> EventChunks:
    """Open ``path`` for chunked reading (constant memory; chunk sizes are approximate for RAW/DAT/AEDAT4).

    A RAW/DAT file that shows it was cut short (``EventChunks.truncation``) gives a
    :class:`TruncatedEventFileWarning`, or with ``strict`` an :class:`EventFormatError`.
    """
    path = Path(path)
    if chunk_events < 1:
        raise ValueError(f"chunk_events must be >= 1, got {chunk_events}")
    fmt = detect_format(path, format)
    given = parse_sensor(path, sensor_size)
    layout_sensor = truncation = decoder = None
    if fmt == "npy":
        file_sensor, chunks = None, numpy_files.iter_npy(path, chunk_events)
    elif fmt == "npz":
        events, file_sensor = numpy_files.read_npz(path)
        chunks = (events[i : i + chunk_events] for i in range(0, events.shape[0], chunk_events))
    elif fmt == "h5":
        file_sensor, layout_sensor, chunks = hdf5.iter_hdf5(path, chunk_events)
    elif fmt == "csv":
        file_sensor, chunks = text.iter_csv(path, chunk_events)
    else:
        file_sensor, chunks, truncation = camera_files.open_camera_file(path, fmt, given)
        _truncated(path, truncation, strict)
        decoder = camera_files.FAERY
    return EventChunks(path, fmt, given or file_sensor, chunks, layout_sensor, truncation=truncation, decoder=decoder)


def read_events(
    path: str | os.PathLike,
    format: str | None = None,
    sensor_size: tuple[int, int] | None = None,
    mmap: bool = False,
    strict: bool = False,
    report: dict | None = None,
) -> tuple[np.ndarray, SensorSize]:
    """Read a whole event file: ``(events, sensor_size)``. ``sensor_size`` overrides the file's.

    ``report``, a dict, receives ``decoder``: which third-party decoder decoded a camera file
    (``expelliarmus`` for EVT 2.0 / DAT, ``faery`` for EVT 3.0 / AEDAT4, ``faery (why)`` where an EVT 2.0 / DAT
    file needs faery: :mod:`.camera_files`), None for the other formats.

    A truncated RAW/DAT file warns (:class:`TruncatedEventFileWarning`), or with ``strict`` raises.

    With ``mmap``, a ``.npy`` file already in EVENT_DTYPE is returned as a read-only memory map (no copy;
    the file must stay in place while the array is used); other files are read normally.
    """
    path = Path(path)
    fmt = detect_format(path, format)
    given = parse_sensor(path, sensor_size)
    layout_sensor = decoder = None
    if fmt == "npy":
        events, file_sensor = numpy_files.read_npy(path, mmap), None
    elif fmt == "npz":
        events, file_sensor = numpy_files.read_npz(path)
    elif fmt == "h5":
        events, file_sensor, layout_sensor = hdf5.read_hdf5(path)
    elif fmt == "csv":
        events, file_sensor = text.read_csv(path)
    else:
        file_sensor, events, truncation, decoder = camera_files.read_camera_file(path, fmt, given)
        _truncated(path, truncation, strict)
    if report is not None:
        report["decoder"] = decoder
    sensor = given or file_sensor
    extent = check_events(path, events, sensor)
    return events, _resolve_sensor(sensor, layout_sensor, extent)


def _resolve_sensor(sensor: SensorSize | None, layout: SensorSize | None, extent: SensorSize) -> SensorSize:
    if sensor is not None:
        return sensor
    if layout is not None and extent[0] <= layout[0] and extent[1] <= layout[1]:
        return layout
    return extent


def write_format(path: str | os.PathLike, format: str | None = None) -> str:
    """The write format for ``path``: ``format`` if given, else from the extension."""
    path = Path(path)
    if format is not None:
        if format not in WRITE_FORMATS:
            raise EventFormatError(path, f"cannot write format {format!r}; choose one of {list(WRITE_FORMATS)}")
        return format
    fmt = _EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        raise EventFormatError(path, f"no writer for extension {path.suffix!r}; use one of {sorted(_EXTENSIONS)}")
    return fmt


def write_events(
    path: str | os.PathLike, events: np.ndarray, sensor_size: tuple[int, int], format: str | None = None
) -> Path:
    """Write ``events`` atomically (temporary sibling + rename; no partial file on any error). Returns the path.

    What the format cannot store exactly (sensor size, time range: :mod:`.limits`) is refused before a
    byte is written; every error names ``path``.
    """
    path = Path(path)
    fmt = write_format(path, format)
    sensor = parse_sensor(path, sensor_size)
    try:
        validate_events(events, sensor, source=str(path))
    except EventValidationError as exc:
        raise EventFormatError(path, f"cannot write: {exc}") from None
    if fmt in _UNSIGNED_TIME and events.shape[0] and events["t"][0] < 0:
        raise EventFormatError(path, f"{fmt} cannot store negative timestamps (first is {int(events['t'][0])} us)")
    check_writable(path, fmt, events, sensor)
    try:
        with atomic_path(path) as tmp, foreign_errors(path, "write"):
            if fmt == "npy":
                numpy_files.write_npy(tmp, events)
            elif fmt == "npz":
                numpy_files.write_npz(tmp, events, sensor)
            elif fmt.startswith("h5"):
                hdf5.write_hdf5(tmp, events, sensor, fmt)
            elif fmt == "csv":
                text.write_csv(tmp, events, sensor)
            else:
                camera_files.write_camera_file(tmp, events, sensor, fmt)
    except EventFormatError as exc:
        if exc.path == str(path):
            raise
        raise EventFormatError(path, exc.problem) from None  # name the output, never the temporary file
    except OSError as exc:  # creating the folder, the temporary file or the final rename
        raise EventFormatError(path, f"cannot write ({exc.strerror or exc})") from None
    return path


__all__ = [
    "DEFAULT_CHUNK_EVENTS",
    "EventChunks",
    "READ_FORMATS",
    "WRITE_FORMATS",
    "detect_format",
    "iter_events",
    "read_events",
    "write_events",
    "write_format",
]
