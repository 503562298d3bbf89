"""Benchmark of sparse inference on one CPU thread: the compiled engine vs spconv vs dense PyTorch.

For each network (``eye``: the eye tracker's backbone from ``models/eye_small.yaml`` on its 60x80 grid;
``classifier``: the ESDA classifier backbone of :mod:`edgevision.recognition.models.esda`, from a trained run
folder or randomly initialised, on the synthetic gesture set's 128x128 sensor at its downsample 2, a 64x64 grid)
it times, window by window and in one process, the same float weights (eval-mode
BatchNorm) through

* ``latency_ms``: :class:`edgevision.engine.Engine` (numba, one call per window, BatchNorm folded; its kernels
  are serial and its BLAS is held to one thread with threadpoolctl),
* ``torch_ms``: the engine's batched PyTorch path run on one window,
* ``spconv_ms``: the backbone with spconv 2.3.8 (``impl="spconv"``, index pairs shared per resolution),
* ``dense_ms``: the masked dense PyTorch execution (:class:`edgevision.nn.dense.DenseBackbone`, conv2d),

on real-density windows (eye: 10 ms slices of a 3ET+ recording, from ``eye_data`` when given, else rendered
by the simulator; classifier: 500 ms windows of a synthetic gesture set, from ``gesture_data`` when given, else
rendered in memory) and on uniformly random windows at 1 %, 3 % and 10 % density. Every figure is the median over
windows of the median over ``repeats`` calls. ``macs`` counts the multiply-accumulates on active sites;
``gemm_gflops`` is the measured single-thread float32 GEMM rate, and ``fraction_of_floor`` is
``2 * macs / (gemm_gflops * 1e9)`` divided by the engine's latency (1.0 = as fast as a large GEMM).
Latency depends on the active sites, not on the weight values: random weights time the same as trained ones.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from edgevision.datasets.threeet import ThreeETPlus
from edgevision.engine.cpu import compile_float
from edgevision.engine.plan import plan_from_backbone
from edgevision.engine.torch_path import TorchEngine
from edgevision.errors import ConfigError
from edgevision.events.tokens import Tokens, histogram_tokens
from edgevision.ir.random import random_tokens
from edgevision.nn.backbone import SparseBackbone
from edgevision.nn.checkpoint import load_eye_tracker
from edgevision.nn.config import load_config
from edgevision.nn.dense import DenseBackbone, to_dense
from edgevision.nn.inputs import collate_tokens, slice_tokens
from edgevision.nn.tensor import SparseTensor
from edgevision.recognition.models.esda import ESDAClassifier, ESDAConfig
from edgevision.recognition.recordings import Source
from edgevision.recognition.synth import CLASSES, SynthConfig, dvs_emulator, open_synthetic, render, styles
from edgevision.recognition.train import load_run
from edgevision.recognition.windows import WindowConfig, WindowSet
from edgevision.resources import shipped
from edgevision.sim.eye_dataset import simulate_recording

DENSITIES = (0.01, 0.03, 0.10)
Window = tuple[np.ndarray, np.ndarray]  # coords int32 [N, 2] (y, x), feats float32 [N, C]


def _median_ms(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def gemm_gflops(n: int = 512, repeats: int = 5) -> float:
    """Single-thread float32 GEMM rate of this machine (torch.mm, n x n x n), GFLOP/s."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = min(_median_ms(lambda: torch.mm(a, b), 1) for _ in range(repeats))  # best of: a capability, not a typical time
    return 2 * n**3 / (best * 1e-3) / 1e9


def _randomize_bn(backbone: Any, seed: int) -> None:
    """Give untrained BatchNorm layers plausible running statistics (the timings do not depend on them)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in backbone.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.copy_(torch.rand(m.num_features, generator=g) * 0.4 - 0.2)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)


def eye_backbone(checkpoint: str | Path | None = None) -> tuple[Any, tuple[int, int], str]:
    """The eye tracker's backbone and its input grid: trained weights from ``checkpoint`` (default: the shipped
    ``models/eye_small.safetensors`` when present), else ``models/eye_small.yaml`` with random weights."""
    root = shipped("models")
    if checkpoint is None and (root / "eye_small.safetensors").is_file():
        checkpoint = root / "eye_small.safetensors"  # the shipped trained model
    if checkpoint is not None:
        model, cfg = load_eye_tracker(checkpoint)
        bb, weights = model.backbone, str(checkpoint)
    else:
        cfg = load_config(root / "eye_small.yaml")
        torch.manual_seed(0)
        bb, weights = SparseBackbone(cfg), "random init (models/eye_small.yaml)"
        _randomize_bn(bb, 0)
    return bb.eval(), cfg.input.grid(cfg.sensor_size), weights


@dataclass
class ClassifierNet:
    """The ESDA classifier's backbone and what its windows need: input settings, sensor, window length."""

    backbone: Any
    grid: tuple[int, int]
    weights: str
    model_cfg: Any  # ESDAConfig: downsample, time_bins, input_clip
    sensor_size: tuple[int, int]  # (width, height)
    window: Any  # recognition.windows.WindowConfig


