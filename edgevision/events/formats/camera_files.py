"""Camera vendor formats through faery's Rust codecs (natively chunked).

- Prophesee EVT 2.0 / EVT 3.0 ``.raw`` (version and geometry from the ``%`` header; EVT3 is the default
  when the header names none) and ``.dat`` (DAT 2, CD or 2D events). Timestamps are written as they are
  when the format's counter holds them (DAT and EVT2: last t < 2^32 us; EVT3: first t < 2^24 us), so
  every reader sees the same times; otherwise the first timestamp moves to the header (``% t0`` /
  ``% T0``, faery's ``zero_t0``), which faery adds back but readers such as expelliarmus ignore.
  What each format can store (sizes, time spans) is in :mod:`.limits`; writers refuse the rest.
- iniVation AEDAT 4 ``.aedat4``: the first event track; timestamps are absolute (Unix microseconds).
  Written with LZ4 compression.

faery raises ``PanicException`` (a ``BaseException``) on some corrupt input; every error is converted to
:class:`EventFormatError` by :func:`foreign_errors`.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Iterator

import numpy as np

from edgevision.errors import EventFormatError
from edgevision.events.core import SensorSize
from edgevision.events.formats.evt3_writer import write_evt3
from edgevision.events.formats.limits import time_base
from edgevision.events.formats.normalize import columns_to_events, foreign_errors


def _faery():
    from faery.extension import aedat, dat, evt

    return aedat, dat, evt


def _from_faery(path: Path, packet: np.ndarray) -> np.ndarray:
    names = packet.dtype.names
    pol = "on" if "on" in names else ("p" if "p" in names else "payload")
    return columns_to_events(path, packet["t"], packet["x"], packet["y"], packet[pol])


def to_faery_events(events: np.ndarray) -> np.ndarray:
    """EVENT_DTYPE -> faery's event dtype (t uint64, x, y, on bool)."""
    import faery

    out = np.empty(events.shape[0], faery.EVENTS_DTYPE)
    out["t"] = events["t"]
    out["x"] = events["x"]
    out["y"] = events["y"]
    out["on"] = events["p"].astype(bool)
    return out


_NO_SIZE = (65535, 65535)  # decoder fallback meaning "the header has no size"


def _dims(value) -> SensorSize | None:
    return None if value is None or tuple(value) == _NO_SIZE else SensorSize(int(value[0]), int(value[1]))


_AEDAT4_MAGIC = b"#!AER-DAT4.0\r\n"
_AEDAT4_COMPRESSIONS = (0, 1, 2, 3, 4)  # none, LZ4, LZ4 high, Zstd, Zstd high


def _check_aedat4_header(path: Path) -> None:
    """Validate the AEDAT4 IOHeader (a flatbuffer) before faery parses it.

    faery 0.7.1 aborts the whole process (a panic while raising) when the XML description is not valid
    UTF-8, so the header's table, its ``infoNode`` string bounds and that string's encoding are checked here.
    """
    with foreign_errors(path), open(path, "rb") as fh:
        head = fh.read(len(_AEDAT4_MAGIC) + 4)
        if len(head) < len(_AEDAT4_MAGIC) + 4 or not head.startswith(_AEDAT4_MAGIC):
            raise EventFormatError(path, "not an AEDAT4 file (bad magic or truncated header)")
        (size,) = struct.unpack_from("<i", head, len(_AEDAT4_MAGIC))
        buf = fh.read(size) if 8 <= size <= (1 << 24) else b""
    if len(buf) != size:
        raise EventFormatError(path, f"AEDAT4 header size {size} is corrupt or the file is truncated")

    def u(fmt: str, pos: int) -> int:
        if pos < 0 or pos + struct.calcsize(fmt) > len(buf):
            raise EventFormatError(path, "corrupt AEDAT4 header (offset outside the header)")
        return struct.unpack_from(fmt, buf, pos)[0]

    table = u("<I", 0)
    vtable = table - u("<i", table)

    def slot(i: int) -> int:  # offset of IOHeader field i in its table (0: absent): compression, dataTablePosition, infoNode
        return u("<H", vtable + 4 + 2 * i) if u("<H", vtable) > 4 + 2 * i else 0

    compression = u("<i", table + slot(0)) if slot(0) else 0
    if compression not in _AEDAT4_COMPRESSIONS:
        raise EventFormatError(path, f"corrupt AEDAT4 header (unknown compression {compression})")
    table_pos = u("<q", table + slot(1)) if slot(1) else -1
    end, size_on_disk = len(_AEDAT4_MAGIC) + 4 + size, path.stat().st_size
    if table_pos != -1 and not end <= table_pos < size_on_disk:
        raise EventFormatError(path, f"corrupt AEDAT4 header (data table at byte {table_pos}, outside the file's "
                                     f"{end}..{size_on_disk})")
    _check_aedat4_packets(path, end, table_pos if table_pos != -1 else size_on_disk)
    field = slot(2)  # infoNode
    if field == 0:
        raise EventFormatError(path, "AEDAT4 header has no description (infoNode)")
    start = table + field + u("<I", table + field)
    length = u("<I", start)
    text = buf[start + 4 : start + 4 + length]
    if len(text) != length:
        raise EventFormatError(path, "corrupt AEDAT4 header (description runs past the header)")
    try:
        text.decode("utf-8")
    except UnicodeDecodeError:
        raise EventFormatError(path, "corrupt AEDAT4 header (description is not UTF-8)") from None


