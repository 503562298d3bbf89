"""Turn what a file holds into EVENT_DTYPE arrays, and turn every failure into EventFormatError.

Every reader funnels its columns through :func:`columns_to_events` and its arrays through
:func:`check_events`, so the rules (polarity mapping, ranges, time order) are written once.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

import numpy as np
from numba import njit

from edgevision.errors import EdgevisionError, EventFormatError
from edgevision.events.core import EVENT_DTYPE, SensorSize

_U16_MAX = np.iinfo(np.uint16).max
_I64_MAX = np.iinfo(np.int64).max


@contextlib.contextmanager
def foreign_errors(path: str | Path, action: str = "read") -> Iterator[None]:
    """Convert any exception raised by a third-party decoder into :class:`EventFormatError`.

    faery's Rust decoders raise ``pyo3_runtime.PanicException``, which derives from ``BaseException``
    only; it is caught here too. Interrupts and exits pass through unchanged.
    """
    try:
        yield
    except (KeyboardInterrupt, SystemExit, GeneratorExit, EdgevisionError):
        raise
    except MemoryError as exc:
        raise EventFormatError(path, f"cannot {action}: out of memory ({exc}); read it in chunks with iter_events") from exc
    except BaseException as exc:  # noqa: BLE001 - PanicException is a BaseException
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EventFormatError(path, f"cannot {action} ({type(exc).__name__}: {detail})") from None


def _integral(path: str | Path, name: str, a: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Check that column ``a`` holds integers in ``[lo, hi]`` and return it (any int/float dtype)."""
    a = np.asarray(a)
    if a.dtype.kind not in "biuf":
        raise EventFormatError(path, f"column {name!r} has non-numeric dtype {a.dtype}")
    if a.size == 0:
        return a
    if a.dtype.kind == "f":
        if not np.isfinite(a).all():
            raise EventFormatError(path, f"column {name!r} contains NaN or infinite values")
        if (a != np.floor(a)).any():
            raise EventFormatError(path, f"column {name!r} contains non-integer values")
    amin, amax = a.min(), a.max()
    if amin < lo or amax > hi:
        raise EventFormatError(path, f"column {name!r} out of range [{lo}, {hi}] (min {amin}, max {amax})")
    return a


def polarity_to_01(path: str | Path, p: np.ndarray) -> np.ndarray:
    """Map polarity given as bool, {0, 1} or {-1, +1} to uint8 {0, 1}; anything else is an error."""
    p = np.asarray(p)
    if p.dtype.kind == "b":
        return p.view(np.uint8) if p.dtype.itemsize == 1 else p.astype(np.uint8)
    if p.dtype.kind not in "iuf":
        raise EventFormatError(path, f"polarity column has non-numeric dtype {p.dtype}")
    if p.size == 0:
        return p.astype(np.uint8)
    lo, hi = p.min(), p.max()
    if lo >= 0 and hi <= 1 and (p.dtype.kind != "f" or ((p == 0) | (p == 1)).all()):
        return p.astype(np.uint8)
    if lo >= -1 and hi <= 1 and ((p == -1) | (p == 1)).all():
        return (p > 0).astype(np.uint8)
    bad = p[(p != 0) & (p != 1) & (p != -1)]
    first = bad[0] if bad.size else lo
    raise EventFormatError(path, f"polarity must be 0/1, -1/+1 or boolean, found {first}")


def columns_to_events(path: str | Path, t, x, y, p) -> np.ndarray:
    """Build an EVENT_DTYPE array from columns, checking types and ranges (t in microseconds)."""
    t = _integral(path, "t", t, np.iinfo(np.int64).min, _I64_MAX)
    x = _integral(path, "x", x, 0, _U16_MAX)
    y = _integral(path, "y", y, 0, _U16_MAX)
    n = t.shape[0]
    if not (x.shape[0] == y.shape[0] == np.shape(p)[0] == n):
        raise EventFormatError(path, "columns t, x, y, p have different lengths")
    out = np.empty(n, dtype=EVENT_DTYPE)
    if t.dtype == np.uint64 and n and t.max() > _I64_MAX:
        raise EventFormatError(path, "timestamps exceed the int64 microsecond range")
    out["t"] = t
    out["x"] = x
    out["y"] = y
    out["p"] = polarity_to_01(path, p)
    return out


