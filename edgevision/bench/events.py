"""Benchmark of the event front end per file format: read a file -> 10 ms windows -> the eye tracker's tokens.

One fixed stream (:func:`synthetic_stream`, or ``sources`` played back to back) is written with edgevision's
own writers into every format of :data:`BENCH_FORMATS` (HDF5 in the 3ET+ layout, uncompressed and gzip;
``.npy``; Prophesee EVT 2.0 / EVT 3.0 ``.raw`` and ``.dat``; iniVation ``.aedat4``). For each file, in one run:

- edgevision: ``read_events`` + ``time_windows`` (10 ms) + ``window_tokens`` with the tracker's input
  (``models/eye_small.yaml``: factor-8 downsample, 2 time bins, counts clipped at 15), the tokens the
  tracker and training feed the backbone.
- tonic doing the same job: its reader where tonic has one for the format (``np.load`` for ``.npy``, h5py's
  ``f["events"][()]`` as tonic's eye-tracking datasets read HDF5), else the array edgevision's reader
  decoded (read again, timed again), then ``tonic.transforms.Downsample(spatial_factor=1/8)`` and one
  ``ToFrame`` call over the same grid (``time_window`` = half a window: the 2 time bins). tonic is not
  charged for passes it would not do (no windowing of its own, no conversion of its dense frames).
- edgevision's own whole read with faery as the decoder ("edgevision on faery": EVT2 / DAT, whose default decoder
  is expelliarmus), so the decoder change is measured in the same run;
- other maintained readers installed for the format (expelliarmus: EVT2 / EVT3 / DAT; faery: EVT2 / EVT3 /
  DAT / AEDAT4; aedat: AEDAT4), read stage only, with a check that they decode the same events.

Before every timed read the file is dropped from the page cache (``fsync`` + ``posix_fadvise(DONTNEED)``,
no root needed) and ``mincore`` checks that none of its pages stayed resident; ``cold`` says per format
whether every timed read of it started cold. Figures are medians over ``repeats``; progress goes to stderr.

The synthetic stream (640x480 by default) mimics a near-eye / moving-object recording: events cluster
around a few moving blobs (90 %) over uniform background noise (10 %), at a constant 2 M events/s.
"""

from __future__ import annotations

import ctypes
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from edgevision.atomic import atomic_path
from edgevision.errors import ConfigError
from edgevision.events.core import SensorSize, make_events
from edgevision.events.formats import camera_files, read_events, write_events
from edgevision.events.formats.hdf5 import THREEET_PLUS_DTYPE
from edgevision.events.representations import window_tokens
from edgevision.events.windows import time_windows

# name: (edgevision writer format, file name)
BENCH_FORMATS: dict[str, tuple[str, str]] = {
    "h5-3etplus": ("h5-3etplus", "stream.h5"),
    "h5-3etplus-gzip": ("h5-3etplus", "stream-gzip.h5"),
    "npy": ("npy", "stream.npy"),
    "evt2": ("evt2", "stream-evt2.raw"),
    "evt3": ("evt3", "stream-evt3.raw"),
    "aedat4": ("aedat4", "stream.aedat4"),
    "dat": ("dat", "stream.dat"),
}
# The eye tracker's input (models/eye_small.yaml, input:): factor-8 downsample, 2 time bins, clip at 15.
TRACKER_DOWNSAMPLE, TRACKER_TIME_BINS, TRACKER_INPUT_CLIP = 8, 2, 15
H5_GZIP_LEVEL, H5_CHUNK_ROWS = 4, 1 << 16


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


# ---------------------------------------------------------------------------------------------- page cache

def _libc() -> Any:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mmap.restype = ctypes.c_void_p
        libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
        libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]
        libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        return libc
    except (OSError, AttributeError):
        return None


_LIBC = _libc() if sys.platform.startswith("linux") else None


