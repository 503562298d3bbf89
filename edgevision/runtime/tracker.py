"""The real-time eye-tracking loop: source -> windows (the model's ``slice_us``) -> tokens (the model's
:class:`~edgevision.ir.schema.InputSpec`) -> backend (backbone) -> GRU head (NumPy, :mod:`edgevision.runtime.head`)
-> pupil.

Producer/consumer: a thread pulls windows from the source into a bounded queue and never waits on the
consumer. Overload policy for live (``realtime``) sources, **drop-oldest**: when the queue is full the oldest
waiting window is discarded (and counted) so the consumer always works on the freshest events; the GRU state
carries over the gap. Offline sources (replay as fast as possible) are lossless: the producer waits for room.
Latency is measured from the moment a window is ready (its end time passed, it enters the queue) to the
moment its pupil estimate is out. Offline replay has no arrival clock: there a window is ready when the
consumer takes it, so the latency is the processing time (tokens + backend + GRU head).
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from threadpoolctl import threadpool_limits

from edgevision.events.representations import WindowTokenizer
from edgevision.ir.schema import InputSpec
from edgevision.runtime.backends import Backend
from edgevision.runtime.sources import Source, TrackWindow

_END = object()


@dataclass
class Prediction:
    """One window's output: pupil (x, y) in camera px (and ``model_x``, ``model_y`` in the model's input space,
    see :mod:`edgevision.runtime.sensor_map`), eye-closed probability, timings, label (camera px) if known."""

    index: int
    t_us: int
    x: float
    y: float
    closed_prob: float
    latency_ms: float
    infer_ms: float
    n_events: int
    label: np.ndarray | None = None
    cycles: int | None = None
    cpu_ms: float = 0.0  # CPU time of this thread for the window (wall time minus waiting for the CPU)
    model_x: float | None = None
    model_y: float | None = None
    tokens_ms: float = 0.0  # wall time of the stages: events -> tokens, then the GRU head (the backend's is infer_ms)
    head_ms: float = 0.0

    def record(self) -> dict[str, Any]:
        """The JSONL row."""
        row: dict[str, Any] = {"t_us": self.t_us, "x": round(self.x, 3), "y": round(self.y, 3),
                               "closed_prob": round(self.closed_prob, 4), "latency_ms": round(self.latency_ms, 4),
                               "infer_ms": round(self.infer_ms, 4), "events": self.n_events}
        if self.model_x is not None and self.model_y is not None:
            row["model_x"], row["model_y"] = round(self.model_x, 3), round(self.model_y, 3)
        if self.cycles is not None:
            row["cycles"] = self.cycles
        if self.label is not None:
            row["label"] = [float(v) for v in self.label]
        return row


class WindowQueue:
    """Bounded hand-over between the source thread and the consumer with the drop-oldest policy.

    A ``queue.SimpleQueue`` (the consumer blocks in C, no Python-level condition variable): the consumer wakes
    in about half the time of a ``queue.Queue`` (47 against 95 us median from put to get, measured with a
    10 ms producer). Live (``lossless`` False): the producer drops the oldest waiting windows to keep at most
    ``size``; offline: it waits for room (a semaphore the consumer releases).
    """

    def __init__(self, size: int, lossless: bool) -> None:
        self.q: queue.SimpleQueue = queue.SimpleQueue()
        self.size = size
        self.lossless = lossless
        self.room = threading.Semaphore(size)
        self.dropped = 0
        self.max_put_s = 0.0  # longest time the producer spent handing over one window

    def put(self, item: Any, stop: threading.Event) -> None:
        t0 = time.perf_counter()
        if self.lossless:
            while not stop.is_set():
                if self.room.acquire(timeout=0.05):
                    self.q.put(item)
                    break
            return
        while item is not _END and self.q.qsize() >= self.size:
            try:
                self.q.get_nowait()
                self.dropped += 1
            except queue.Empty:  # the consumer took it meanwhile
                break
        self.q.put(item)
        self.max_put_s = max(self.max_put_s, time.perf_counter() - t0)

    def get(self) -> Any:
        item = self.q.get()
        if self.lossless:
            self.room.release()
        return item


class TrackerLoop:
    """Runs a backend and the host GRU head over a source; ``run`` returns the summary.

    ``model``: a :class:`~edgevision.runtime.head.GRUHead` (the IR's, NumPy only: the board path), a
    :class:`~edgevision.runtime.host_model.HostModel`, or a torch ``EyeTracker`` (its GRU + head are copied).
    ``front``: the model's input (:class:`~edgevision.ir.schema.InputSpec`: sensor, downsample, time bins,
    slice): the tokenizer's settings. ``sensor_map`` (:func:`~edgevision.runtime.sensor_map.make_sensor_map`)
    maps a camera of another size onto the model's sensor; without one the source must have the model's sensor size.
    """

    def __init__(self, backend: Backend, model: Any, front: InputSpec, queue_size: int = 2, sensor_map: Any = None) -> None:
        from edgevision.errors import ConfigError
        from edgevision.runtime.head import GRUHead

        if front.polarities != 2:
            raise ConfigError(f"the model input has {front.polarities} polarity channel(s); the event tokenizer makes 2")
        self.backend = backend
        head = getattr(model, "head", None)
        self.head = model if isinstance(model, GRUHead) else head if isinstance(head, GRUHead) else GRUHead.from_model(model)
        self.front = front
        self.queue_size = queue_size
        self.predictions: list[Prediction] = []
        self.queue: WindowQueue | None = None  # the current run's hand-over queue (drop counter)
        self.tokenizer: WindowTokenizer | None = None  # reused across windows of one sensor
        self.sensor_map = sensor_map

    def _producer(self, source: Source, wq: WindowQueue, stop: threading.Event, errors: list[BaseException]) -> None:
        try:
            for w in source:
                if stop.is_set():
                    break
                w.ready = time.perf_counter()
                wq.put(w, stop)
        except BaseException as exc:  # re-raised in the consumer thread
            errors.append(exc)
        finally:
            wq.put(_END, stop)

    def warm_up(self, smap: Any) -> None:
        """One throw-away window through tokens, backend and head before the source starts: first calls load
        compiled code (numba caches, the C++ extension, a backend's buffers) for tens of milliseconds, which on
        a live window would delay it and drop the next few."""
        from edgevision.events.core import EVENT_DTYPE

        ev = np.zeros(8, EVENT_DTYPE)
        cx, cy = (int(v) for v in smap.to_camera(smap.model[0] / 2, smap.model[1] / 2))
        slice_us = self.front.slice_us
        ev["t"], ev["x"], ev["y"], ev["p"] = np.arange(8) * (slice_us // 8), cx, cy, np.arange(8) % 2
        _, h = self.step(TrackWindow(-1, 0, slice_us, ev), None, smap)
        self.head.recurrent(h)

    def step(self, w: TrackWindow, h: Any, smap: Any, gh: Any = None) -> tuple[Prediction, Any]:
        """Process one window (camera px, mapped by the :class:`~edgevision.runtime.sensor_map.SensorMap`
        ``smap``) with GRU state ``h`` (``gh``: its recurrent term, computed ahead); returns the prediction and
        the new state."""
        cpu0 = time.thread_time()
        tz = self.tokenizer
        sensor = smap.model
        if tz is None or tz.sensor != sensor:
            tz = self.tokenizer = WindowTokenizer(sensor, self.front.downsample, self.front.time_bins)
        t0 = time.perf_counter()
        tokens = tz(smap.events(w.events), w.t_start, w.t_end)
        t1 = time.perf_counter()
        inf = self.backend.infer(tokens)
        t2 = time.perf_counter()
        o, h = self.head.step(inf.features, h, gh)
        ready = w.ready
        now = time.perf_counter()
        mx, my = float(o[0]) * sensor[0], float(o[1]) * sensor[1]
        cx, cy = smap.to_camera(mx, my)
        pred = Prediction(
            w.index, w.t_end, cx, cy, float(1.0 / (1.0 + np.exp(-o[2]))),
            (now - ready) * 1e3 if ready is not None else inf.seconds * 1e3, inf.seconds * 1e3, int(w.events.shape[0]),
            w.label, inf.cycles, (time.thread_time() - cpu0) * 1e3, mx, my, (t1 - t0) * 1e3, (now - t2) * 1e3,
        )
        return pred, h

    def run(
        self,
        source: Source,
        on_output: Callable[[TrackWindow, Prediction], None] | None = None,
        stop: threading.Event | None = None,
    ) -> dict[str, Any]:
        """Track until the source ends (or ``stop`` is set); ``on_output`` runs on every prediction."""
        from edgevision.errors import ConfigError
        from edgevision.runtime.sensor_map import make_sensor_map

        sensor = tuple(int(v) for v in source.sensor_size)
        model = self.front.sensor_size
        smap = self.sensor_map
        if smap is None:
            if sensor != model:
                raise ConfigError(f"source {source.name} has a {sensor[0]}x{sensor[1]} sensor but the model expects "
                                  f"{model[0]}x{model[1]}: map it with a camera profile, --roi, --scale or --fit")
            smap = make_sensor_map(sensor, model)
        elif tuple(smap.camera) != sensor or tuple(smap.model) != model:
            raise ConfigError(f"sensor map is for a {smap.camera[0]}x{smap.camera[1]} camera onto {smap.model[0]}x"
                              f"{smap.model[1]}, but the source is {sensor[0]}x{sensor[1]} and the model {model[0]}x{model[1]}")
        if source.window_us != self.front.slice_us:
            raise ConfigError(f"source {source.name} cuts {source.window_us} us windows but the model slices "
                              f"{self.front.slice_us} us")
        stop = stop or threading.Event()
        wq = self.queue = WindowQueue(self.queue_size, lossless=not source.realtime)
        errors: list[BaseException] = []
        producer = threading.Thread(target=self._producer, args=(source, wq, stop, errors), daemon=True, name="edgevision-source")
        self.predictions = []
        h = gh = None
        t0 = time.perf_counter()
        blas = threadpool_limits(1, user_api="blas")  # one window's GEMMs are far too small to split across BLAS threads
        threads = _one_torch_thread() if self.backend.name == "torch" else None  # after: torch may share that BLAS
        try:
            self.warm_up(smap)
            producer.start()
            while True:
                item = wq.get()
                if item is _END:
                    break
                if wq.lossless:
                    item.ready = time.perf_counter()
                pred, h = self.step(item, h, smap, gh)
                self.predictions.append(pred)
                if on_output is not None:
                    on_output(item, pred)
                if stop.is_set():
                    break
                gh = self.head.recurrent(h)  # off the latency path: the next window is not ready yet
        finally:
            stop.set()
            if producer.ident is not None:
                producer.join(timeout=5.0)
            blas.restore_original_limits()
            if threads is not None:
                _set_torch_threads(threads)
        if errors:
            raise errors[0]
        out = summarize(self.predictions, wq, time.perf_counter() - t0, self.backend.name, sensor)
        if not smap.identity:
            out["sensor_map"] = smap.describe()
        return out


def _one_torch_thread() -> int:
    """Run torch's intra-op work on the loop thread alone (one window is far too small to split; waking a thread
    pool per op costs more than it saves); returns the previous thread count."""
    import torch

    previous = torch.get_num_threads()
    _set_torch_threads(1)
    return previous


def _set_torch_threads(n: int) -> None:
    import torch

    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


def stage_breakdown(preds: list[Prediction]) -> dict[str, float]:
    """Median wall time per stage of window-ready -> pupil out: ``tokens`` (events -> tokens), ``backbone`` (the
    backend's ``infer``: on the board DMA + accelerator), ``head`` (GRU step + linear head) and ``wait`` (the
    rest of the latency: queue hand-over, thread wake-up, mapping the output). Medians need not add up to the
    median ``latency``."""
    if not preds:
        return {}
    lat = np.array([p.latency_ms for p in preds])
    tok = np.array([p.tokens_ms for p in preds])
    inf = np.array([p.infer_ms for p in preds])
    head = np.array([p.head_ms for p in preds])
    wait = np.maximum(lat - (tok + inf + head), 0.0)
    return {"wait": float(np.median(wait)), "tokens": float(np.median(tok)), "backbone": float(np.median(inf)),
            "head": float(np.median(head)), "latency": float(np.median(lat))}


def summarize(preds: list[Prediction], wq: WindowQueue, wall_s: float, backend: str, sensor: tuple[int, int]) -> dict[str, Any]:
    """Windows, drops, latency p50/p99 and, with labels, the challenge metrics at 80x60."""
    lat = np.array([p.latency_ms for p in preds]) if preds else np.zeros(1)
    inf = np.array([p.infer_ms for p in preds]) if preds else np.zeros(1)
    cpu = np.array([p.cpu_ms for p in preds]) if preds else np.zeros(1)
    out: dict[str, Any] = {
        "backend": backend,
        "windows": len(preds),
        "dropped": wq.dropped,
        "latency_p50_ms": float(np.percentile(lat, 50)),
        "latency_p99_ms": float(np.percentile(lat, 99)),
        "infer_p50_ms": float(np.percentile(inf, 50)),
        "cpu_p50_ms": float(np.percentile(cpu, 50)),
        "cpu_p99_ms": float(np.percentile(cpu, 99)),
        "windows_per_s": len(preds) / wall_s if wall_s > 0 else 0.0,
        "source_max_handover_ms": wq.max_put_s * 1e3,
        "wall_s": wall_s,
        "stages_p50_ms": stage_breakdown(preds),
    }
    labelled = [p for p in preds if p.label is not None]
    if labelled:
        from edgevision.nn.metrics import eye_metrics

        pred_xy = np.array([[p.x, p.y] for p in labelled])
        labels = np.array([p.label for p in labelled], np.float64)
        m = eye_metrics(pred_xy, labels, sensor, closed_prob=np.array([p.closed_prob for p in labelled]))
        out.update({"p5": m["p5"], "p10": m["p10"], "mean_distance": m["mean_distance"],
                    "closed_accuracy": m["closed_accuracy"], "labelled_windows": m["frames"]})
    return out
