"""``tail:PATH``: track a Prophesee RAW (EVT2/EVT3) or iniVation AEDAT4 file while a recorder is still writing it.

The recorder appends at its own pace, cutting anywhere (mid-word, mid-packet). This source copies only whole
units into a private mirror file: the RAW header once its last ``%`` line is complete, then whole words (4 bytes
EVT2, 2 bytes EVT3); for AEDAT4 the IOHeader, then whole packets (``int32 stream id, int32 size, payload``).
faery's decoder reads the mirror and, at its end, simply waits for more (its iterator continues once the mirror
grew), so no event is decoded twice or from a partial unit. The stream ends when the file has not grown for
``idle_s`` seconds, when an AEDAT4 file gets its closing table (a record that is not a packet), or after
``seconds`` of sensor time. Windows are cut as the events arrive (a live source: the tracker drops the oldest
window under overload).
"""

from __future__ import annotations

import os
import struct
import tempfile
import time
from pathlib import Path
from typing import Iterator

import numpy as np

from edgevision.errors import ConfigError, EventFormatError
from edgevision.runtime.sources import WINDOW_US, Source, TrackWindow, cut_windows

AEDAT4_MAGIC = b"#!AER-DAT4.0\r\n"
MAX_PACKET = 1 << 28  # a "packet" larger than this is the closing table or garbage: the recording ended


