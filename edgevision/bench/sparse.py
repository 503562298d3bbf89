"""Benchmark of sparse inference on one CPU thread: the compiled engine vs spconv vs dense PyTorch.

For each network (``eye``: the eye tracker's backbone from ``models/eye_small.yaml`` on its 60x80 grid;
``classifier``: the ESDA classifier backbone of :mod:`edgevision.recognition.models.esda` on a 128x128 sensor at
its downsample 2, a 64x64 grid) it times, window by window and in one process, the same float weights (eval-mode
BatchNorm) through

* ``latency_ms``: :class:`edgevision.engine.Engine` (numba, one call per window, BatchNorm folded; its kernels
  are serial and its BLAS is held to one thread with threadpoolctl),
* ``torch_ms``: the engine's batched PyTorch path run on one window,
* ``spconv_ms``: the backbone with spconv 2.3.8 (``impl="spconv"``, index pairs shared per resolution),
* ``dense_ms``: the masked dense PyTorch execution (:class:`edgevision.nn.dense.DenseBackbone`, conv2d),

on real-density windows (eye: 10 ms slices of a 3ET+ recording, from ``eye_data`` when given, else rendered
by the simulator) and on uniformly random windows at 1 %, 3 % and 10 % density. Every figure is the median over
windows of the median over ``repeats`` calls. ``macs`` counts the multiply-accumulates on active sites;
``gemm_gflops`` is the measured single-thread float32 GEMM rate, and ``fraction_of_floor`` is
``2 * macs / (gemm_gflops * 1e9)`` divided by the engine's latency (1.0 = as fast as a large GEMM).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

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
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = min(_median_ms(lambda: torch.mm(a, b), 1) for _ in range(repeats))  # best of: a capability, not a typical time
    return 2 * n**3 / (best * 1e-3) / 1e9


def _randomize_bn(backbone: Any, seed: int) -> None:
    """Give untrained BatchNorm layers plausible running statistics (the timings do not depend on them)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in backbone.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.copy_(torch.rand(m.num_features, generator=g) * 0.4 - 0.2)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)


def eye_backbone(checkpoint: str | Path | None = None) -> tuple[Any, tuple[int, int], str]:
    """The eye tracker's backbone and its input grid: trained weights from ``checkpoint`` (default: the shipped
    ``models/eye_small.safetensors`` when present), else ``models/eye_small.yaml`` with random weights."""
    import torch

    from edgevision.nn.backbone import SparseBackbone
    from edgevision.nn.config import load_config

    root = Path(__file__).resolve().parents[2] / "models"
    if checkpoint is None and (root / "eye_small.safetensors").is_file():
        checkpoint = root / "eye_small.safetensors"  # the shipped trained model
    if checkpoint is not None:
        from edgevision.nn.checkpoint import load_eye_tracker

        model, cfg = load_eye_tracker(checkpoint)
        bb, weights = model.backbone, str(checkpoint)
    else:
        cfg = load_config(root / "eye_small.yaml")
        torch.manual_seed(0)
        bb, weights = SparseBackbone(cfg), "random init (models/eye_small.yaml)"
        _randomize_bn(bb, 0)
    return bb.eval(), cfg.input.grid(cfg.sensor_size), weights