def structured_to_events(path: str | Path, arr: np.ndarray) -> np.ndarray:
    """Convert a structured array with fields t, x, y and p (or ``on``/``polarity``) to EVENT_DTYPE."""
    if arr.dtype == EVENT_DTYPE:
        return np.asarray(arr)
    names = arr.dtype.names or ()
    pol = next((n for n in ("p", "on", "polarity", "pol") if n in names), None)
    tname = next((n for n in ("t", "ts", "timestamp") if n in names), None)
    if pol is None or tname is None or "x" not in names or "y" not in names:
        raise EventFormatError(path, f"expected fields t, x, y, p; found {list(names)}")
    return columns_to_events(path, arr[tname], arr["x"], arr["y"], arr[pol])


@njit(cache=True, nogil=True)
def _scan_events(t, x, y, p):  # pragma: no cover - compiled
    """One branch-free pass: first decreasing timestamp and first polarity > 1 (-1 if none), max x, max y."""
    n = t.shape[0]
    unsorted = False
    prev = t[0] if n else 0
    mx = np.uint16(0)
    my = np.uint16(0)
    mp = np.uint8(0)
    for i in range(n):
        ti = t[i]
        unsorted |= ti < prev
        prev = ti
        mx = max(mx, x[i])
        my = max(my, y[i])
        mp = max(mp, p[i])
    bad = -1
    if unsorted:
        for i in range(1, n):
            if t[i] < t[i - 1]:
                bad = i
                break
    badp = -1
    if mp > 1:
        for i in range(n):
            if p[i] > 1:
                badp = i
                break
    return bad, badp, mx, my


def check_events(
    path: str | Path, events: np.ndarray, sensor_size: tuple[int, int] | None, prev_t: int | None = None
) -> SensorSize:
    """Check time order (also against the previous chunk's last time), polarity and sensor bounds.

    Returns the events' extent ``(max x + 1, max y + 1)`` (``(1, 1)`` when empty): the inferred sensor size.
    """
    t = events["t"]
    if t.size == 0:
        return SensorSize(1, 1)
    if prev_t is not None and t[0] < prev_t:
        raise EventFormatError(path, f"timestamps go backwards across a chunk border ({prev_t} -> {int(t[0])} us)")
    bad, badp, mx, my = _scan_events(t, events["x"], events["y"], events["p"])
    if badp >= 0:
        raise EventFormatError(path, f"polarity must be 0 or 1, found {int(events['p'][badp])} at event {badp}")
    if bad >= 0:
        raise EventFormatError(
            path,
            f"timestamps not sorted (first decreasing step at event {bad}: {int(t[bad - 1])} -> {int(t[bad])} us); "
            "sort the events before saving",
        )
    if sensor_size is not None:
        for field, m, limit in (("x", mx, sensor_size[0]), ("y", my, sensor_size[1])):
            if m >= limit:
                raise EventFormatError(
                    path, f"{field}={m} outside the sensor ({sensor_size[0]}x{sensor_size[1]}); pass the right sensor size"
                )
    return SensorSize(int(mx) + 1, int(my) + 1)


def parse_sensor(path: str | Path, value) -> SensorSize | None:
    """A sensor size from a (width, height) pair, or None; non-positive or absurd sizes are errors."""
    if value is None:
        return None
    try:
        w, h = (int(v) for v in value)
    except (TypeError, ValueError):
        raise EventFormatError(path, f"sensor size {value!r} is not a (width, height) pair") from None
    if not (0 < w <= _U16_MAX + 1 and 0 < h <= _U16_MAX + 1):
        raise EventFormatError(path, f"sensor size {w}x{h} out of range 1..65536")
    return SensorSize(w, h)
