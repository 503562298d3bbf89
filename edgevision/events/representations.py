"""Dense and point representations of event windows, all vectorized (bincount / compiled kernels).

Channel order everywhere: OFF (p=0) then ON (p=1), as in :mod:`edgevision.events.tokens`.

- :func:`count_histogram`: ``[2, H, W]`` event counts (the dense twin of ``histogram_tokens``).
- :func:`window_tokens`: ``histogram_tokens`` for many windows at once through one fused numba kernel
  (window -> per-pixel counts -> active sites in raster order); identical output, much faster.
- :class:`WindowTokenizer`: the same for one window per call (a live loop), one compiled call each.
- :func:`time_surface`: ``[2, H, W]`` exponential decay of the time since each pixel's last event.
- :func:`voxel_grid`: ``[B, H, W]`` bilinear-in-time voxel grid, +1 for ON and -1 for OFF events.
- :func:`point_cloud`: ``[N, 4]`` points ``(x / W, y / H, t in [0, 1], p)``, sampled deterministically.
- :func:`downsample`: integer-factor spatial downsampling of the events themselves.
"""

from __future__ import annotations

from typing import Iterator, NamedTuple

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import trailing_zeros

from edgevision.errors import EventValidationError
from edgevision.events.core import SensorSize
from edgevision.events.tokens import Tokens
from edgevision.events.windows import WindowIndex


