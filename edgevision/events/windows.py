"""Cut event streams into windows: by duration or by event count, with optional overlap (stride < length).

In memory, :func:`time_windows` / :func:`count_windows` compute all window bounds at once by binary
search (no loop over events) and :func:`iter_windows` yields views. Over a chunked reader,
:func:`stream_time_windows` / :func:`stream_count_windows` keep only the events that a later window can still
need, so windows spanning chunk borders come out exactly as if the whole stream were in memory.

Time windows are ``[t_start, t_end)`` on the grid ``t0 + k * stride`` (``t0`` defaults to the first event);
empty windows inside gaps are kept (a tracker needs its fixed rate); the last window is the last one that
starts at or before the last event.
"""

from __future__ import annotations

from typing import Iterable, Iterator, NamedTuple

import numpy as np
from numba import njit

from edgevision.events.core import empty_events


@njit(cache=True, nogil=True)
def _search_sorted_left(t, values):  # pragma: no cover - compiled
    out = np.empty(values.shape[0], np.int64)
    lo = 0
    for k in range(values.shape[0]):
        v = values[k]
        if k and v < values[k - 1]:
            lo = 0
        hi = t.shape[0]
        while lo < hi:
            mid = (lo + hi) >> 1
            if t[mid] < v:
                lo = mid + 1
            else:
                hi = mid
        out[k] = lo
    return out


def _search_left(t: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``np.searchsorted(t, values, "left")`` without the contiguous copy numpy makes of a strided field."""
    return _search_sorted_left(t, values)


class WindowIndex(NamedTuple):
    """Bounds of K windows: times ``[t_start, t_end)`` (us) and event index ranges ``[start, stop)``."""

    t_start: np.ndarray  # int64 [K]
    t_end: np.ndarray  # int64 [K]
    start: np.ndarray  # int64 [K]
    stop: np.ndarray  # int64 [K]

    def __len__(self) -> int:
        return int(self.t_start.shape[0])


class Window(NamedTuple):
    """One window: its time bounds and its events (a view into the source array when possible)."""

    t_start: int
    t_end: int
    events: np.ndarray


def _check(length: int, stride: int | None, what: str) -> int:
    if length < 1:
        raise ValueError(f"window {what} must be >= 1, got {length}")
    stride = length if stride is None else stride
    if stride < 1:
        raise ValueError(f"window stride must be >= 1, got {stride}")
    return stride


def time_windows(
    events: np.ndarray,
    duration_us: int,
    stride_us: int | None = None,
    t_start: int | None = None,
    t_end: int | None = None,
) -> WindowIndex:
    """Windows of ``duration_us`` every ``stride_us`` (default: no overlap) from ``t_start`` to ``t_end``.

    Defaults: ``t_start`` = first event, ``t_end`` = last event + 1 (windows starting before it are kept).
    """
    stride_us = _check(duration_us, stride_us, "duration")
    t = events["t"]
    if t.shape[0] == 0 and (t_start is None or t_end is None):
        z = np.zeros(0, np.int64)
        return WindowIndex(z, z, z, z)
    t0 = int(t[0]) if t_start is None else int(t_start)
    t1 = int(t[-1]) + 1 if t_end is None else int(t_end)
    k = max(-(-(t1 - t0) // stride_us), 0)
    starts = t0 + stride_us * np.arange(k, dtype=np.int64)
    ends = starts + duration_us
    return WindowIndex(starts, ends, _search_left(t, starts), _search_left(t, ends))


def count_windows(events: np.ndarray, count: int, stride: int | None = None, keep_partial: bool = False) -> WindowIndex:
    """Windows of ``count`` consecutive events every ``stride`` events.

    Time bounds are the first event's time and the last event's time + 1. With ``keep_partial`` the trailing
    windows shorter than ``count`` are kept too.
    """
    stride = _check(count, stride, "count")
    n = events.shape[0]
    last = n if keep_partial else n - count + 1
    start = np.arange(0, max(last, 0), stride, dtype=np.int64)
    stop = np.minimum(start + count, n)
    t = events["t"]
    if start.size == 0:
        z = np.zeros(0, np.int64)
        return WindowIndex(z, z, z, z)
    return WindowIndex(t[start].astype(np.int64), t[stop - 1].astype(np.int64) + 1, start, stop)


def iter_windows(events: np.ndarray, index: WindowIndex) -> Iterator[Window]:
    """Yield :class:`Window` views for every window of ``index``."""
    for ts, te, a, b in zip(index.t_start.tolist(), index.t_end.tolist(), index.start.tolist(), index.stop.tolist()):
        yield Window(ts, te, events[a:b])


def stream_time_windows(
    chunks: Iterable[np.ndarray], duration_us: int, stride_us: int | None = None, t_start: int | None = None
) -> Iterator[Window]:
    """Time windows over a stream of time-ordered chunks (e.g. :func:`edgevision.events.formats.iter_events`).

    Yields the same windows as :func:`time_windows` on the concatenated stream.
    """
    stride_us = _check(duration_us, stride_us, "duration")
    buf = empty_events()
    next_start: int | None = None if t_start is None else int(t_start)
    for chunk in chunks:
        if chunk.shape[0] == 0:
            continue
        buf = np.concatenate([buf, chunk]) if buf.shape[0] else chunk
        if next_start is None:
            next_start = int(buf["t"][0])
        # windows ending at or before the newest time are complete: later events are >= that time
        newest = int(buf["t"][-1])
        k = max((newest - duration_us - next_start) // stride_us + 1, 0)
        if k:
            idx = time_windows(buf, duration_us, stride_us, next_start, next_start + k * stride_us)
            yield from iter_windows(buf, idx)
            next_start += k * stride_us
            buf = buf[np.searchsorted(buf["t"], next_start, "left") :].copy()
    if buf.shape[0] and next_start is not None:
        yield from iter_windows(buf, time_windows(buf, duration_us, stride_us, next_start, int(buf["t"][-1]) + 1))


def stream_count_windows(
    chunks: Iterable[np.ndarray], count: int, stride: int | None = None, keep_partial: bool = False
) -> Iterator[Window]:
    """Count windows over a stream of chunks; the same windows as :func:`count_windows` on the whole stream."""
    stride = _check(count, stride, "count")
    buf = empty_events()
    skip = 0  # events still to drop before the next window starts (when stride > count)
    for chunk in chunks:
        if skip:
            dropped = min(skip, chunk.shape[0])
            chunk, skip = chunk[dropped:], skip - dropped
        if chunk.shape[0] == 0:
            continue
        buf = np.concatenate([buf, chunk]) if buf.shape[0] else chunk
        idx = count_windows(buf, count, stride)
        if len(idx):
            yield from iter_windows(buf, idx)
            nxt = int(idx.start[-1]) + stride
            skip = max(nxt - buf.shape[0], 0)
            buf = buf[nxt:].copy()
    if keep_partial and buf.shape[0]:
        yield from iter_windows(buf, count_windows(buf, count, stride, keep_partial=True))
