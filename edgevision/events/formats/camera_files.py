"""Camera vendor formats: whole EVT 2.0 / DAT reads through expelliarmus (C), everything else through faery (Rust).

Decoders (``decoder`` in :func:`read_camera_file`'s answer, ``EventChunks.decoder``, ``events info``):

- whole reads (:func:`read_camera_file`) of EVT 2.0 ``.raw`` and ``.dat`` go through expelliarmus, 5x faster,
  when the file is one on which its output provably equals faery's event for event: the header is the same
  for both (every ``%`` line valid UTF-8), and for EVT2 every word is a CD / TIME_HIGH / OTHERS / CONTINUED
  word (no EXT_TRIGGER, which moves faery's clock, no reserved type, which expelliarmus refuses), TIME_HIGH
  never decreases (faery counts a 2^34 us wrap there, expelliarmus does not) and no event time goes back
  (faery clamps it to the running maximum); for DAT no timestamp goes back (faery clamps small steps back and
  counts larger ones as 2^32 wraps, expelliarmus counts every one as a wrap). The header's ``% t0`` / ``% T0``,
  which expelliarmus ignores, is added as faery does (u64). Any other file is decoded by faery and the answer
  says so and why (``faery (...)``); the header (sensor size, DAT event type and size) is always faery's.
- chunked reads (:func:`open_camera_file`, bounded memory), EVT 3.0 and AEDAT4: faery (expelliarmus decodes
  EVT3 time wraps wrongly, and its chunked reader re-opens the file per chunk).

Formats:

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

import contextlib
import os
import struct
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np
from numba import njit

from edgevision.errors import EventFormatError
from edgevision.events.core import EVENT_DTYPE, SensorSize
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


FAERY = "faery"
EXPELLIARMUS = "expelliarmus"
_RUST_WS = " \t\n\x0b\x0c\r\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
           "\u2028\u2029\u202f\u205f\u3000"  # Rust's str::trim (Unicode White_Space), not Python's isspace


def _prophesee_header(path: Path) -> tuple[int, int, int]:
    """(faery's header length, expelliarmus's header length, faery's t0) for a RAW/DAT file.

    faery (``utilities::read_prophesee_header``) takes ``%`` lines up to the first that is not valid UTF-8
    and the last parseable ``T0``/``t0`` value (u64, Rust's ``parse``: optional ``+`` then digits);
    expelliarmus (``jump_header``) skips every line that starts with ``%``.
    """
    faery_len = exp_len = t0 = 0
    utf8 = True
    with foreign_errors(path), open(path, "rb") as fh:
        while True:
            line = fh.readline()
            if not line.startswith(b"%"):
                break
            exp_len += len(line)
            if not utf8:
                continue
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                utf8 = False
                continue
            faery_len += len(line)
            words = [w.strip(_RUST_WS) for w in text[1:].strip(_RUST_WS).replace(";", " ").split(" ")]
            words = [w for w in words if w]
            if len(words) > 1 and words[0] in ("T0", "t0"):
                digits = words[1][1:] if words[1].startswith("+") else words[1]
                if digits and digits.isascii() and digits.isdigit() and int(digits) < 1 << 64:
                    t0 = int(digits)
    return faery_len, exp_len, t0


@contextlib.contextmanager
def _c_stderr() -> Iterator[list[str]]:
    """Capture what C code writes to file descriptor 2 (expelliarmus prints warnings there) into a list.

    File descriptor 2 is the process's: what another thread writes to stderr meanwhile is captured too (and dropped).
    """
    lines: list[str] = []
    with tempfile.TemporaryFile() as sink:
        saved = os.dup(2)
        try:
            os.dup2(sink.fileno(), 2)
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            lines.extend(sink.read(1 << 16).decode("utf-8", "replace").splitlines())


@njit(cache=True, nogil=True)
def _scan_evt2_words(words):  # pragma: no cover - compiled
    """One pass over EVT2 words: count of each word type, and whether a TIME_HIGH value is below the previous."""
    counts = np.zeros(16, np.int64)
    back = False
    prev = np.uint32(0)
    for i in range(words.shape[0]):
        w = words[i]
        k = w >> 28
        counts[k] += 1
        if k == 8:
            high = w & np.uint32(0xFFFFFFF)
            back |= high < prev
            prev = high
    return counts, back


def _evt2_words_reason(path: Path, start: int) -> str | None:
    """Why expelliarmus's EVT2 decode could differ from faery's on this file's words, or None."""
    size = path.stat().st_size
    n = (size - start) // 4
    if n <= 0:
        return None
    counts, back = _scan_evt2_words(np.memmap(path, dtype="<u4", mode="r", offset=start, shape=(n,)))
    if counts[0xA]:
        return "EXT_TRIGGER words (faery's clock follows them)"
    odd = [f"0x{k:X}" for k in range(16) if counts[k] and k not in (0x0, 0x1, 0x8, 0xE, 0xF)]
    if odd:
        return f"reserved word types {', '.join(odd)}"
    if back:
        return "TIME_HIGH goes back (faery counts a 2^34 us wrap)"
    return None


@njit(cache=True, nogil=True)
def _copy_expelliarmus(t, x, y, p, t0, out_t, out_x, out_y, out_p):  # pragma: no cover - compiled
    """Copy expelliarmus's fields into EVENT_DTYPE columns, t + t0 in u64 as faery adds it. Returns (index of the
    first time that goes back or -1, largest raw t, largest t + t0 (u64), largest p)."""
    back = -1
    max_raw = np.int64(0)
    max_t = np.uint64(0)
    max_p = np.uint8(0)
    prev = np.int64(0)
    for i in range(t.shape[0]):
        ti = t[i]
        if back < 0 and i > 0 and ti < prev:
            back = i
        prev = ti
        max_raw = max(max_raw, ti)
        tu = np.uint64(ti) + t0
        max_t = max(max_t, tu)
        out_t[i] = np.int64(tu)
        out_x[i] = x[i]
        out_y[i] = y[i]
        max_p = max(max_p, p[i])
        out_p[i] = p[i]
    return back, max_raw, max_t, max_p


def read_camera_file(
    path: Path, kind: str, fallback: SensorSize | None = None, expelliarmus: bool = True
) -> tuple[SensorSize | None, np.ndarray, str | None, str]:
    """Read a whole camera file: (sensor size, events, truncation, decoder).

    ``decoder`` is ``expelliarmus`` when it decoded the file (EVT 2.0 / DAT; see the module docstring for
    when it is used) or ``faery`` (EVT 3.0, AEDAT4), ``faery (<why expelliarmus was not used>)`` otherwise.
    ``expelliarmus=False`` asks for faery (``bench events`` times both paths on the same file).
    """
    sensor, chunks, truncation = open_camera_file(path, kind, fallback)
    reason = None
    version = open_version(path, kind) if kind in ("evt", "dat") else None
    if version in ("evt2", "dat2") and not expelliarmus:
        reason = "asked for"
    elif version == "dat1":
        reason = "DAT 1 (expelliarmus reads DAT 2 only)"
    elif version in ("evt2", "dat2"):
        faery_len, exp_len, t0 = _prophesee_header(path)
        if faery_len != exp_len:
            reason = "a header line that is not UTF-8 (the two decoders disagree on where the data starts)"
        elif kind == "evt":
            reason = _evt2_words_reason(path, faery_len)
        if reason is None:
            events, reason = _read_expelliarmus(path, kind, t0)
            if events is not None:
                chunks.close()
                return sensor, events, truncation, EXPELLIARMUS
    parts = list(chunks)
    events = np.concatenate(parts) if parts else np.empty(0, EVENT_DTYPE)
    return sensor, events, truncation, FAERY if reason is None else f"{FAERY} ({reason})"


def _read_expelliarmus(path: Path, kind: str, t0: int) -> tuple[np.ndarray | None, str | None]:
    """expelliarmus's events for an EVT2 / DAT file (plus the header's ``t0``), or (None, why faery must decode it)."""
    try:
        from expelliarmus import Wizard
    except ImportError:  # an optional dependency (GPL-2.0; binary wheels for few platforms): see pyproject.toml
        return None, "expelliarmus is not installed"

    encoding = "evt2" if kind == "evt" else "dat"
    with foreign_errors(path), _c_stderr() as printed:
        arr = Wizard(encoding=encoding).read(path)
    if any(line.startswith("ERROR") for line in printed):
        return None, f"expelliarmus: {printed[0]}"
    if arr is None:
        return np.empty(0, EVENT_DTYPE), None
    out = np.empty(arr.shape[0], EVENT_DTYPE)
    # x, y: expelliarmus's int16 of 11-bit (EVT2) / 14-bit (DAT) fields, never negative
    back, max_raw, max_t, max_p = _copy_expelliarmus(arr["t"], arr["x"].view(np.uint16), arr["y"].view(np.uint16),
                                                     arr["p"], np.uint64(t0), out["t"], out["x"], out["y"], out["p"])
    if back >= 0:
        return None, "event times go back (faery clamps them to the running maximum)"
    if kind == "dat" and max_raw >= 1 << 32:
        return None, "timestamps go back (faery clamps small steps and counts 2^32 us wraps)"
    if max_t > np.iinfo(np.int64).max or max_p > 1:  # raise the same one-line error as faery's path
        columns_to_events(path, arr["t"].view(np.uint64) + np.uint64(t0), out["x"], out["y"], out["p"])
    return out, None


def open_version(path: Path, kind: str) -> str:
    """faery's reading of a RAW (evt2, evt2.1, evt3) or DAT (dat1, dat2) file's version."""
    aedat, dat, evt = _faery()
    with foreign_errors(path):
        decoder = evt.Decoder(path, _NO_SIZE, "evt3") if kind == "evt" else dat.Decoder(path, _NO_SIZE, "dat2")
        version = decoder.version
        del decoder
    return version


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