def _check_aedat4_packets(path: Path, start: int, stop: int) -> None:
    """Walk the packet headers (int32 stream id, int32 size) between the IOHeader and the data table: a size that
    runs past ``stop`` is refused here, before faery allocates it (a flipped size bit asked for gigabytes)."""
    pos = start
    with foreign_errors(path), open(path, "rb") as fh:
        while pos < stop:
            fh.seek(pos)
            head = fh.read(8)
            if len(head) < 8:
                raise EventFormatError(path, f"truncated AEDAT4 packet header at byte {pos}")
            _, n = struct.unpack("<ii", head)
            if n < 0 or pos + 8 + n > stop:
                raise EventFormatError(path, f"corrupt or truncated AEDAT4 packet at byte {pos} ({n} bytes claimed, "
                                             f"{stop - pos - 8} left before the data table / end of file)")
            pos += 8 + n


def prophesee_truncation(path: Path, kind: str) -> str | None:
    """What shows that a RAW (``kind`` ``evt2``/``evt3``) or DAT file was cut short, or None.

    Detected: a header line without its newline, DAT's type/size bytes missing, a partial trailing word
    (EVT2 4 bytes, EVT3 2, DAT 8: decoders drop it silently), and an EVT3 stream whose last word is an
    EVT_ADDR_Y or VECT_BASE_X (state words that announce an event that is missing). Reads the header and
    the last word only. A cut on a record boundary elsewhere cannot be detected (these formats have no
    end marker or event count).
    """
    with foreign_errors(path), open(path, "rb") as fh:
        size = fh.seek(0, 2)
        fh.seek(0)
        pos = 0
        while True:
            first = fh.read(1)
            if first != b"%":
                break
            line = fh.readline()
            if not line.endswith(b"\n"):
                return "the header ends mid-line"
            pos += 1 + len(line)
        if kind == "dat":
            if size - pos < 2:
                return "the event type and size bytes after the header are missing"
            pos += 2
        word = {"evt2": 4, "evt3": 2, "dat": 8}[kind]
        extra = (size - pos) % word
        if extra:
            return f"{extra} byte(s) of a partial {word}-byte {'record' if kind == 'dat' else 'word'} at the end"
        if kind == "evt3" and size - pos >= 2:
            fh.seek(size - 2)
            last = int.from_bytes(fh.read(2), "little") >> 12
            if last in (0x0, 0x3):
                name = "EVT_ADDR_Y" if last == 0 else "VECT_BASE_X"
                return f"the last word is an {name} without the event it announces (a record cut mid-way)"
    return None


