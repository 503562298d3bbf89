"""``edgevision bench loop``: latency of the tracker loop (window ready -> pupil out) with the ``torch`` backend
on the CPU, steady, under a 10x event burst and under a uniform-noise flood. Besides wall-clock latency it reports the loop thread's CPU
time per window (``cpu_*``), which stays meaningful when other processes share the cores.

All three scenarios replay the same pre-generated synthetic camera windows in real time (10 ms per window) through
:class:`~edgevision.runtime.tracker.TrackerLoop`. The burst scenario multiplies the event rate by 10 for one
second (at most a third of the run) in the middle (the extra events spread over the whole sensor, as with a head movement or flicker, so
the number of active sites, and the compute, grows) and shows whether the loop stays real time: windows that
cannot be served in time are dropped (drop-oldest, counted) instead of building a backlog. The flood scenario adds
``FLOOD_EVENTS`` uniform noise events to each window of the same span (the whole grid active). ``recovery_ms``:
sensor time from the end of the span until ``RECOVERY_RUN`` consecutive windows are back at the steady run's p99
latency (goal: within 100 ms). Goal: p99 < 2 ms.
The baseline in the same run is the ``torch`` backend on the model's own training-path forward
(``impl="torch"``: batched sparse ops, BatchNorm modules); the backend's default is the one-window path
(:class:`~edgevision.nn.infer.WindowBackbone`). When the int8 IR of the model is present, the compiled
``engine`` backend runs the same scenarios for comparison.
"""

from __future__ import annotations

import json
from pathlib import Path
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from edgevision.atomic import write_text_atomic
from edgevision.events.core import EVENT_DTYPE
from edgevision.ir.schema import InputSpec, load_ir
from edgevision.nn.checkpoint import load_eye_tracker
from edgevision.nn.config import load_config
from edgevision.nn.eye_model import EyeTracker
from edgevision.runtime.backends import make_backend
from edgevision.runtime.host_model import config_input
from edgevision.runtime.session import DEFAULT_CHECKPOINT, DEFAULT_IR, resolve
from edgevision.runtime.sources import ReplaySource, SyntheticSource, TrackWindow
from edgevision.runtime.tracker import TrackerLoop

BURST_FACTOR = 10
FLOOD_EVENTS = 200_000  # noise events added per 10 ms window in the flood scenario (20 M events/s)
RECOVERY_RUN = 5  # consecutive windows back at steady latency that end a recovery


def burst(windows: list[TrackWindow], sensor: tuple[int, int], start: int, count: int, seed: int = 0) -> list[TrackWindow]:
    """Copy of ``windows`` where windows ``start .. start + count`` carry ``BURST_FACTOR`` x their events."""
    return _with_noise(windows, sensor, start, count, lambda w: max(w.events.shape[0], 1) * (BURST_FACTOR - 1), seed)


def flood(windows: list[TrackWindow], sensor: tuple[int, int], start: int, count: int, seed: int = 0) -> list[TrackWindow]:
    """Copy of ``windows`` where windows ``start .. start + count`` also carry ``FLOOD_EVENTS`` uniform noise events
    (a sensor flooded by flicker or a bias glitch: the whole grid active, whatever the scene)."""
    return _with_noise(windows, sensor, start, count, lambda w: FLOOD_EVENTS, seed)


def _with_noise(windows: list[TrackWindow], sensor: tuple[int, int], start: int, count: int,
                extra_events: Callable[[TrackWindow], int], seed: int) -> list[TrackWindow]:
    rng = np.random.default_rng(seed)
    out = []
    for w in windows:
        ev = w.events
        if start <= w.index < start + count:
            n = extra_events(w)
            extra = np.empty(n, EVENT_DTYPE)
            extra["t"] = rng.integers(w.t_start, w.t_end, n)
            extra["x"] = rng.integers(0, sensor[0], n)
            extra["y"] = rng.integers(0, sensor[1], n)
            extra["p"] = rng.integers(0, 2, n)
            ev = np.concatenate([w.events, extra])
            ev = ev[np.argsort(ev["t"], kind="stable")]
        out.append(TrackWindow(w.index, w.t_start, w.t_end, ev, w.label))
    return out


def recovery_ms(index: np.ndarray, latency_ms: np.ndarray, end: int, steady_p99_ms: float, window_ms: float,
                run: int = RECOVERY_RUN) -> float | None:
    """Sensor time from the end of a disturbance (window ``end``) until ``run`` consecutive processed windows are
    back at or under the steady run's p99 latency (dropped windows break a run); None if that never happens."""
    order = np.argsort(index)
    index, latency_ms = index[order], latency_ms[order]
    after = index >= end
    idx, ok = index[after], latency_ms[after] <= steady_p99_ms
    for k in range(max(len(idx) - run + 1, 0)):
        if ok[k : k + run].all() and idx[k + run - 1] - idx[k] == run - 1:
            return float((idx[k] - end) * window_ms)
    return None


