"""Benchmark of the event front end: read a file -> 10 ms windows -> 2-channel histogram tokens.

Runs edgevision's pipeline (``read_events`` on a ``.npy`` file (memory-mapped, validated; the copying read
is timed too), ``time_windows``, fused ``window_tokens``)
and, on the same in-memory events and the same windows, tonic's ``ToFrame`` (the dense 2-channel frames
tonic users build) and the reference ``histogram_tokens`` called per window. Reports medians over
repeats and events/s per stage; the pipeline figures share the read and window stages, so
``speedup_vs_tonic`` compares read + window + representation end to end.

The synthetic stream (640x480 by default) mimics a near-eye / moving-object recording: events cluster
around a few moving blobs (90 %) over uniform background noise (10 %), at a constant 2 M events/s; about
70 % of its events open a new token in 10 ms windows (the noise accounts for about a seventh of the tokens).
``sources`` replaces it with recordings (e.g. the synthetic eye data set's ``.h5`` files) played back to back.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from edgevision.events.core import SensorSize, make_events


def synthetic_stream(
    n_events: int, sensor_size: tuple[int, int] = (640, 480), rate_ev_s: float = 2e6, blobs: int = 6, seed: int = 0
) -> np.ndarray:
    """A time-sorted synthetic event stream with moving clusters plus 10 % uniform noise (vectorized)."""
    rng = np.random.default_rng(seed)
    w, h = sensor_size
    duration_us = int(n_events / rate_ev_s * 1e6)
    t = np.sort(rng.integers(0, max(duration_us, 1), n_events, dtype=np.int64))
    which = rng.integers(0, blobs, n_events)
    phase = rng.uniform(0, 2 * np.pi, (blobs, 2))
    speed = rng.uniform(0.5, 2.0, (blobs, 2))  # rad/s of a Lissajous path
    ts = t * 1e-6
    cx = w / 2 + 0.35 * w * np.sin(speed[which, 0] * ts + phase[which, 0])
    cy = h / 2 + 0.35 * h * np.sin(speed[which, 1] * ts + phase[which, 1])
    x = cx + rng.normal(0, 0.03 * w, n_events)
    y = cy + rng.normal(0, 0.03 * h, n_events)
    noise = rng.random(n_events) < 0.1
    x[noise] = rng.uniform(0, w, int(noise.sum()))
    y[noise] = rng.uniform(0, h, int(noise.sum()))
    x = np.clip(x, 0, w - 1).astype(np.uint16)
    y = np.clip(y, 0, h - 1).astype(np.uint16)
    return make_events(t, x, y, rng.integers(0, 2, n_events, dtype=np.uint8))


def recorded_stream(
    sources: Sequence[str | Path], n_events: int, sensor_size: tuple[int, int] | None = None
) -> tuple[np.ndarray, SensorSize]:
    """Event files read in the given order and played back to back (each shifted to start 1 us after the
    previous one ends), cut at ``n_events``; all files must share one sensor size."""
    from edgevision.errors import ConfigError
    from edgevision.events.formats import read_events

    parts: list[np.ndarray] = []
    sensor: SensorSize | None = None
    have, next_t = 0, 0
    for path in sources:
        events, size = read_events(path, sensor_size=sensor_size)
        if sensor is not None and size != sensor:
            raise ConfigError(
                f"{path}: sensor {size.width}x{size.height} differs from {sensor.width}x{sensor.height} of the first "
                "file; pass --sensor WIDTHxHEIGHT when the files do not store it"
            )
        sensor = size
        if events.shape[0] == 0:
            continue
        events = events[: n_events - have].copy()
        events["t"] += next_t - events["t"][0]
        next_t = int(events["t"][-1]) + 1
        parts.append(events)
        have += events.shape[0]
        if have >= n_events:
            break
    if sensor is None or not parts:
        raise ConfigError("--source: no events in the given files; pass event files (e.g. .../train/*/*.h5)")
    return np.concatenate(parts), sensor


def _median_time(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def run_events_benchmark(
    n_events: int = 20_000_000,
    sensor_size: tuple[int, int] | None = None,
    window_us: int = 10_000,
    repeats: int = 3,
    file_format: str = "npy",
    sources: Sequence[str | Path] | None = None,
) -> dict[str, Any]:
    """Time each stage (medians over ``repeats``) and return a JSON-ready dict of figures.

    The stream is :func:`synthetic_stream` (``sensor_size`` default 640x480), or with ``sources`` the
    :func:`recorded_stream` of those files (``n_events`` at most; ``sensor_size`` overrides theirs).
    """
    import tonic.transforms
    from tqdm import tqdm

    from edgevision.events.formats import read_events, write_events
    from edgevision.events.representations import iter_window_tokens
    from edgevision.events.tokens import histogram_tokens
    from edgevision.events.windows import time_windows

    if sources:
        events, sensor = recorded_stream(sources, n_events, sensor_size)
        n_events = int(events.shape[0])
        stream = f"recordings: {len(sources)} file(s) given, first {sources[0]}"
    else:
        sensor = SensorSize(*(sensor_size or (640, 480)))
        events = synthetic_stream(n_events, sensor)
        stream = "synthetic: 6 moving blobs + 10 % uniform noise, 2 M events/s"
    rate = n_events / max((int(events["t"][-1]) - int(events["t"][0])) * 1e-6, 1e-6)
    with tempfile.TemporaryDirectory(prefix="edgevision-bench-") as tmp:
        path = Path(tmp) / f"stream.{file_format}"
        write_events(path, events, sensor, format=file_format)
        del events
        read_copy_s, _ = _median_time(lambda: read_events(path), repeats)
        read_s, (events, _) = _median_time(lambda: read_events(path, mmap=True), repeats)
        events = np.array(events)  # the temporary directory goes away; the timed stages below run on RAM
    window_s, index = _median_time(lambda: time_windows(events, window_us), repeats)

    def tokens() -> int:
        return sum(tok.coords.shape[0] for tok in iter_window_tokens(events, sensor, index))

    tokens_s, n_tokens = _median_time(tokens, repeats)

    def reference_tokens() -> int:
        n = 0
        for ts, te, a, b in zip(index.t_start, index.t_end, index.start, index.stop):
            n += histogram_tokens(events[a:b], sensor, t_start=int(ts), t_end=int(te)).coords.shape[0]
        return n

    reference_s, n_ref = _median_time(reference_tokens, 1)

    group = 64  # windows per ToFrame call: bounds the dense frame memory (64 x 2 x H x W int16)

    def tonic_frames() -> int:
        total = 0
        for k in tqdm(range(0, len(index), group), desc="tonic ToFrame", leave=False, disable=None):
            last = min(k + group, len(index)) - 1
            frame = tonic.transforms.ToFrame(
                sensor_size=sensor.tonic,
                time_window=window_us,
                start_time=int(index.t_start[k]),
                end_time=int(index.t_end[last]),
            )
            frames = frame(events[index.start[k] : index.stop[last]])
            total += int(np.count_nonzero(frames.any(axis=1)))
        return total

    tonic_s, tonic_sites = _median_time(tonic_frames, max(1, min(repeats, 2)))
    ours = read_s + window_s + tokens_s
    theirs = read_s + window_s + tonic_s
    return {
        "events": n_events,
        "stream": stream,
        "stream_events_per_s": rate,
        "sensor": f"{sensor.width}x{sensor.height}",
        "file_format": file_format,
        "window_us": window_us,
        "windows": len(index),
        "tokens": int(n_tokens),
        "tokens_per_event": int(n_tokens) / n_events,
        "tokens_match_reference": bool(n_tokens == n_ref == tonic_sites),
        "repeats": repeats,
        "read_s": read_s,
        "read_copy_s": read_copy_s,
        "window_s": window_s,
        "tokens_s": tokens_s,
        "tonic_toframe_s": tonic_s,
        "histogram_tokens_per_window_s": reference_s,
        "read_events_per_s": n_events / read_s,
        "read_copy_events_per_s": n_events / read_copy_s,
        "window_events_per_s": n_events / window_s,
        "tokens_events_per_s": n_events / tokens_s,
        "tonic_toframe_events_per_s": n_events / tonic_s,
        "histogram_tokens_events_per_s": n_events / reference_s,
        "events_per_s": n_events / ours,
        "tonic_events_per_s": n_events / theirs,
        "speedup_vs_tonic": theirs / ours,
        "representation_speedup_vs_tonic": tonic_s / tokens_s,
        "tokens_speedup_vs_histogram_tokens": reference_s / tokens_s,
    }