def classifier_backbone(sensor: int = 128) -> tuple[Any, tuple[int, int], str]:
    """The ESDA classifier's backbone (random init) on a ``sensor`` x ``sensor`` camera at its downsample."""
    import torch

    from edgevision.recognition.models.esda import ESDAClassifier, ESDAConfig

    cfg = ESDAConfig()
    torch.manual_seed(1)
    bb = ESDAClassifier(10, cfg).backbone
    _randomize_bn(bb, 1)
    side = -(-sensor // cfg.downsample)
    return bb.eval(), (side, side), f"random init (recognition ESDAConfig, {sensor}x{sensor} sensor / {cfg.downsample})"


def eye_windows(
    shape: tuple[int, int], n: int, eye_data: str | Path | None = None, seconds: float = 0.5
) -> tuple[list[Window], str]:
    """Real-density eye windows: 10 ms slices (features min(count, 15)) of a 3ET+ recording.

    From the first training recording under ``eye_data`` when it is a 3ET+ root, else a ``seconds`` recording
    rendered by :func:`edgevision.sim.eye_dataset.simulate_recording`. Empty slices are skipped.
    """
    from edgevision.nn.config import load_config
    from edgevision.nn.inputs import slice_tokens

    cfg = load_config(Path(__file__).resolve().parents[2] / "models" / "eye_small.yaml")
    if eye_data is not None and (Path(eye_data) / "train_files.txt").is_file():
        from edgevision.datasets.threeet import ThreeETPlus

        ds = ThreeETPlus(eye_data, "train")
        events, source = ds[0][0], f"{eye_data} (train recording {ds.names[0]})"
    else:
        from edgevision.sim.eye_dataset import simulate_recording

        events, source = simulate_recording(0, 0, seconds, 0).events, f"simulate_recording(subject 0, {seconds} s)"
    toks = [t for t in slice_tokens(events, cfg.sensor_size, cfg.input) if t.coords.shape[0]]
    if tuple(toks[0].shape) != tuple(shape):
        raise ValueError(f"eye windows on {toks[0].shape}, the backbone expects {shape}")
    wins = [(t.coords, np.minimum(t.feats, cfg.input.input_clip).astype(np.float32)) for t in toks[:n]]
    return wins, source


def random_windows(shape: tuple[int, int], channels: int, density: float, n: int, seed: int) -> list[Window]:
    """``n`` windows with uniformly random active sites at ``density`` and counts 0..15."""
    from edgevision.ir.random import random_tokens

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        c, f = random_tokens(rng, shape[0], shape[1], channels, density)
        out.append((c, np.minimum(f, 15).astype(np.float32)))
    return out


def time_windows(backbone: Any, shape: tuple[int, int], windows: list[Window], repeats: int) -> dict[str, Any]:
    """Median per-window milliseconds of engine / torch path / spconv / dense, plus sites and MACs."""
    import torch

    from edgevision.engine.cpu import compile_float
    from edgevision.engine.plan import plan_from_backbone
    from edgevision.engine.torch_path import TorchEngine
    from edgevision.nn.dense import DenseBackbone, to_dense
    from edgevision.nn.tensor import SparseTensor

    from threadpoolctl import threadpool_limits

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
    windows: int = 20, repeats: int = 5, eye_data: str | Path | None = None, checkpoint: str | Path | None = None
) -> dict[str, Any]:
    """All figures of ``edgevision bench sparse`` (one thread), JSON-ready."""
    import torch
    from tqdm import tqdm

    torch.set_num_threads(1)  # spconv 2.3.8's CPU forward is also wrong with several OpenMP threads (see docs/engine.md)
    rate = gemm_gflops()
    nets = {"eye": eye_backbone(checkpoint), "classifier": classifier_backbone()}
    result: dict[str, Any] = {"threads": 1, "gemm_gflops": rate, "repeats": repeats}
    bar = tqdm(total=len(nets) * len(DENSITIES) + 1, desc="bench sparse", unit="set", file=sys.stderr)
    for key, (bb, shape, weights) in nets.items():
        entry: dict[str, Any] = {"grid": list(shape), "weights": weights}
        if key == "eye":
            wins, source = eye_windows(shape, windows, eye_data)
            entry.update(time_windows(bb, shape, wins, repeats), windows_source=source)
            bar.update()
        table = {}
        for i, d in enumerate(DENSITIES):
            table[f"{d:.2f}"] = time_windows(bb, shape, random_windows(shape, bb.in_channels, d, max(3, windows // 4), i), repeats)
            bar.update()
        if key != "eye":  # no real recordings of this network's input here: its headline is the 3 % table row
            entry.update(table[f"{0.03:.2f}"], windows_source="uniform random sites at 3 % density")
        entry["densities"] = table
        entry["fraction_of_floor"] = 2 * entry["macs"] / (rate * 1e9) / (entry["latency_ms"] * 1e-3)
        result[key] = entry
    bar.close()
    return result


def _synced_ms(fn: Callable[[], Any], repeats: int, device: Any) -> float:
    """Median milliseconds of ``fn`` with the device synchronized around each call (after one warm-up call)."""
    import torch

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
    device: str = "cuda", windows: int = 64, batch: int = 64, repeats: int = 20, eye_data: str | Path | None = None
) -> dict[str, Any]:
    """The engine's PyTorch path on a GPU vs dense cuDNN (masked conv2d), same float weights.

    Per network: batch-1 latency (median over windows) and batch-``batch`` throughput (windows/s), on the eye's
    real-density windows and on random windows at each density of :data:`DENSITIES`.
    """
    import torch

    from edgevision.engine.plan import plan_from_backbone
    from edgevision.engine.torch_path import TorchEngine
    from edgevision.nn.dense import DenseBackbone, to_dense
    from edgevision.nn.inputs import collate_tokens
    from edgevision.events.tokens import Tokens

    dev = torch.device(device)
    torch.backends.cudnn.benchmark = True
    nets = {"eye": eye_backbone(), "classifier": classifier_backbone()}
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
        if key == "eye":
            wins, source = eye_windows(shape, windows, eye_data)
            entry.update(measure(bb, shape, wins), windows_source=source)
        entry["densities"] = {f"{d:.2f}": measure(bb, shape, random_windows(shape, bb.in_channels, d, 16, i))
                              for i, d in enumerate(DENSITIES)}
        result[key] = entry
    return result
