"""Putting the runtime together for the CLI: model + backend + source + outputs -> tracker run -> summary.

``track`` is ``edgevision track``; ``demo`` is ``edgevision demo`` (synthetic camera, shipped checkpoint and
quantized IR on the C-simulated accelerator, headless outputs in ``runs/demo``).
"""

from __future__ import annotations

import json
import queue
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

from edgevision.atomic import write_text_atomic
from edgevision.errors import BackendError, ConfigError
from edgevision.ir.schema import InputSpec
from edgevision.resources import shipped
from edgevision.runtime.sources import Source, TrackWindow, open_source
from edgevision.runtime.tracker import Prediction, TrackerLoop

DEFAULT_CHECKPOINT = "models/eye_small.safetensors"
DEFAULT_IR = "models/eye_small_int8"
FRAME_PERIOD_US = 40_000  # 25 fps video / display
MAX_FRAME_BACKLOG = 64  # a headless writer this far behind skips video frames (never predictions) to catch up


def resolve(path: str | Path) -> Path:
    """``path`` as given, or a shipped file (``models/...`` works from any directory and from an installed wheel)."""
    p = Path(path)
    if p.exists() or p.is_absolute():
        return p
    root = shipped(p)
    return root if root.exists() else p


def load_model(name: str, checkpoint: str | Path | None, model_dir: str | Path | None) -> tuple[Any, InputSpec, Any]:
    """(model, front end, IR or None) for backend ``name``, read from files (no backend is built yet).

    Backends that run the quantized IR take everything from it (``model_dir``, default the shipped IR): the
    front end is ``net.input``, the model its GRU head (``head.npz``, NumPy only: the board path) or, with
    ``checkpoint``, that checkpoint's GRU head (:func:`~edgevision.runtime.host_model.load_host_model`, no
    torch), whose input settings must equal the IR's. ``torch`` and registered non-IR backends get the float
    ``EyeTracker`` of ``checkpoint`` (default the shipped one) and its config's front end.
    """
    from edgevision.runtime.backends import NEEDS_IR
    from edgevision.runtime.host_model import config_input

    if name in NEEDS_IR:
        from edgevision.ir.schema import load_ir
        from edgevision.runtime.head import load_head
        from edgevision.runtime.host_model import load_host_model

        ir_dir = resolve(model_dir or DEFAULT_IR)
        net = load_ir(ir_dir)
        if checkpoint is None:
            return load_head(ir_dir), net.input, net
        host = load_host_model(resolve(checkpoint))
        ours, theirs = _settings(net.input), _settings(config_input(host.cfg))
        if ours != theirs:
            diff = ", ".join(f"{k} {theirs[k]} vs {ours[k]}" for k in ours if ours[k] != theirs[k])
            raise ConfigError(f"{checkpoint}: its input settings differ from the IR's in {ir_dir} ({diff}); quantize "
                              "this checkpoint (edgevision quantize) or leave out --checkpoint to use the IR's GRU head")
        return host.head, net.input, net
    try:
        from edgevision.nn.checkpoint import load_eye_tracker
    except ImportError as exc:
        raise BackendError(f"backend {name!r} runs the float model and needs torch ({exc}): pip install "
                           "'edgevision[train]', or run the int8 IR with --backend int/csim/pynq") from None
    model, cfg = load_eye_tracker(resolve(checkpoint or DEFAULT_CHECKPOINT))
    return model, config_input(cfg), None


def _settings(spec: InputSpec) -> dict[str, Any]:
    return {k: getattr(spec, k) for k in ("sensor_width", "sensor_height", "downsample", "slice_us", "time_bins",
                                          "polarities", "input_clip")}


def build_backend(name: str, model: Any, front: InputSpec, net: Any, bitstream: str | Path | None = None,
                  timeout_s: float = 1.0) -> Any:
    """Backend ``name`` for what :func:`load_model` read; its features must be what the GRU head takes."""
    from edgevision.runtime.backends import make_backend
    from edgevision.runtime.head import GRUHead

    backend = make_backend(name, model=model, net=net, input_clip=front.input_clip, bitstream=bitstream, timeout_s=timeout_s)
    feature_dim = int(model.w_ih_t.shape[0]) if isinstance(model, GRUHead) else int(model.backbone.feature_dim)
    if backend.feature_dim != feature_dim:
        raise ConfigError(f"backend {name!r} yields {backend.feature_dim} features but the GRU head expects "
                          f"{feature_dim}; quantize this checkpoint (edgevision quantize)")
    return backend