def _model(checkpoint: str | None) -> tuple[Any, Any, str]:
    path = resolve(checkpoint or DEFAULT_CHECKPOINT)
    if checkpoint is not None or path.is_file():
        model, cfg = load_eye_tracker(path)
        return model, cfg, str(path)

    cfg = load_config(resolve("models/eye_small.yaml"))
    return EyeTracker(cfg).eval(), cfg, "models/eye_small.yaml (random-initialised weights: timing only)"


def _scenarios(backend: Any, model: Any, front: InputSpec, windows: list[TrackWindow], sensor: tuple[int, int], seed: int) -> dict[str, Any]:
    """Steady, burst and flood runs of one backend (after a short lossless warm-up)."""
    n = len(windows)
    TrackerLoop(backend, model, front).run(ReplaySource(windows[: min(20, n)], sensor, realtime=False))
    b0, bn = n // 3, min(100, n // 3)
    results: dict[str, Any] = {}
    window_ms = front.slice_us / 1000
    scenarios = (("steady", windows), ("burst", burst(windows, sensor, b0, bn, seed)),
                 ("flood", flood(windows, sensor, b0, bn, seed)))
    for name, wins in scenarios:
        loop = TrackerLoop(backend, model, front)
        s = loop.run(ReplaySource(wins, sensor, realtime=True))
        lat = np.array([p.latency_ms for p in loop.predictions])
        idx = np.array([p.index for p in loop.predictions])
        in_burst = (idx >= b0) & (idx < b0 + bn)
        after = idx >= b0 + bn + 10
        r = {key: s[key] for key in ("latency_p50_ms", "latency_p99_ms", "infer_p50_ms", "cpu_p50_ms", "cpu_p99_ms",
                                     "dropped", "source_max_handover_ms", "stages_p50_ms")}
        r["processed"] = s["windows"]
        if name == "steady":
            r["events_per_window_median"] = float(np.median([w.events.shape[0] for w in wins]))
        else:
            r.update({
                "burst_windows": bn,
                "burst_events_per_window_median": float(np.median([w.events.shape[0] for w in wins[b0 : b0 + bn]])),
                "burst_dropped": int(bn - in_burst.sum()),
                "burst_latency_p50_ms": float(np.percentile(lat[in_burst], 50)) if in_burst.any() else None,
                "burst_latency_max_ms": float(lat[in_burst].max()) if in_burst.any() else None,
                "after_burst_latency_p99_ms": float(np.percentile(lat[after], 99)) if after.any() else None,
                "recovery_ms": recovery_ms(idx, lat, b0 + bn, results["steady"]["latency_p99_ms"], window_ms),
            })
            r["recovered_within_100ms"] = r["recovery_ms"] is not None and r["recovery_ms"] <= 100
        results[name] = r
    results["meets_goal_p99_2ms"] = results["steady"]["latency_p99_ms"] < 2.0
    return results


def bench_loop(seconds: float = 3.0, checkpoint: str | None = None, out: str | None = None, seed: int = 0,
               model_dir: str | None = None) -> dict[str, Any]:
    """The three scenarios of the loop on ``torch`` (and ``engine`` on the int8 IR when it matches the model)."""
    torch.set_num_threads(1)
    model, cfg, model_name = _model(checkpoint)
    synth = SyntheticSource(seconds, seed, realtime=False)
    sensor = synth.sensor_size
    windows = list(synth)
    results: dict[str, Any] = {"model": model_name, "torch_threads": 1, "windows": len(windows), "goal_p99_ms": 2.0}
    backend = make_backend("torch", model=model, input_clip=cfg.input.input_clip)
    results["torch_step_loop"] = "c++" if backend.window_backbone.plan is not None else "python (no compiler)"
    front = config_input(cfg)
    results["torch"] = _scenarios(backend, model, front, windows, sensor, seed)
    baseline = make_backend("torch", model=model, input_clip=cfg.input.input_clip, impl="torch")
    results["torch_model_forward"] = _scenarios(baseline, model, front, windows, sensor, seed)
    results["torch_over_model_forward_latency_p50"] = (results["torch"]["steady"]["latency_p50_ms"]
                                                       / results["torch_model_forward"]["steady"]["latency_p50_ms"])
    ir_dir = resolve(model_dir or DEFAULT_IR)
    if ir_dir.is_dir():
        net = load_ir(ir_dir)
        engine = make_backend("engine", net=net)
        if engine.feature_dim == model.backbone.feature_dim:
            results["engine"] = _scenarios(engine, model, net.input, windows, sensor, seed)
            results["engine"]["ir"] = str(ir_dir)
            results["engine_over_torch_latency_p50"] = (results["engine"]["steady"]["latency_p50_ms"]
                                                        / results["torch"]["steady"]["latency_p50_ms"])
    if out is not None:
        write_text_atomic(Path(out), json.dumps(results, indent=1))
        results["out"] = out
    return results