def _grid(sensor_size: tuple[int, int], factor: int) -> tuple[int, int]:
    if factor < 1:
        raise ValueError(f"factor must be >= 1, got {factor}")
    return -(-int(sensor_size[1]) // factor), -(-int(sensor_size[0]) // factor)


def count_histogram(events: np.ndarray, sensor_size: tuple[int, int], factor: int = 1) -> np.ndarray:
    """``[2, H, W]`` float32 counts of OFF and ON events per (downsampled) pixel."""
    gh, gw = _grid(sensor_size, factor)
    cell = (events["y"] // factor).astype(np.int64) * gw + events["x"] // factor
    idx = events["p"].astype(np.int64) * (gh * gw) + cell
    return np.bincount(idx, minlength=2 * gh * gw).astype(np.float32).reshape(2, gh, gw)


def time_surface(
    events: np.ndarray, sensor_size: tuple[int, int], tau_us: float, t_ref: int | None = None, factor: int = 1
) -> np.ndarray:
    """``[2, H, W]`` float32 ``exp(-(t_ref - t_last) / tau_us)`` per polarity; 0 where no event happened.

    ``t_ref`` defaults to the last event's time.
    """
    if tau_us <= 0:
        raise ValueError(f"tau_us must be > 0, got {tau_us}")
    gh, gw = _grid(sensor_size, factor)
    out = np.zeros((2, gh, gw), np.float32)
    if events.shape[0] == 0:
        return out
    t_ref = int(events["t"][-1]) if t_ref is None else int(t_ref)
    cell = events["p"].astype(np.int64) * (gh * gw) + (events["y"] // factor).astype(np.int64) * gw + events["x"] // factor
    last = np.full(2 * gh * gw, np.iinfo(np.int64).min, np.int64)
    np.maximum.at(last, cell, events["t"])
    seen = last != np.iinfo(np.int64).min
    flat = out.reshape(-1)
    flat[seen] = np.exp(-np.maximum(t_ref - last[seen], 0) / float(tau_us))
    return out


def voxel_grid(
    events: np.ndarray,
    sensor_size: tuple[int, int],
    bins: int,
    t_start: int | None = None,
    t_end: int | None = None,
    factor: int = 1,
) -> np.ndarray:
    """``[bins, H, W]`` float32 voxel grid with bilinear time weights, signed by polarity (ON +1, OFF -1).

    An event at time t sits at ``u = (bins - 1) * (t - t0) / (t1 - t0)`` (clipped to ``[0, bins - 1]``) and
    adds ``1 - |u - b|`` to the two nearest bins ``b``. ``t0`` = ``t_start`` or the first event; ``t1`` =
    ``t_end - 1`` or the last event (the window's last microsecond maps to the last bin).
    """
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    gh, gw = _grid(sensor_size, factor)
    n_cells = gh * gw
    if events.shape[0] == 0:
        return np.zeros((bins, gh, gw), np.float32)
    t = events["t"]
    t0 = int(t[0]) if t_start is None else int(t_start)
    t1 = int(t[-1]) if t_end is None else int(t_end) - 1
    u = (t - t0).astype(np.float64) * ((bins - 1) / max(t1 - t0, 1))
    np.clip(u, 0, bins - 1, out=u)
    lo = np.floor(u).astype(np.int64)
    w_hi = u - lo
    hi = np.minimum(lo + 1, bins - 1)
    sign = events["p"].astype(np.float64) * 2 - 1
    cell = (events["y"] // factor).astype(np.int64) * gw + events["x"] // factor
    grid = np.bincount(lo * n_cells + cell, weights=sign * (1 - w_hi), minlength=bins * n_cells)
    grid += np.bincount(hi * n_cells + cell, weights=sign * w_hi, minlength=bins * n_cells)
    return grid.astype(np.float32).reshape(bins, gh, gw)


def point_cloud(
    events: np.ndarray,
    sensor_size: tuple[int, int],
    n_points: int,
    seed: int = 0,
    t_start: int | None = None,
    t_end: int | None = None,
) -> np.ndarray:
    """``[n_points, 4]`` float32 rows ``(x / W, y / H, t01, p)`` in time order.

    Sampled without replacement when the window holds at least ``n_points`` events, else with replacement;
    the same ``seed`` gives the same points. ``t01`` maps ``[t_start, t_end)`` (default: first to last event)
    onto ``[0, 1]``.
    """
    n = events.shape[0]
    if n == 0:
        raise EventValidationError("point_cloud: the window holds no events; skip empty windows or lengthen them")
    if n_points < 1:
        raise ValueError(f"n_points must be >= 1, got {n_points}")
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(n, size=n_points, replace=n < n_points))
    ev = events[idx]
    t0 = int(events["t"][0]) if t_start is None else int(t_start)
    t1 = int(events["t"][-1]) if t_end is None else int(t_end) - 1
    out = np.empty((n_points, 4), np.float32)
    out[:, 0] = ev["x"] / np.float32(sensor_size[0])
    out[:, 1] = ev["y"] / np.float32(sensor_size[1])
    out[:, 2] = np.clip((ev["t"] - t0) / max(t1 - t0, 1), 0.0, 1.0)
    out[:, 3] = ev["p"]
    return out


def downsample(events: np.ndarray, sensor_size: tuple[int, int], factor: int) -> tuple[np.ndarray, SensorSize]:
    """Divide coordinates by ``factor`` (floor); the sensor becomes ``ceil(W / factor) x ceil(H / factor)``."""
    gh, gw = _grid(sensor_size, factor)
    out = events.copy()
    out["x"] //= factor
    out["y"] //= factor
    return out, SensorSize(gw, gh)


class TokenBatch(NamedTuple):
    """Tokens of K windows stored flat: window k owns rows ``offsets[k]:offsets[k + 1]``."""

    coords: np.ndarray  # int32 [M, 2] (y, x), raster order within each window
    feats: np.ndarray  # float32 [M, C]
    offsets: np.ndarray  # int64 [K + 1]
    shape: tuple[int, int]  # (H, W) of the grid

    def window(self, k: int) -> Tokens:
        """The :class:`Tokens` of window ``k`` (views)."""
        a, b = int(self.offsets[k]), int(self.offsets[k + 1])
        return Tokens(self.coords[a:b], self.feats[a:b], self.shape)

    def __len__(self) -> int:
        return int(self.offsets.shape[0] - 1)


_PACKED_MAX = 0xFFFF  # windows with at most this many events count OFF | ON << 16 in one uint32


@njit(cache=True, nogil=True)
def _time_bin(t, t0, span, bins):  # pragma: no cover
    """Time bin ``clip((t - t0) * bins // span, 0, bins - 1)`` of ``t`` and the range ``[lo, hi)`` of times in it."""
    tb = min(max((t - t0) * bins // span, 0), bins - 1)
    lo = t0 + (tb * span + bins - 1) // bins if tb > 0 else np.iinfo(np.int64).min
    hi = t0 + ((tb + 1) * span + bins - 1) // bins if tb < bins - 1 else np.iinfo(np.int64).max
    return tb, lo, hi


@njit(cache=True, nogil=True)
def _count_fast(events, a, b, width, height, packed, bitmap):  # pragma: no cover
    """Hot path (factor 1, one time bin, packed counters); returns -1, or the index of an event off the sensor."""
    x, y, p = events["x"], events["y"], events["p"]
    for i in range(a, b):
        xi = np.int64(x[i])
        yi = np.int64(y[i])
        if xi >= width or yi >= height:
            return i
        cell = yi * width + xi
        packed[cell] += np.uint32(1) << np.uint32(16 * p[i])
        bitmap[cell >> 6] |= np.uint64(1) << np.uint64(cell & 63)
    return -1


@njit(cache=True, nogil=True)
def _count_general(events, a, b, t0, span, width, height, shift, gw, xcell, ycell, bins, use_wide, packed, wide, bitmap):  # pragma: no cover
    """Any factor / number of time bins; packed or wide (int32) counters.

    Cells by shifts for a power-of-two factor ``1 << shift``, else (``shift`` < 0) by the lookup tables (about
    15 % slower per event). Time bin ``clip((t - t0) * bins // span, 0, bins - 1)``, divided out only when an
    event leaves the current bin's time range ``[lo, hi)`` (once per bin for time-sorted events; exact in any
    order).
    """
    t, x, y, p = events["t"], events["x"], events["y"], events["p"]
    tb, lo, hi = 0, np.int64(1), np.int64(0)  # empty range: the first event computes its bin
    for i in range(a, b):
        xi = np.int64(x[i])
        yi = np.int64(y[i])
        if xi >= width or yi >= height:
            return i
        cell = (yi >> shift) * gw + (xi >> shift) if shift >= 0 else ycell[yi] + xcell[xi]
        ti = t[i]
        if ti < lo or ti >= hi:
            tb, lo, hi = _time_bin(ti, t0, span, bins)
        slot = cell * bins + tb
        if use_wide:
            wide[slot * 2 + np.int64(p[i])] += 1
        else:
            packed[slot] += np.uint32(1) << np.uint32(16 * p[i])
        bitmap[cell >> 6] |= np.uint64(1) << np.uint64(cell & 63)
    return -1


@njit(cache=True, nogil=True)
def _emit_packed(width, packed, bitmap, coords, feats, m):  # pragma: no cover
    """Hot path of :func:`_emit` (one time bin, packed counters, grid width = ``width``)."""
    row = 0
    row_start = 0
    for w in range(bitmap.shape[0]):
        word = bitmap[w]
        if word == 0:
            continue
        bitmap[w] = 0
        base = w << 6
        while word != 0:
            cell = base + np.int64(trailing_zeros(word))
            word &= word - np.uint64(1)
            while cell >= row_start + width:
                row += 1
                row_start += width
            v = packed[cell]
            packed[cell] = 0
            coords[2 * m] = row
            coords[2 * m + 1] = cell - row_start
            feats[2 * m] = v & 0xFFFF
            feats[2 * m + 1] = v >> 16
            m += 1
    return m


@njit(cache=True, nogil=True)
def _emit(gw, bins, use_wide, packed, wide, bitmap, coords, feats, m):  # pragma: no cover
    """Write the active cells in raster order (bitmap scan), reset their counters; returns the new token count."""
    channels = 2 * bins
    row = 0
    row_end = gw
    for w in range(bitmap.shape[0]):
        word = bitmap[w]
        if word == 0:
            continue
        bitmap[w] = 0
        while word != 0:
            cell = (w << 6) + np.int64(trailing_zeros(word))
            word &= word - np.uint64(1)
            while cell >= row_end:
                row += 1
                row_end += gw
            coords[2 * m] = row
            coords[2 * m + 1] = cell - (row_end - gw)
            out = m * channels
            for b in range(bins):
                slot = cell * bins + b
                if use_wide:
                    feats[out + 2 * b] = wide[2 * slot]
                    feats[out + 2 * b + 1] = wide[2 * slot + 1]
                    wide[2 * slot] = 0
                    wide[2 * slot + 1] = 0
                else:
                    v = packed[slot]
                    packed[slot] = 0
                    feats[out + 2 * b] = v & 0xFFFF
                    feats[out + 2 * b + 1] = v >> 16
            m += 1
    return m


@njit(cache=True, nogil=True)
def _tokens_kernel(
    events, start, stop, t_start, t_end, width, height, factor, bins, packed, wide, bitmap, coords, feats, offsets
):  # pragma: no cover
    """Fused count + raster-order compaction; returns the token count, or -1 - i for an event i off the sensor.

    Counts of a (cell, time bin) live in one uint32 (OFF in the low, ON in the high 16 bits): half the
    memory traffic of two int32 counters, exact while a window holds <= 65535 events; longer windows use
    separate int32 counters (``wide``). Active cells are marked in a bitmap whose scan yields raster order.
    The counters and the bitmap come in zeroed and leave zeroed (each emit clears what it read), so one
    :class:`_Scratch` serves any number of calls; after an error they are dirty and must be dropped.
    ``events`` is the structured array itself: each count loop takes its field views where it runs (twice as
    fast as looping over field views passed in as arguments).
    """
    gw = (width + factor - 1) // factor
    xcell = np.arange(width) // factor  # lookup tables: no division per event
    ycell = (np.arange(height) // factor) * gw
    m = 0
    for k in range(start.shape[0]):
        use_wide = stop[k] - start[k] > _PACKED_MAX
        if factor == 1 and bins == 1 and not use_wide:
            bad = _count_fast(events, start[k], stop[k], width, height, packed, bitmap)
            if bad >= 0:
                return -1 - bad
            m = _emit_packed(width, packed, bitmap, coords, feats, m)
        else:
            span = max(t_end[k] - t_start[k], 1)
            shift = np.int64(trailing_zeros(factor)) if factor & (factor - 1) == 0 else np.int64(-1)
            bad = _count_general(
                events, start[k], stop[k], t_start[k], span, width, height, shift, gw, xcell, ycell, bins, use_wide, packed, wide, bitmap
            )
            if bad >= 0:
                return -1 - bad
            m = _emit(gw, bins, use_wide, packed, wide, bitmap, coords, feats, m)
        offsets[k + 1] = m
    return m


class _Scratch(NamedTuple):
    """Zeroed per-cell counters and occupancy bitmap of one grid (reused across batches of windows)."""

    packed: np.ndarray  # uint32 [cells * bins]: OFF | ON << 16
    wide: np.ndarray  # int32 [cells * bins * 2] when some window holds > 65535 events, else empty
    bitmap: np.ndarray  # uint64 [ceil(cells / 64)]

    @classmethod
    def new(cls, cells: int, time_bins: int, longest: int) -> "_Scratch":
        wide = cells * 2 * time_bins if longest > _PACKED_MAX else 0
        return cls(np.zeros(cells * time_bins, np.uint32), np.zeros(wide, np.int32), np.zeros((cells + 63) >> 6, np.uint64))


def _longest(index: WindowIndex) -> int:
    return int((index.stop - index.start).max(initial=0))


def _window_tokens(
    events: np.ndarray, sensor_size: tuple[int, int], index: WindowIndex, factor: int, time_bins: int, scratch: _Scratch
) -> TokenBatch:
    gh, gw = _grid(sensor_size, factor)
    lengths = index.stop - index.start
    cap = int(np.minimum(lengths, gh * gw).sum())
    coords = np.empty(cap * 2, np.int32)
    feats = np.empty(cap * 2 * time_bins, np.float32)
    offsets = np.zeros(len(index) + 1, np.int64)
    m = _tokens_kernel(
        events,
        index.start.astype(np.int64), index.stop.astype(np.int64),
        index.t_start.astype(np.int64), index.t_end.astype(np.int64),
        int(sensor_size[0]), int(sensor_size[1]), factor, time_bins,
        scratch.packed, scratch.wide, scratch.bitmap, coords, feats, offsets,
    )  # fmt: skip
    if m < 0:
        raise _off_sensor(events, -1 - m, sensor_size)
    return TokenBatch(coords[: 2 * m].reshape(m, 2), feats[: m * 2 * time_bins].reshape(m, 2 * time_bins), offsets, (gh, gw))


def _off_sensor(events: np.ndarray, i: int, sensor_size: tuple[int, int]) -> EventValidationError:
    return EventValidationError(
        f"window_tokens: event {i} at (x={int(events['x'][i])}, y={int(events['y'][i])}) is outside the "
        f"{int(sensor_size[0])}x{int(sensor_size[1])} sensor; check the sensor size"
    )


@njit(cache=True, nogil=True)
def _one_window_kernel(events, t_start, t_end, width, height, factor, bins, packed, wide, bitmap):  # pragma: no cover
    """:func:`_tokens_kernel` on one whole structured event array: allocates and returns (coords [N, 2], feats
    [N, C], N), or empty arrays and ``-1 - i`` for an event i off the sensor."""
    n = events.shape[0]
    cap = min(n, ((height + factor - 1) // factor) * ((width + factor - 1) // factor))
    coords = np.empty(cap * 2, np.int32)
    feats = np.empty(cap * 2 * bins, np.float32)
    bounds = np.array([0, n, t_start, t_end, 0, 0], np.int64)  # start, stop, t_start, t_end, offsets[2]
    m = _tokens_kernel(events, bounds[0:1], bounds[1:2], bounds[2:3], bounds[3:4], width, height, factor, bins,
                       packed, wide, bitmap, coords, feats, bounds[4:6])
    k = max(m, 0)
    return coords[: 2 * k].reshape((k, 2)), feats[: k * 2 * bins].reshape((k, 2 * bins)), m


class WindowTokenizer:
    """``histogram_tokens(events, t_start=.., t_end=..)`` of one window per call: the live loop's hot path.

    One compiled call per window (the structured array goes in whole) on counters kept between calls, where
    :func:`window_tokens` builds an index, scratch and a batch per call; equal output. Not thread-safe: one
    tokenizer per thread. ``events`` must have :data:`~edgevision.events.core.EVENT_DTYPE`.
    """

    def __init__(self, sensor_size: tuple[int, int], factor: int = 1, time_bins: int = 1) -> None:
        if time_bins < 1:
            raise ValueError(f"time_bins must be >= 1, got {time_bins}")
        self.sensor = (int(sensor_size[0]), int(sensor_size[1]))
        self.shape = _grid(sensor_size, factor)
        self.factor, self.time_bins = int(factor), int(time_bins)
        self._scratch = self._fresh(0)

    def _fresh(self, longest: int) -> _Scratch:
        return _Scratch.new(self.shape[0] * self.shape[1], self.time_bins, longest)

    def __call__(self, events: np.ndarray, t_start: int, t_end: int) -> Tokens:
        n = events.shape[0]
        if n > _PACKED_MAX and self._scratch.wide.shape[0] == 0:
            self._scratch = self._fresh(n)
        coords, feats, m = _one_window_kernel(events, t_start, t_end, *self.sensor, self.factor, self.time_bins,
                                              *self._scratch)
        if m < 0:  # the counters are dirty after an error
            self._scratch = self._fresh(n)
            raise _off_sensor(events, -1 - m, self.sensor)
        return Tokens(coords, feats, self.shape)


def window_tokens(
    events: np.ndarray, sensor_size: tuple[int, int], index: WindowIndex, factor: int = 1, time_bins: int = 1
) -> TokenBatch:
    """``histogram_tokens(events[start:stop], t_start=.., t_end=..)`` for every window of ``index`` in one pass.

    Time bins split each window's ``[t_start, t_end)``. Output equals the per-window ``histogram_tokens``.
    """
    if time_bins < 1:
        raise ValueError(f"time_bins must be >= 1, got {time_bins}")
    gh, gw = _grid(sensor_size, factor)
    return _window_tokens(events, sensor_size, index, factor, time_bins, _Scratch.new(gh * gw, time_bins, _longest(index)))


def iter_window_tokens(
    events: np.ndarray,
    sensor_size: tuple[int, int],
    index: WindowIndex,
    factor: int = 1,
    time_bins: int = 1,
    batch_events: int = 1 << 18,
) -> Iterator[Tokens]:
    """:func:`window_tokens` in groups of windows holding about ``batch_events`` events (bounded memory)."""
    if time_bins < 1:
        raise ValueError(f"time_bins must be >= 1, got {time_bins}")
    gh, gw = _grid(sensor_size, factor)
    scratch = _Scratch.new(gh * gw, time_bins, _longest(index))
    k, n = 0, len(index)
    csum = np.concatenate([[0], np.cumsum(index.stop - index.start)])
    while k < n:
        end = max(int(np.searchsorted(csum, csum[k] + batch_events, "right")) - 1, k + 1)
        part = WindowIndex(*(a[k:end] for a in index))
        batch = _window_tokens(events, sensor_size, part, factor, time_bins, scratch)
        for j in range(len(batch)):
            yield batch.window(j)
        k = end