def load_backend(name: str, checkpoint: str | Path | None, model_dir: str | Path | None,
                 bitstream: str | Path | None = None, timeout_s: float = 1.0) -> tuple[Any, Any, InputSpec]:
    """(backend, model, front end): :func:`load_model` then :func:`build_backend`."""
    model, front, net = load_model(name, checkpoint, model_dir)
    return build_backend(name, model, front, net, bitstream, timeout_s), model, front


class OutputSink:
    """Per-prediction handler: trail, JSONL, rendered frames (video file and/or live window).

    Headless, the work runs on a writer thread fed through a ``queue.SimpleQueue``: drawing and encoding a
    video frame (several ms) never delays the next window's inference; a writer more than
    ``MAX_FRAME_BACKLOG`` predictions behind skips video frames until it has caught up. A live window draws on the loop thread
    (HighGUI calls stay on one thread). A writer error stops the run and is raised by :meth:`close`.
    """

    def __init__(self, sensor_size: tuple[int, int], backend: str, out_dir: Path | None, live: bool,
                 palette: str = "metavision", video: bool = True, total: int | None = None, views: list | None = None) -> None:
        from tqdm import tqdm

        from edgevision.runtime.render import FrameRenderer, JsonlOutput, VideoOutput, get_palette

        if live:
            import cv2

            try:
                cv2.namedWindow("edgevision", cv2.WINDOW_AUTOSIZE)
            except cv2.error:
                raise BackendError("this OpenCV build has no GUI (opencv-python-headless): use --serve PORT (live view in a "
                                   "browser) or --headless --out DIR; for a window, install the [camera] extra") from None
        self.progress = tqdm(total=total, unit="win", desc="tracking", file=sys.stderr, leave=False,
                             disable=out_dir is None or live)
        self.renderer = FrameRenderer(sensor_size, get_palette(palette))
        self.backend = backend
        self.video = VideoOutput(out_dir / "track", tuple(sensor_size)) if out_dir is not None and video else None
        self.jsonl = JsonlOutput(out_dir / "predictions.jsonl") if out_dir is not None else None
        self.live = live
        self.views = list(views or [])  # live views (LiveServer, JupyterView): publish(frame, state)
        self.stop = threading.Event()
        self.next_frame_t: int | None = None
        self.rate = 0.0
        self._last = time.perf_counter()
        self.dropped: Callable[[], int] = lambda: 0  # set by run_tracker to the loop's drop counter
        self._jobs: queue.SimpleQueue | None = None
        self._errors: list[BaseException] = []
        self._writer: threading.Thread | None = None
        if not live:
            self._jobs = queue.SimpleQueue()
            self._writer = threading.Thread(target=self._drain, daemon=True, name="edgevision-outputs")
            self._writer.start()

    def __call__(self, window: TrackWindow, pred: Prediction) -> None:
        now = time.perf_counter()
        dt = max(now - self._last, 1e-6)
        self._last = now
        self.rate = 1.0 / dt if self.rate == 0 else 0.95 * self.rate + 0.05 / dt
        job = (window, pred, self.rate, self.dropped())
        if self._jobs is not None:
            self._jobs.put(job)
        else:
            self._handle(*job)

    def _drain(self) -> None:
        jobs = self._jobs
        assert jobs is not None
        while (job := jobs.get()) is not None:
            if self._errors:
                continue  # keep draining so that close() returns
            try:
                self._handle(*job, draw=jobs.qsize() < MAX_FRAME_BACKLOG)
            except BaseException as exc:  # re-raised by close(); the loop stops at its next window
                self._errors.append(exc)
                self.stop.set()

    def _finish(self) -> None:
        """Let the writer thread handle what is queued, then stop it."""
        if self._writer is not None and self._jobs is not None:
            self._jobs.put(None)
            self._writer.join()
            self._writer = None

    def _handle(self, window: TrackWindow, pred: Prediction, rate: float, dropped: int, draw: bool = True) -> None:
        from edgevision.runtime.render import hud_values

        self.renderer.track(pred)
        self.progress.update(1)
        if self.jsonl is not None:
            self.jsonl.write(pred)
        if self.next_frame_t is None:
            self.next_frame_t = pred.t_us
        if not draw or pred.t_us < self.next_frame_t or (self.video is None and not self.live and not self.views):
            return
        self.next_frame_t += FRAME_PERIOD_US * ((pred.t_us - self.next_frame_t) // FRAME_PERIOD_US + 1)
        window_us = window.t_end - window.t_start
        ev_rate = window.events.shape[0] / (window_us * 1e-6)
        frame = self.renderer.draw(window, pred, hud_values(pred, self.backend, rate, ev_rate, dropped, window_us))
        if self.video is not None:
            self.video.write(frame)
        if self.views:
            state = {"t_us": pred.t_us, "x": pred.x, "y": pred.y, "model_x": pred.model_x, "model_y": pred.model_y,
                     "closed_prob": pred.closed_prob, "latency_ms": pred.latency_ms, "windows_per_s": rate,
                     "events_per_s": ev_rate, "dropped": dropped, "backend": self.backend}
            for view in self.views:
                view.publish(frame, state)
        if self.live:
            import cv2

            cv2.imshow("edgevision", frame)
            if cv2.waitKey(1) & 0xFF in (27, ord("q")):
                self.stop.set()

    def abort(self) -> None:
        """Drop the partial outputs (the targets are left as they were)."""
        self._finish()
        self.progress.close()
        for out in (self.video, self.jsonl):
            if out is not None:
                out.abort()
        if self.live:
            import cv2

            cv2.destroyAllWindows()

    def close(self) -> dict[str, str]:
        self._finish()
        if self._errors:
            self.abort()
            raise self._errors[0]
        self.progress.close()
        files = {}
        if self.video is not None:
            files["video"] = str(self.video.close())
            files["video_codec"] = self.video.codec
        if self.jsonl is not None:
            files["predictions"] = str(self.jsonl.close())
        if self.live:
            import cv2

            cv2.destroyAllWindows()
        return files


def run_tracker(backend: Any, model: Any, front: InputSpec, source: Source, out_dir: Path | None, live: bool,
                palette: str = "metavision", queue_size: int = 2, video: bool = True, sensor_map: Any = None,
                views: list | None = None) -> dict[str, Any]:
    """Run the loop with outputs; into ``out_dir`` (when given) ``predictions.jsonl``, ``summary.json`` and,
    with ``video``, the annotated ``track.mp4`` (or ``.webm``). ``sensor_map`` maps a camera of another size onto
    the model; ``views`` get every drawn frame (:mod:`edgevision.runtime.live_view`)."""
    out_dir = Path(out_dir) if out_dir is not None else None
    loop = TrackerLoop(backend, model, front, queue_size, sensor_map)
    sink = OutputSink(source.sensor_size, backend.name, out_dir, live, palette, video, len(source) or None, views)
    if sensor_map is not None and sensor_map.model_rect_in_camera() != (0, 0, *sensor_map.camera):
        sink.renderer.view = sensor_map.model_rect_in_camera()  # a crop: outline what the model sees
    sink.dropped = lambda: loop.queue.dropped if loop.queue is not None else 0
    try:
        summary = loop.run(source, sink, sink.stop)
    except KeyboardInterrupt:  # Ctrl-C ends a run: keep what was tracked so far
        sink.close()
        raise
    except BaseException:
        sink.abort()
        raise
    files = sink.close()
    summary["source"] = source.name
    summary["compute"] = getattr(backend, "compute_name", backend.name)  # what ran: a fallback is named, never silent
    summary.update(files)
    if out_dir is not None:
        summary["summary"] = str(out_dir / "summary.json")
        write_text_atomic(out_dir / "summary.json", json.dumps(summary, indent=1))
    return summary


def track(source: str, backend: str, checkpoint: str | None, model_dir: str | None, headless: bool, out: str | None,
          seconds: float | None, fast: bool = False, palette: str = "metavision", bitstream: str | None = None,
          profile: str | None = None, roi: tuple[int, int, int, int] | None = None, scale: float | None = None,
          fit: str | None = None, serve: int | None = None) -> dict[str, Any]:
    """``edgevision track``: one source through one backend, live window or headless files.

    An IR backend runs from the IR folder ``model_dir`` alone (front end, int8 network, GRU head); ``checkpoint``
    swaps in that checkpoint's GRU head (:func:`load_model`).

    A camera whose size differs from the model's is mapped onto it (:mod:`edgevision.runtime.sensor_map`):
    by ``profile`` (name or YAML file), ``roi`` / ``scale`` / ``fit``, else by fitting it whole (aspect kept).
    ``serve``: a port for the browser live view on 127.0.0.1 (:class:`~edgevision.runtime.live_view.LiveServer`)
    instead of an OpenCV window."""
    from edgevision.runtime.sensor_map import load_profile, resolve_sensor_map

    if headless and out is None:
        raise ConfigError("--headless needs --out DIR for the video, predictions and summary")
    if profile is not None:
        load_profile(profile)  # a bad profile fails before the model loads
    model, front, net = load_model(backend, checkpoint, model_dir)
    # windows of the model's slice; a missing camera fails before a backend builds (a C simulation compiles)
    src = open_source(source, seconds=seconds, realtime=not fast, window_us=front.slice_us)
    be = build_backend(backend, model, front, net, bitstream)
    smap = resolve_sensor_map(src.sensor_size, front.sensor_size, profile, roi, scale, fit)
    server = None
    if serve is not None:
        import logging

        from edgevision.runtime.live_view import LiveServer

        server = LiveServer(serve)
        logging.getLogger("edgevision").warning("live view: %s (on a board: ssh -L %d:127.0.0.1:%d BOARD)",
                                                server.url, server.port, server.port)
    try:
        summary = run_tracker(be, model, front, src, Path(out) if out else None, live=not headless and server is None,
                              palette=palette, sensor_map=smap, views=[server] if server else None)
    finally:
        if server is not None:
            server.close()
    if server is not None:
        summary["live_view"] = server.url
    return summary


DEMO_BACKENDS = ("engine", "int", "csim")
ACCELERATOR = {"engine": "compiled sparse integer engine on the CPU (numba)", "int": "NumPy integer reference",
               "csim": "C-simulated HLS design (g++)"}


def demo(out: str = "runs/demo", seconds: float = 10.0, backend: str = "engine") -> dict[str, Any]:
    """``edgevision demo``: the synthetic eye camera tracked by the shipped int8 IR (with its GRU head).

    ``engine`` (default) and ``int`` run **paced**: the camera's windows are handed to the loop as the wall clock
    reaches their end time, a window the loop cannot take in time is dropped (drop-oldest) and counted live in
    the HUD and in ``dropped``. ``csim`` is a functional simulation of the accelerator, several times slower
    than real time, so it replays every window losslessly (``paced`` false) and its latencies are host
    processing times, not real-time figures. The windows are rendered in a thread while the model loads (and
    the C simulation builds on its first run), before the paced replay starts.
    """
    from concurrent.futures import ThreadPoolExecutor

    from tqdm import tqdm

    from edgevision.runtime.sources import ReplaySource, SyntheticSource

    if backend not in DEMO_BACKENDS:
        raise ConfigError(f"--backend {backend!r}: the demo runs the quantized model on one of {', '.join(DEMO_BACKENDS)}")
    if seconds <= 0:
        raise ConfigError(f"--seconds must be > 0, got {seconds}")
    t0 = time.perf_counter()
    camera = SyntheticSource(seconds, realtime=False)
    with ThreadPoolExecutor(1) as pool:
        windows = pool.submit(list, camera)
        with tqdm(total=1, desc=f"rendering the camera, loading the {backend} backend"
                  + (" (the C-sim build is cached after the first run)" if backend == "csim" else ""),
                  file=sys.stderr, leave=False, bar_format="{desc} {elapsed}"):
            fallback = None
            try:
                be, model, front = load_backend(backend, None, DEFAULT_IR)
            except BackendError as exc:  # no compiler / headers: the demo says so and runs the integer reference
                if backend != "csim":
                    raise
                fallback = str(exc)
                print(f"edgevision demo: {fallback}; running the NumPy integer reference instead", file=sys.stderr)
                be, model, front = load_backend("int", None, DEFAULT_IR)
        paced = backend != "csim"
        source = ReplaySource(windows.result(), camera.sensor_size, realtime=paced)
    source.name = "synthetic"
    setup_s = time.perf_counter() - t0
    summary = run_tracker(be, model, front, source, Path(out), live=False)
    summary["accelerator"] = ACCELERATOR["int" if fallback else backend]
    summary["paced"] = paced
    if fallback:
        summary["fallback"] = f"ran int: {fallback}"
    summary["setup_s"] = setup_s
    summary["total_s"] = time.perf_counter() - t0
    write_text_atomic(Path(out) / "summary.json", json.dumps(summary, indent=1))
    return summary
