"""What each writable format can store, checked before a byte is written (O(1) on sorted events).

Field widths (Prophesee and iniVation specifications):

- EVT 2.0 (32-bit words): x, y 11 bits (sensors up to 2048x2048); 6 low time bits in each event, 28 high
  bits in EVT_TIME_HIGH (wraps at 2^34 us). faery writes a TIME_HIGH at least every 2^26 us, so a time
  span costs 4 bytes per 67 s: spans are limited to 2^46 us (2.2 years, <= 4 MiB of TIME_HIGH words).
- EVT 3.0 (16-bit words): x, y 11 bits (2048x2048); 24-bit time base (12 + 12 bits) that wraps at 2^24 us.
  A reader counts a wrap only when TIME_HIGH goes 4095 -> 0, so every TIME_HIGH value is written (as the
  sensor does: 2 bytes per 4096 us); spans are limited to 2^36 us (19 h, <= 32 MiB of TIME_HIGH words).
- DAT 2 (64-bit records): 32-bit timestamp that does not wrap in the file, x, y 14 bits (16384x16384).
  The time span must be below 2^32 us (71 min 35 s).
- AEDAT 4: int64 timestamps; x, y int16 (32767x32767); faery writes unsigned times (>= 0).
- CSV: integer microseconds >= 0 with at most 18 digits (what the reader parses); sizes in the header up
  to 65535 (faery's encoder).
- h5-3etplus: unsigned 64-bit times (>= 0). npy, npz, h5, h5-tonic store every EVENT_DTYPE value.

The "base" of a Prophesee file is the time subtracted before encoding: 0 when the format's counter holds
the raw times (so every reader sees the same times), else the first timestamp (written as ``% t0`` /
``% T0`` in the header; faery adds it back). Spans count from the base.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgevision.errors import EventFormatError


@dataclass(frozen=True)
class Limits:
    max_size: int | None = None  # largest width and height; None: any size parse_sensor accepts
    size_reason: str = ""
    t_min: int | None = None
    t_max: int | None = None
    t_reason: str = ""
    max_span: int | None = None  # last - base must be below this (base: see :func:`time_base`)
    span_reason: str = ""


LIMITS: dict[str, Limits] = {
    "evt2": Limits(2048, "x and y are 11-bit fields", 0, None, "times are unsigned", 1 << 46,
                   "it writes a TIME_HIGH word every 2^26 us of the span (2.2 years = 4 MiB of filler)"),
    "evt3": Limits(2048, "x and y are 11-bit fields", 0, None, "times are unsigned", 1 << 36,
                   "it writes a TIME_HIGH word every 4096 us of the span (19 h = 32 MiB of filler)"),
    "dat": Limits(16384, "x and y are 14-bit fields", 0, None, "times are unsigned", 1 << 32,
                  "its timestamp field is 32 bits and does not wrap in the file"),
    "aedat4": Limits(32767, "x and y are int16 fields", 0, None, "faery writes unsigned times"),
    "csv": Limits(65535, "faery's CSV header holds 16-bit sizes", 0, 10**18 - 1,
                  "the reader parses integers of at most 18 digits and the writer writes unsigned times"),
    "h5-3etplus": Limits(None, "", 0, None, "the 3ET+ layout stores unsigned 64-bit times"),
}

# time base rule: (format) -> counter limit; base is 0 when the decisive time is below it, else the first time
_BASE_RULE = {"evt2": ("last", 1 << 32), "evt3": ("first", 1 << 24), "dat": ("last", 1 << 32)}


def time_base(fmt: str, t: np.ndarray) -> int:
    """The time subtracted before encoding ``fmt`` (0, or the first timestamp; see the module docstring)."""
    if fmt not in _BASE_RULE or t.shape[0] == 0:
        return 0
    which, counter = _BASE_RULE[fmt]
    decisive = int(t[-1]) if which == "last" else int(t[0])
    return 0 if 0 <= decisive < counter else int(t[0])


def _us(v: int) -> str:
    exp = v.bit_length() - 1
    return f"2^{exp} us" if v > 0 and v == 1 << exp else f"{v} us"


def check_writable(path: str | Path, fmt: str, events: np.ndarray, sensor: tuple[int, int]) -> None:
    """Raise :class:`EventFormatError` naming ``path`` and the field when ``fmt`` cannot store the events exactly.

    ``events`` must already be valid and sorted (checked by the caller); the check reads two timestamps.
    """
    lim = LIMITS.get(fmt)
    if lim is None:
        return
    if lim.max_size is not None:
        for name, value in (("width", sensor[0]), ("height", sensor[1])):
            if value > lim.max_size:
                raise EventFormatError(
                    path, f"{fmt} cannot store sensor {name} {value}: at most {lim.max_size} ({lim.size_reason})"
                )
    if events.shape[0] == 0:
        return
    first, last = int(events["t"][0]), int(events["t"][-1])
    if lim.t_min is not None and first < lim.t_min:
        raise EventFormatError(path, f"{fmt} cannot store t={first} us: t must be >= {lim.t_min} ({lim.t_reason})")
    if lim.t_max is not None and last > lim.t_max:
        raise EventFormatError(path, f"{fmt} cannot store t={last} us: t must be <= {lim.t_max} ({lim.t_reason})")
    if lim.max_span is not None:
        base = time_base(fmt, events["t"])
        if last - base >= lim.max_span:
            since = "0" if base == 0 else f"the first t ({base} us)"
            raise EventFormatError(
                path,
                f"{fmt} cannot store t={last} us: times must stay below {_us(lim.max_span)} from {since}, "
                f"the span is {last - base} us ({lim.span_reason}); split the recording or use npy/h5",
            )