class TailSource(Source):
    """Follow ``path`` as it grows; see the module docstring."""

    realtime = True
    live = True

    def __init__(self, path: str | Path, seconds: float | None = None, idle_s: float = 2.0, poll_s: float = 0.005,
                 start_timeout_s: float = 10.0, window_us: int = WINDOW_US) -> None:
        self.path = Path(path)
        self.window_us = window_us
        self.name = f"tail:{self.path}"
        self.seconds = seconds
        self.idle_s, self.poll_s = float(idle_s), float(poll_s)
        suffix = self.path.suffix.lower()
        if suffix not in (".raw", ".aedat4"):
            raise ConfigError(f"{self.path}: tail follows Prophesee .raw (EVT2/EVT3) or iniVation .aedat4 files, not {suffix or 'this'}")
        self.kind = "aedat4" if suffix == ".aedat4" else "evt"
        deadline = time.monotonic() + start_timeout_s
        while not self.path.is_file():
            if time.monotonic() > deadline:
                raise ConfigError(f"{self.path}: no such file after {start_timeout_s:g} s (is the recorder writing there?)")
            time.sleep(0.05)
        self._fh = open(self.path, "rb")
        fd, mirror = tempfile.mkstemp(prefix="edgevision-tail-", suffix=suffix)
        os.close(fd)
        self._mirror_path = Path(mirror)
        self._mirror = open(self._mirror_path, "wb")
        self._pending = b""  # bytes read from the file, not yet a whole unit
        self._pos = 0  # AEDAT4: offset in _pending of the next packet header
        self.ended = False
        self.word = 2
        try:
            while not self._header():
                if time.monotonic() > deadline:
                    raise ConfigError(f"{self.path}: the file header is not complete after {start_timeout_s:g} s")
                time.sleep(0.02)
            self._open_decoder()
        except BaseException:
            self.close()
            raise

    # -- copying whole units into the mirror ------------------------------------------------------------------
    def _read_new(self) -> bool:
        data = self._fh.read()
        if data:
            self._pending += data
        return bool(data)

    def _header(self) -> bool:
        """Copy the complete header into the mirror; False while it is still incomplete."""
        self._read_new()
        buf = self._pending
        if self.kind == "aedat4":
            if len(buf) < len(AEDAT4_MAGIC) + 4:
                return False
            if not buf.startswith(AEDAT4_MAGIC):
                raise EventFormatError(self.path, "not an AEDAT4 file (bad magic)")
            (size,) = struct.unpack_from("<i", buf, len(AEDAT4_MAGIC))
            end = len(AEDAT4_MAGIC) + 4 + size
        else:
            if buf[:1] not in (b"", b"%"):
                raise EventFormatError(self.path, "no '%' header: not a Prophesee RAW file")
            end = 0
            while True:
                if end >= len(buf):
                    return False
                if buf[end:end + 1] != b"%":
                    break
                nl = buf.find(b"\n", end)
                if nl < 0:
                    return False
                end = nl + 1
            head = buf[:end].lower()
            if b"evt 2.1" in head or b"format evt21" in head:
                raise EventFormatError(self.path, "EVT 2.1 is not supported; record EVT 3.0 or EVT 2.0")
            self.word = 4 if (b"evt 2" in head or b"format evt2" in head) else 2
        if len(buf) < end:
            return False
        self._mirror.write(buf[:end])
        self._pending = buf[end:]
        self._feed_units()
        return True

    def _feed_units(self) -> int:
        """Move whole words / packets from the pending bytes to the mirror; returns bytes moved."""
        buf = self._pending
        if self.kind == "evt":
            n = len(buf) - len(buf) % self.word
        else:
            n = 0
            while len(buf) - n >= 8:
                _, size = struct.unpack_from("<ii", buf, n)
                if size < 0 or size > MAX_PACKET:
                    self.ended = True  # the closing table (or garbage): nothing after it is a packet
                    break
                if len(buf) - n < 8 + size:
                    break
                n += 8 + size
        if n:
            self._mirror.write(buf[:n])
            self._mirror.flush()
            self._pending = buf[n:]
        if self.ended:
            self._pending = b""
        return n

    # -- decoding -----------------------------------------------------------------------------------------
    def _open_decoder(self) -> None:
        from faery.extension import aedat, evt

        from edgevision.events.formats.normalize import foreign_errors

        self._mirror.flush()
        with foreign_errors(self.path):
            if self.kind == "aedat4":
                self._decoder = aedat.Decoder(self._mirror_path)
                tracks = [t for t in self._decoder.tracks() if t.data_type == "events"]
                if not tracks:
                    raise EventFormatError(self.path, "AEDAT4 file has no event track")
                self._track, dims = tracks[0].id, tracks[0].dimensions
            else:
                self._decoder = evt.Decoder(self._mirror_path, (65535, 65535), "evt3")
                dims = self._decoder.dimensions
        if dims is None or tuple(dims) == (65535, 65535):
            raise EventFormatError(self.path, "the header gives no sensor size (a RAW file needs a geometry/format line)")
        self.sensor_size = (int(dims[0]), int(dims[1]))
        self._iter = iter(self._decoder)

    def _drain(self) -> Iterator[np.ndarray]:
        """Everything the decoder can read from the mirror now."""
        from edgevision.events.formats.camera_files import _from_faery

        while True:
            try:
                item = next(self._iter)
            except StopIteration:
                return
            except RuntimeError as exc:  # faery's AEDAT4 reader at the mirror's end ("failed to fill whole buffer")
                if "fill whole buffer" in str(exc):
                    return
                raise EventFormatError(self.path, f"cannot decode ({exc})") from None
            except BaseException as exc:  # faery's PanicException is a BaseException
                if type(exc).__name__ != "PanicException":
                    raise
                raise EventFormatError(self.path, f"corrupt data ({str(exc).splitlines()[0]})") from None
            if self.kind == "aedat4":
                track, packet = item
                if track.id != self._track or track.data_type != "events":
                    continue
            else:
                packet = item.get("events")
            if packet is not None and len(packet):
                yield _from_faery(self.path, packet)

    def _chunks(self) -> Iterator[np.ndarray]:
        last_growth = time.monotonic()
        while True:
            if self._read_new():
                last_growth = time.monotonic()
            self._feed_units()
            got = False
            for chunk in self._drain():
                got = True
                yield chunk
            if self.ended or time.monotonic() - last_growth > self.idle_s:
                if not got:
                    return
                continue
            if not got:
                time.sleep(self.poll_s)

    def windows(self) -> Iterator[TrackWindow]:
        try:
            for w in cut_windows(self._chunks(), window_us=self.window_us):
                if self.seconds is not None and w.index >= self.seconds * 1e6 / self.window_us:
                    return
                yield w
        finally:
            self.close()

    def close(self) -> None:
        for fh in (getattr(self, "_fh", None), getattr(self, "_mirror", None)):
            if fh is not None and not fh.closed:
                fh.close()
        mirror = getattr(self, "_mirror_path", None)
        if mirror is not None and mirror.exists():
            mirror.unlink()