def open_camera_file(
    path: Path, kind: str, fallback: SensorSize | None = None
) -> tuple[SensorSize | None, Iterator[np.ndarray], str | None]:
    """Open ``path`` (kind ``evt`` / ``dat`` / ``aedat4``): its sensor size, an iterator of event chunks and
    what shows the file is truncated (None if nothing does; see :func:`prophesee_truncation`).

    ``fallback`` is the sensor size for RAW/DAT files whose header has none; without it such a file gets no
    sensor size (the caller infers it from the events).
    """
    truncation = None
    dims = _NO_SIZE if fallback is None else (int(fallback[0]), int(fallback[1]))
    if kind in ("evt", "dat"):
        with foreign_errors(path), open(path, "rb") as fh:
            head = fh.read(4096)
        if not head.startswith(b"%"):
            raise EventFormatError(path, f"no '%' header: not a Prophesee {'RAW' if kind == 'evt' else 'DAT'} file")
        lowered = head.lower()
        if kind == "evt" and (b"evt 2.1" in lowered or b"format evt21" in lowered):
            # faery 0.7.1 panics on EVT 2.1 (and prints a Rust backtrace); refuse it up front
            raise EventFormatError(path, "EVT 2.1 is not supported; convert it to EVT 3.0 with Metavision's tools")
        words = "dat" if kind == "dat" else ("evt2" if b"evt 2" in lowered or b"format evt2" in lowered else "evt3")
        truncation = prophesee_truncation(path, words)
        if truncation is not None and truncation.startswith(("the header", "the event type")):
            raise EventFormatError(path, f"truncated: {truncation} (no events to read)")
    aedat, dat, evt = _faery()
    with foreign_errors(path):
        if kind == "evt":
            decoder = evt.Decoder(path, dims, "evt3")
        elif kind == "dat":
            decoder = dat.Decoder(path, dims, "dat2")
            if decoder.event_type not in ("cd", "2d"):
                raise EventFormatError(path, f"DAT file holds {decoder.event_type!r} events, not change detection (cd/2d)")
        elif kind == "aedat4":
            _check_aedat4_header(path)
            decoder = aedat.Decoder(path)
        else:
            raise ValueError(f"unknown camera file kind {kind!r}")
    sensor: SensorSize | None
    track_id = None
    if kind == "aedat4":
        tracks = [t for t in decoder.tracks() if t.data_type == "events"]
        if not tracks:
            raise EventFormatError(path, "AEDAT4 file has no event track")
        track_id, sensor = tracks[0].id, _dims(tracks[0].dimensions)
    else:
        sensor = _dims(decoder.dimensions)

    def chunks() -> Iterator[np.ndarray]:
        with foreign_errors(path), decoder:
            for packet in decoder:
                if kind == "evt":
                    packet = packet.get("events")
                elif kind == "aedat4":
                    track, packet = packet
                    if track.id != track_id or track.data_type != "events":
                        continue
                if packet is not None and len(packet):
                    yield _from_faery(path, packet)

    return sensor, chunks(), truncation


def write_camera_file(path: Path, events: np.ndarray, sensor_size: SensorSize, fmt: str) -> None:
    """Write ``events`` as ``fmt`` (evt2, evt3, dat, aedat4) to ``path``.

    The caller has checked the events against :data:`.limits.LIMITS`. EVT3 is written by
    :mod:`.evt3_writer` (faery's EVT3 encoder loses time across 24-bit wraps), the others by faery.
    """
    from faery import file_encoder

    base = time_base(fmt, events["t"])
    if fmt == "evt3":
        write_evt3(path, events, sensor_size, base)
        return
    if fmt == "evt2":
        kind, version = "evt", fmt
    elif fmt == "dat":
        kind, version = "dat", "dat2"
    elif fmt == "aedat4":
        kind, version = "aedat", None
    else:
        raise ValueError(f"unknown camera format {fmt!r}")
    with foreign_errors(path, "write"):
        file_encoder.events_to_file(
            [to_faery_events(events)] if events.shape[0] else [],
            path,
            (int(sensor_size.width), int(sensor_size.height)),
            version=version,
            zero_t0=base != 0,
            file_type=kind,
            use_write_suffix=False,
        )