def classifier_net(run: str | Path | None = None) -> ClassifierNet:
    """The ESDA classifier of :mod:`edgevision.recognition.models.esda`: trained weights from a recognition run
    folder (``edgevision train classify --arch esda``), else the default :class:`ESDAConfig` with random
    weights and non-trivial eval-mode BatchNorm statistics on the synthetic set's 128x128 sensor."""
    if run is None:
        torch.manual_seed(1)
        model = ESDAClassifier(10, ESDAConfig())
        _randomize_bn(model.backbone, 1)
        sensor, window = (128, 128), WindowConfig()
        weights = f"random init (recognition ESDAConfig, 128x128 sensor / {model.cfg.downsample})"
    else:
        model, info, _ = load_run(run)
        if getattr(model, "input_kind", None) != "tokens" or not hasattr(model, "backbone"):
            raise ConfigError(f"--classifier-run {run}: model {info['model']!r} is not the sparse CNN (ESDA) "
                              "classifier; train one with `edgevision train classify --arch esda`")
        sensor, window = (int(info["sensor_size"][0]), int(info["sensor_size"][1])), WindowConfig(**info["window"])
        weights = f"{run} (trained {info['model']})"
    ds = model.cfg.downsample
    grid = (-(-sensor[1] // ds), -(-sensor[0] // ds))
    return ClassifierNet(model.backbone.eval(), grid, weights, model.cfg, sensor, window)


def _rendered_gesture_source(recordings: int, size: int, seed: int = 0) -> Any:
    """``recordings`` synthetic gesture recordings (classes in turn, ``size`` x ``size`` sensor) rendered and
    emulated in memory, as a Source."""
    cfg = SynthConfig(size=size)
    rows = styles(recordings, cfg, seed)
    events = [dvs_emulator(cfg.size, cfg.size, seed * 100_003 + i)(*render(label, st, cfg))
              for i, (label, _, st) in enumerate(rows)]
    return Source("synthetic (rendered)", (cfg.size, cfg.size), list(CLASSES),
                  np.asarray([r[0] for r in rows], np.int64), [f"r{i}" for i in range(recordings)],
                  [f"s{r[1]:02d}" for r in rows], np.zeros(recordings, bool), lambda k: events[k])


def gesture_windows(net: ClassifierNet, n: int, gesture_data: str | Path | None = None) -> tuple[list[Window], str]:
    """Real-density classifier windows: the first ``n`` windows (the run's or the default window length and step)
    of a synthetic gesture set as histogram tokens, features min(count, input_clip), as in training.

    From the set folder ``gesture_data`` (``edgevision data synth-gesture``; its first ``n`` recordings at most),
    else from ``ceil(n / 2)`` one-second recordings (two windows each) rendered in memory at the classifier's
    sensor size (about 0.2 s each at 128x128). Empty windows are skipped.
    """
    if gesture_data is not None:
        src, source = open_synthetic(gesture_data), str(gesture_data)
    elif net.sensor_size[0] == net.sensor_size[1]:
        k = -(-n // 2)
        src = _rendered_gesture_source(k, net.sensor_size[0])
        source = f"synth-gesture rendered in memory ({k} recordings, seed 0)"
    else:
        raise ConfigError(f"the classifier's sensor {tuple(net.sensor_size)} is not square, the synthetic renderer's "
                          "is: pass --gesture-data with recordings of that sensor")
    if tuple(src.sensor_size) != tuple(net.sensor_size):
        raise ConfigError(f"--gesture-data {gesture_data}: sensor {tuple(src.sensor_size)}, the classifier expects "
                          f"{tuple(net.sensor_size)}; use a set of the classifier's sensor size")
    ws = WindowSet(src, np.arange(min(len(src), n)), net.window, progress=False)  # >= 1 window per recording
    cfg, wins = net.model_cfg, []
    for i in range(len(ws)):
        ev, t0, t1 = ws.window_events(i)
        tok = histogram_tokens(ev, net.sensor_size, factor=cfg.downsample, time_bins=cfg.time_bins, t_start=t0, t_end=t1)
        if tok.coords.shape[0]:
            wins.append((tok.coords, np.minimum(tok.feats, cfg.input_clip).astype(np.float32)))
        if len(wins) == n:
            break
    if not wins:
        raise ConfigError(f"{source}: no non-empty windows to time")
    return wins, f"{source}: {len(wins)} windows of {net.window.window_us // 1000} ms"


def eye_windows(
    shape: tuple[int, int], n: int, eye_data: str | Path | None = None, seconds: float = 0.5
) -> tuple[list[Window], str]:
    """Real-density eye windows: 10 ms slices (features min(count, 15)) of a 3ET+ recording.

    From the first training recording under ``eye_data`` when it is a 3ET+ root, else a ``seconds`` recording
    rendered by :func:`edgevision.sim.eye_dataset.simulate_recording`. Empty slices are skipped.
    """
    cfg = load_config(shipped("models/eye_small.yaml"))
    if eye_data is not None and (Path(eye_data) / "train_files.txt").is_file():
        ds = ThreeETPlus(eye_data, "train")
        events, source = ds[0][0], f"{eye_data} (train recording {ds.names[0]})"
    else:
        events, source = simulate_recording(0, 0, seconds, 0).events, f"simulate_recording(subject 0, {seconds} s)"
    toks = [t for t in slice_tokens(events, cfg.sensor_size, cfg.input) if t.coords.shape[0]]
    if tuple(toks[0].shape) != tuple(shape):
        raise ValueError(f"eye windows on {toks[0].shape}, the backbone expects {shape}")
    wins = [(t.coords, np.minimum(t.feats, cfg.input.input_clip).astype(np.float32)) for t in toks[:n]]
    return wins, source


def random_windows(shape: tuple[int, int], channels: int, density: float, n: int, seed: int) -> list[Window]:
    """``n`` windows with uniformly random active sites at ``density`` and counts 0..15."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        c, f = random_tokens(rng, shape[0], shape[1], channels, density)
        out.append((c, np.minimum(f, 15).astype(np.float32)))
    return out


def time_windows(backbone: Any, shape: tuple[int, int], windows: list[Window], repeats: int) -> dict[str, Any]:
    """Median per-window milliseconds of engine / torch path / spconv / dense, plus sites and MACs."""
    engine = compile_float(backbone, shape).warmup()  # loads the BLAS numba calls, so the limit below reaches it
    tpath = TorchEngine(plan_from_backbone(backbone, *shape))
    dense = DenseBackbone(backbone).eval()
    rows: dict[str, list[float]] = {k: [] for k in ("engine", "torch", "spconv", "dense", "sites", "macs", "err", "err_t")}
    with torch.inference_mode(), threadpool_limits(1):
        for coords, feats in windows:
            x = SparseTensor.from_windows([(coords, feats)], shape)
            grid, mask = to_dense(x)
            rows["engine"].append(_median_ms(lambda: engine.run(coords, feats), repeats))
            rows["torch"].append(_median_ms(lambda: tpath.run(x), repeats))
            rows["spconv"].append(_median_ms(lambda: backbone(x, impl="spconv"), repeats))
            rows["dense"].append(_median_ms(lambda: dense(grid, mask), repeats))
            rows["sites"].append(len(coords))
            rows["macs"].append(backbone.macs(x)["sparse"])
            out = engine.run(coords, feats)
            rows["err"].append(float(np.abs(out - backbone(x, impl="spconv")[0].numpy()).max()))
            rows["err_t"].append(float(np.abs(out - backbone(x, impl="torch")[0].numpy()).max()))
    med = {k: statistics.median(v) for k, v in rows.items()}
    h, w = shape
    return {
        "windows": len(windows),
        "density": med["sites"] / (h * w),
        "latency_ms": med["engine"],
        "torch_ms": med["torch"],
        "spconv_ms": med["spconv"],
        "dense_ms": med["dense"],
        "speedup_vs_spconv": med["spconv"] / med["engine"],
        "speedup_vs_dense": med["dense"] / med["engine"],
        "macs": int(med["macs"]),
        "max_abs_diff_vs_spconv": max(rows["err"]),
        "max_abs_diff_vs_torch": max(rows["err_t"]),
    }


def run_sparse_benchmark(
    windows: int = 20,
    repeats: int = 5,
    eye_data: str | Path | None = None,
    checkpoint: str | Path | None = None,
    gesture_data: str | Path | None = None,
    classifier_run: str | Path | None = None,
) -> dict[str, Any]:
    """All figures of ``edgevision bench sparse`` (one thread), JSON-ready."""
    torch.set_num_threads(1)  # spconv 2.3.8's CPU forward is also wrong with several OpenMP threads (see docs/engine.md)
    cls = classifier_net(classifier_run)
    cls_windows = gesture_windows(cls, windows, gesture_data)  # first: a bad --gesture-data fails before any timing
    rate = gemm_gflops()
    nets = {"eye": eye_backbone(checkpoint), "classifier": (cls.backbone, cls.grid, cls.weights)}
    result: dict[str, Any] = {"threads": 1, "gemm_gflops": rate, "repeats": repeats}
    bar = tqdm(total=len(nets) * (len(DENSITIES) + 1), desc="bench sparse", unit="set", file=sys.stderr)
    for key, (bb, shape, weights) in nets.items():
        entry: dict[str, Any] = {"grid": list(shape), "weights": weights}
        wins, source = eye_windows(shape, windows, eye_data) if key == "eye" else cls_windows
        entry.update(time_windows(bb, shape, wins, repeats), windows_source=source)
        bar.update()
        table = {}
        for i, d in enumerate(DENSITIES):
            table[f"{d:.2f}"] = time_windows(bb, shape, random_windows(shape, bb.in_channels, d, max(3, windows // 4), i), repeats)
            bar.update()
        entry["densities"] = table
        entry["fraction_of_floor"] = 2 * entry["macs"] / (rate * 1e9) / (entry["latency_ms"] * 1e-3)
        result[key] = entry
    bar.close()
    return result


def _synced_ms(fn: Callable[[], Any], repeats: int, device: Any) -> float:
    """Median milliseconds of ``fn`` with the device synchronized around each call (after one warm-up call)."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    fn()
    sync()
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def run_gpu_benchmark(
    device: str = "cuda",
    windows: int = 64,
    batch: int = 64,
    repeats: int = 20,
    eye_data: str | Path | None = None,
    gesture_data: str | Path | None = None,
    classifier_run: str | Path | None = None,
) -> dict[str, Any]:
    """The engine's PyTorch path on a GPU vs dense cuDNN (masked conv2d), same float weights.

    Per network: batch-1 latency (median over windows) and batch-``batch`` throughput (windows/s), on real-density
    windows (eye and classifier, as in :func:`run_sparse_benchmark`) and on random windows at each density of
    :data:`DENSITIES`.
    """
    dev = torch.device(device)
    torch.backends.cudnn.benchmark = True
    cls = classifier_net(classifier_run)
    cls_windows = gesture_windows(cls, windows, gesture_data)
    nets = {"eye": eye_backbone(), "classifier": (cls.backbone, cls.grid, cls.weights)}
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    result: dict[str, Any] = {"device": name, "torch": torch.__version__, "batch": batch}

    def measure(bb: Any, shape: tuple[int, int], wins: list[Window]) -> dict[str, Any]:
        tpath = TorchEngine(plan_from_backbone(bb, *shape), dev)
        dense = DenseBackbone(bb.to(dev)).eval()
        toks = [Tokens(c, f, shape) for c, f in wins]
        singles = [collate_tokens([t], device=dev) for t in toks]
        big = collate_tokens([toks[i % len(toks)] for i in range(batch)], device=dev)
        with torch.inference_mode():
            d_single = [to_dense(x) for x in singles]
            d_big = to_dense(big)
            one = statistics.median(_synced_ms(lambda: tpath.run(x), repeats, dev) for x in singles[:8])
            one_d = statistics.median(_synced_ms(lambda: dense(*g), repeats, dev) for g in d_single[:8])
            many = _synced_ms(lambda: tpath.run(big), repeats, dev)
            many_d = _synced_ms(lambda: dense(*d_big), repeats, dev)
            err = float((tpath.run(big) - dense(*d_big)).abs().max())
        bb.to("cpu")
        return {
            "density": float(np.mean([len(c) for c, _ in wins]) / (shape[0] * shape[1])),
            "batch1_ms": one, "dense_batch1_ms": one_d,
            f"batch{batch}_windows_per_s": batch / (many * 1e-3), f"dense_batch{batch}_windows_per_s": batch / (many_d * 1e-3),
            "max_abs_diff_vs_dense": err,
        }

    for key, (bb, shape, weights) in nets.items():
        entry: dict[str, Any] = {"grid": list(shape), "weights": weights}
        wins, source = eye_windows(shape, windows, eye_data) if key == "eye" else cls_windows
        entry.update(measure(bb, shape, wins), windows_source=source)
        entry["densities"] = {f"{d:.2f}": measure(bb, shape, random_windows(shape, bb.in_channels, d, 16, i))
                              for i, d in enumerate(DENSITIES)}
        result[key] = entry
    return result