def resident_fraction(path: str | Path) -> float | None:
    """Fraction of ``path``'s pages in the page cache (``mincore``), None where it cannot be asked."""
    size = os.path.getsize(path)
    if _LIBC is None or size == 0:
        return None
    page = os.sysconf("SC_PAGE_SIZE")
    fd = os.open(path, os.O_RDONLY)
    try:
        addr = _LIBC.mmap(None, size, 1, 1, fd, 0)  # PROT_READ, MAP_SHARED
    finally:
        os.close(fd)
    if addr in (None, ctypes.c_void_p(-1).value):
        return None
    try:
        vec = ctypes.create_string_buffer((size + page - 1) // page)
        if _LIBC.mincore(addr, size, vec) != 0:
            return None
        return float((np.frombuffer(vec.raw, np.uint8) & 1).mean())
    finally:
        _LIBC.munmap(addr, size)


def drop_cache(path: str | Path) -> bool:
    """Evict ``path`` from the page cache (fsync + POSIX_FADV_DONTNEED); True when ``mincore`` confirms that
    (almost) none of it stayed resident."""
    if not hasattr(os, "posix_fadvise"):
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    except OSError:
        return False
    finally:
        os.close(fd)
    left = resident_fraction(path)
    return left is not None and left <= 0.01


# ---------------------------------------------------------------------------------------------- readers

def _write_h5_gzip(path: Path, events: np.ndarray) -> None:
    """The 3ET+ table (uint64 t, x, y, p rows, dataset ``events``) as gzip-compressed chunks, atomically."""
    import h5py

    table = np.empty(events.shape[0], THREEET_PLUS_DTYPE)
    for name in ("t", "x", "y", "p"):
        table[name] = events[name]
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("events", data=table, compression="gzip", compression_opts=H5_GZIP_LEVEL,
                         chunks=(min(H5_CHUNK_ROWS, max(1, table.shape[0])),))


def _read_h5py(path: Path) -> np.ndarray:
    import h5py

    with h5py.File(path, "r") as f:
        return f["events"][()]


def _read_npy(path: Path) -> np.ndarray:
    return np.load(path)


def _tonic_reader(name: str) -> tuple[Callable[[Path], np.ndarray] | None, str]:
    """tonic's own way to load this format, or None and why not."""
    if name.startswith("h5"):
        return _read_h5py, "h5py f['events'][()], as tonic's ThreeET_Eyetracking reads HDF5"
    if name == "npy":
        return _read_npy, "np.load (tonic has no reader of its own for .npy)"
    if name == "aedat4":
        try:
            import aedat  # noqa: F401  (tonic.io.read_aedat4 needs it)
        except ImportError:
            return None, "tonic.io.read_aedat4 needs the aedat package (not installed): edgevision's decoded array"
        return _tonic_aedat4, "tonic.io.read_aedat4"
    return None, f"tonic has no {name.upper()} reader: edgevision's decoded array"


def _tonic_aedat4(path: Path) -> np.ndarray:
    from tonic.io import read_aedat4

    return read_aedat4(str(path))


def _other_readers(name: str) -> dict[str, Callable[[Path], np.ndarray]]:
    """Maintained third-party readers installed for this format (read stage only)."""
    out: dict[str, Callable[[Path], np.ndarray]] = {}
    encoding = {"evt2": "evt2", "evt3": "evt3", "dat": "dat"}.get(name)
    if encoding:
        try:
            from expelliarmus import Wizard

            out["expelliarmus"] = lambda p, e=encoding: Wizard(encoding=e).read(p)
        except ImportError:
            pass
    if name in ("evt2", "dat"):  # edgevision's whole read (read_events minus its checks) on its previous decoder
        kind = "evt" if name == "evt2" else "dat"
        out["edgevision on faery"] = lambda p, k=kind: camera_files.read_camera_file(p, k, None, expelliarmus=False)[1]
    if name in ("evt2", "evt3", "dat", "aedat4"):
        try:
            import faery

            out["faery"] = lambda p: faery.events_stream_from_file(p).to_array()
        except ImportError:
            pass
    if name == "aedat4":
        try:
            import aedat

            def read_aedat(p: Path) -> np.ndarray:
                return np.concatenate([pk["events"] for pk in aedat.Decoder(str(p)) if "events" in pk])

            out["aedat"] = read_aedat
        except ImportError:
            pass
    return out


def _same_events(theirs: np.ndarray, ours: np.ndarray) -> bool:
    names = theirs.dtype.names or ()
    pol = next((n for n in ("p", "on", "polarity") if n in names), None)
    if pol is None or theirs.shape[0] != ours.shape[0]:
        return False
    return bool(all(np.array_equal(theirs[n].astype(np.int64), ours[n].astype(np.int64)) for n in ("t", "x", "y"))
                and np.array_equal(theirs[pol].astype(np.int64) != 0, ours["p"] != 0))


# ---------------------------------------------------------------------------------------------- pipelines

def _progress(msg: str) -> None:
    print(f"bench events: {msg}", file=sys.stderr, flush=True)


class _Timer:
    def __init__(self) -> None:
        self.stages: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.stages[stage] = now - self._t
        self._t = now


def _ours(path: Path, sensor: SensorSize, window_us: int) -> tuple[dict[str, float], Any]:
    tm = _Timer()
    events, _ = read_events(path, sensor_size=sensor)
    tm.lap("read_s")
    index = time_windows(events, window_us)
    tm.lap("window_s")
    batch = window_tokens(events, sensor, index, TRACKER_DOWNSAMPLE, TRACKER_TIME_BINS)
    feats = np.minimum(batch.feats, TRACKER_INPUT_CLIP)
    tm.lap("tokens_s")
    return tm.stages, (events, index, batch, feats)


def _tonic(
    path: Path, reader: Callable[[Path], np.ndarray] | None, sensor: SensorSize, window_us: int, grid: tuple[int, int]
) -> tuple[dict[str, float], np.ndarray]:
    """tonic's job: load, Downsample by 1/8, ToFrame in half-window bins over [grid start, grid end)."""
    import tonic.transforms

    tm = _Timer()
    events = reader(path) if reader is not None else read_events(path, sensor_size=sensor)[0]
    tm.lap("read_s")
    f = TRACKER_DOWNSAMPLE
    small = tonic.transforms.Downsample(spatial_factor=1 / f)(events)
    frames = tonic.transforms.ToFrame(
        sensor_size=(-(-sensor.width // f), -(-sensor.height // f), 2),
        time_window=window_us / TRACKER_TIME_BINS,
        start_time=grid[0],
        end_time=grid[1],
    )(small)
    tm.lap("frames_s")
    return tm.stages, frames


def _timed(fn: Callable[[], tuple[dict[str, float], Any]], path: Path, repeats: int) -> tuple[dict[str, float], Any, bool]:
    """Medians of each stage and of the total over ``repeats`` runs, each after dropping ``path`` from the cache."""
    runs: list[dict[str, float]] = []
    cold, out = True, None
    for _ in range(repeats):
        cold &= drop_cache(path)
        stages, out = fn()
        stages["total_s"] = sum(stages.values())
        runs.append(stages)
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}, out, cold


def _tokens_match_frames(batch: Any, frames: np.ndarray, windows: int) -> bool:
    """tonic's dense frames hold the same counts at the same sites as edgevision's (unclipped) tokens."""
    if frames.shape[0] != windows * TRACKER_TIME_BINS:
        return False
    dense = frames.reshape(windows, TRACKER_TIME_BINS, 2, *frames.shape[2:])
    sites = dense.any(axis=(1, 2))
    if int(sites.sum()) != batch.coords.shape[0] or int(dense.sum()) != int(batch.feats.sum()):
        return False
    ours = np.zeros(dense.shape[0:1] + dense.shape[3:], np.int64)  # [K, H, W] events per site
    k = np.repeat(np.arange(windows), np.diff(batch.offsets))
    np.add.at(ours, (k, batch.coords[:, 0], batch.coords[:, 1]), batch.feats.sum(axis=1).astype(np.int64))
    return bool(np.array_equal(ours, dense.sum(axis=(1, 2))))


def _warm_up(sensor: SensorSize, window_us: int) -> None:
    """Load the compiled kernels (numba caches) once, so that no format pays for them."""
    ev = synthetic_stream(2000, sensor)
    window_tokens(ev, sensor, time_windows(ev, window_us), TRACKER_DOWNSAMPLE, TRACKER_TIME_BINS)


def run_events_benchmark(
    n_events: int = 4_000_000,
    sensor_size: tuple[int, int] | None = None,
    window_us: int = 10_000,
    repeats: int = 3,
    formats: Sequence[str] | None = None,
    sources: Sequence[str | Path] | None = None,
    tmp_dir: str | Path | None = None,
    progress: Callable[[str], None] | None = _progress,
) -> dict[str, Any]:
    """Write the stream into each of ``formats`` (default all of :data:`BENCH_FORMATS`) under ``tmp_dir`` (default
    the system's temporary folder; a tmpfs cannot be read cold) and time read + windows + tokens against tonic.

    The stream is :func:`synthetic_stream` (``sensor_size`` default 640x480), or with ``sources`` the
    :func:`recorded_stream` of those files (``n_events`` at most; ``sensor_size`` overrides theirs).
    """
    say = progress or (lambda _msg: None)
    names = list(formats or BENCH_FORMATS)
    unknown = [n for n in names if n not in BENCH_FORMATS]
    if unknown:
        raise ValueError(f"unknown formats {unknown}; choose from {list(BENCH_FORMATS)}")
    if sources:
        events, sensor = recorded_stream(sources, n_events, sensor_size)
        n_events = int(events.shape[0])
        stream = f"recordings: {len(sources)} file(s) given, first {sources[0]}"
    else:
        sensor = SensorSize(*(sensor_size or (640, 480)))
        events = synthetic_stream(n_events, sensor)
        stream = "synthetic: 6 moving blobs + 10 % uniform noise, 2 M events/s"
    span_s = max((int(events["t"][-1]) - int(events["t"][0])) * 1e-6, 1e-6)
    _warm_up(sensor, window_us)
    results: dict[str, Any] = {}
    summary: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="edgevision-bench-", dir=tmp_dir) as tmp:
        for name in names:
            fmt, file_name = BENCH_FORMATS[name]
            path = Path(tmp) / file_name
            say(f"{name}: writing {n_events:,} events")
            if name.endswith("-gzip"):
                _write_h5_gzip(path, events)
            else:
                write_events(path, events, sensor, format=fmt)
            say(f"{name}: edgevision read + windows + tokens x{repeats}")
            ours, (decoded, index, batch, feats), cold = _timed(lambda: _ours(path, sensor, window_us), path, repeats)
            report: dict[str, Any] = {}
            read_events(path, sensor_size=sensor, report=report)  # untimed: which decoder read_events used
            decoded_ok = bool(np.array_equal(decoded, events))
            grid = (int(index.t_start[0]), int(index.t_end[-1])) if len(index) else (0, window_us)
            reader, reader_note = _tonic_reader(name)
            say(f"{name}: tonic ({reader_note.split(':')[0]}) + Downsample + ToFrame x{repeats}")
            theirs, frames, tonic_cold = _timed(lambda: _tonic(path, reader, sensor, window_us, grid), path, repeats)
            match = _tokens_match_frames(batch, frames, len(index))
            del frames
            others: dict[str, Any] = {}
            for other, read in _other_readers(name).items():
                say(f"{name}: {other} read x{repeats}")

                def read_only(read=read) -> tuple[dict[str, float], Any]:
                    tm = _Timer()
                    arr = read(path)
                    tm.lap("read_s")
                    return tm.stages, arr

                try:
                    times, arr, other_cold = _timed(read_only, path, repeats)
                except Exception as exc:  # a third-party reader failing is a figure, not a crash
                    others[other] = {"error": f"{type(exc).__name__}: {exc}"[:200]}
                    continue
                others[other] = {
                    "read_s": times["read_s"],
                    "read_events_per_s": n_events / times["read_s"],
                    "read_speedup_vs_edgevision": times["read_s"] / ours["read_s"],
                    "decodes_same_events": _same_events(arr, events),
                    "cold": other_cold,
                }
                del arr
            eps = n_events / ours["total_s"]
            tonic_eps = n_events / theirs["total_s"]
            results[name] = {
                "file": file_name,
                "writer": "h5py gzip level 4, 64 k-row chunks (3ET+ table)" if name.endswith("-gzip") else f"edgevision {fmt}",
                "file_bytes": path.stat().st_size,
                "bytes_per_event": path.stat().st_size / n_events,
                "cold": bool(cold and tonic_cold),
                "cold_reason": None if cold and tonic_cold else (
                    "the page cache could not be dropped or checked for this file (tmpfs, no posix_fadvise or mincore)"),
                "decoded_matches_stream": decoded_ok,
                "tokens_match_tonic": match,
                "windows": len(index),
                "tokens": int(batch.coords.shape[0]),
                "read_s": ours["read_s"],
                "window_s": ours["window_s"],
                "tokens_s": ours["tokens_s"],
                "total_s": ours["total_s"],
                "read_events_per_s": n_events / ours["read_s"],
                "decoder": report.get("decoder"),
                "events_per_s": eps,
                "tonic_reader": reader_note,
                "tonic_reason": None,
                "tonic_read_s": theirs["read_s"],
                "tonic_frames_s": theirs["frames_s"],
                "tonic_total_s": theirs["total_s"],
                "tonic_events_per_s": tonic_eps,
                "speedup_vs_tonic": eps / tonic_eps,
                "other_readers": others,
            }
            summary[name] = (eps, tonic_eps, eps / tonic_eps, results[name]["cold"])
            say(f"{name}: {eps / 1e6:.1f} M ev/s vs tonic {tonic_eps / 1e6:.1f} M ev/s ({eps / tonic_eps:.1f}x), "
                f"cold {results[name]['cold']}")
            path.unlink()
    return {
        "events": n_events,
        "stream": stream,
        "stream_events_per_s": n_events / span_s,
        "sensor": f"{sensor.width}x{sensor.height}",
        "window_us": window_us,
        "tokens_input": {"downsample": TRACKER_DOWNSAMPLE, "time_bins": TRACKER_TIME_BINS, "input_clip": TRACKER_INPUT_CLIP},
        "repeats": repeats,
        "formats": results,
        "table": format_table(results),
    }


def format_table(formats: dict[str, Any]) -> str:
    """Markdown table of the per-format figures."""
    rows = ["| format | MB | edgevision M ev/s (read only) | tonic M ev/s | speedup vs tonic | cold | other readers, read M ev/s "
            "| edgevision's decoder |", "|---|---|---|---|---|---|---|---|"]
    for name, r in formats.items():
        tonic = "n/a" if r["tonic_events_per_s"] is None else f"{r['tonic_events_per_s'] / 1e6:.1f}"
        ratio = "n/a" if r["speedup_vs_tonic"] is None else f"{r['speedup_vs_tonic']:.1f}x"
        others = ", ".join(
            f"{k} {v['read_events_per_s'] / 1e6:.0f}" + ("" if v["decodes_same_events"] else " (differs)")
            if "error" not in v else f"{k} error" for k, v in r["other_readers"].items()
        ) or "-"
        rows.append(f"| {name} | {r['file_bytes'] / 1e6:.0f} | {r['events_per_s'] / 1e6:.1f} ({r['read_events_per_s'] / 1e6:.0f}) "
                    f"| {tonic} | {ratio} | {str(r['cold']).lower()} | {others} | {r.get('decoder') or '-'} |")
    return "\n".join(rows)
