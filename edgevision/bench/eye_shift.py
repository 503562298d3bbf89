"""``edgevision bench eye-shift``: how the eye tracker holds up on eyes it has never seen. Trains nothing.

It generates test sets and evaluates one checkpoint (float, or with ``int8`` the integer backbone of an IR folder
run by :class:`~edgevision.quant.torch_int.TorchIntNetwork`, bit-exact with the NumPy reference) on each:

* ``own``: our procedural generator (``domain="train"``); its ``test`` split (subjects the generator holds out),
  or every recording when that split is empty (fewer than 5 recordings: 2 per subject, 1/6 of the subjects for
  test); ``split`` in the result says which. Use a seed other than the training data's so that subjects are new.
* ``family``: the independent renderer :func:`edgevision.sim.eyeball.generate_family_dataset` (all recordings).
* ``ranges.<factor>`` (in the result ``ranges: {factor: ...}``): our generator with ``domain="heldout:<factor>"``
  for every factor of :data:`edgevision.sim.eye_domain.HELDOUT_FACTORS`; every recording (the whole set is outside
  the training range).

Each set reports the challenge metrics with offsets, jitter and phases (:func:`edgevision.nn.metrics.eye_metrics`)
on the raw predictions and, under ``filtered``, after the causal motion-aware median filter
(:mod:`edgevision.nn.postprocess`); ``mean_distance_vs_own`` is each set's mean distance over own's (same run).
Generated sets are cached under ``cache`` by generator, size, seed and a hash of ``edgevision/sim``'s sources.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from tqdm import tqdm

from edgevision.atomic import atomic_path, write_text_atomic
from edgevision.cache import cache_dir
from edgevision.errors import ConfigError
from edgevision.ir.schema import load_ir
from edgevision.nn.checkpoint import load_eye_tracker
from edgevision.nn.eye_data import load_split
from edgevision.nn.metrics import PHASES, eye_metrics
from edgevision.nn.postprocess import FILTER_K, FILTER_THRESHOLD, motion_median_filter
from edgevision.nn.train import evaluate
from edgevision.quant.reference import dequantize_output, quantize_input
from edgevision.quant.torch_int import TorchIntNetwork
from edgevision.runtime.session import resolve
from edgevision.sim.eye_domain import HELDOUT_FACTORS
from edgevision.sim.eye_generator import generate_dataset
from edgevision.sim.eyeball import generate_family_dataset

METRIC_KEYS = ("p1", "p3", "p5", "p10", "mean_distance", "jitter", "offset_dx", "offset_dy", "phases", "windows")
MANIFEST = "manifest.json"


class IRBackbone:
    """An IR folder's integer backbone on batches: float counts -> int8 input -> integer network -> features."""

    def __init__(self, net: Any, feature_dim: int) -> None:
        self.net, self.feature_dim = net, feature_dim
        self.runner = TorchIntNetwork(net)

    def __call__(self, x: Any) -> torch.Tensor:
        q = torch.from_numpy(quantize_input(x.feats.cpu().numpy(), self.net.input).astype(np.int64))
        out = self.runner(x.replace(q.to(x.feats.device)))
        if out.shape[1] != self.feature_dim:
            raise ConfigError(f"IR {self.net.name!r} yields {out.shape[1]} features but the checkpoint's GRU expects "
                              f"{self.feature_dim}; quantize this checkpoint (edgevision quantize)")
        return torch.from_numpy(dequantize_output(self.net, out.cpu().numpy())).to(x.feats.device)


class IntEyeTracker(torch.nn.Module):
    """The checkpoint's GRU + head on the integer backbone (what :func:`predict_recording` needs)."""

    def __init__(self, model: torch.nn.Module, net: Any) -> None:
        super().__init__()
        self.backbone = IRBackbone(net, model.backbone.feature_dim)
        self.gru, self.head = model.gru, model.head


def load_model(checkpoint: str | Path, int8: str | Path | None) -> tuple[torch.nn.Module, Any]:
    """(model, config): the float checkpoint, or its GRU/head on the IR folder ``int8``."""
    model, cfg = load_eye_tracker(resolve(checkpoint))
    if int8 is None:
        return model, cfg

    net = load_ir(resolve(int8))
    grid = cfg.input.grid(cfg.sensor_size)
    if (net.input.height, net.input.width) != tuple(grid):
        raise ConfigError(f"{int8}: IR input {net.input.height}x{net.input.width} does not match the checkpoint's "
                          f"grid {grid[0]}x{grid[1]}")
    return IntEyeTracker(model, net), cfg


def sim_hash() -> str:
    """sha256 (12 hex) of the sources of ``edgevision/sim``: a generated set is stale when they change."""
    h = hashlib.sha256()
    sim = Path(__file__).resolve().parents[1] / "sim"
    for f in sorted(sim.rglob("*.py")):
        h.update(str(f.relative_to(sim)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:12]


def set_generators(jobs: int) -> dict[str, Callable[[Path, int, float, int], Any]]:
    """{set name: generate(out, recordings, seconds, seed)} for own, family and every held-out range."""
    def ours(domain: str) -> Callable[[Path, int, float, int], Any]:
        return lambda out, n, s, seed: generate_dataset(out, n, s, seed, workers=jobs, domain=domain)

    def family(out: Path, n: int, s: float, seed: int) -> Any:
        return generate_family_dataset(out, n, s, seed, jobs)

    return {"own": ours("train"), "family": family, **{f"ranges.{f}": ours(f"heldout:{f}") for f in HELDOUT_FACTORS}}


def _alive(pid_text: str) -> bool:
    if not pid_text.isdigit() or int(pid_text) <= 0:
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cached_set(name: str, generate: Callable[[Path, int, float, int], Any], root: Path, recordings: int,
               seconds: float, seed: int) -> Path:
    """The dataset folder of set ``name`` under ``root``, generated (into a temporary folder, then renamed) if absent."""
    key = f"{name}-n{recordings}-s{seconds:g}-seed{seed}-{sim_hash()}"
    out = root / key
    if (out / MANIFEST).is_file():
        return out
    for old in root.glob(f".{key}.tmp*"):  # left by a killed run (its process is gone)
        if not _alive(old.name.rpartition(".tmp")[2]):
            shutil.rmtree(old, ignore_errors=True)
    tmp = root / f".{key}.tmp{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    generate(tmp, recordings, seconds, seed)
    if (out / MANIFEST).is_file():  # another run finished the same set meanwhile
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        shutil.rmtree(out, ignore_errors=True)  # an interrupted copy without its manifest
        tmp.rename(out)
    return out


def load_set(root: Path, cfg: Any, test_only: bool) -> tuple[list, str]:
    """(recordings as slices, "test" or "all"): the test split when ``test_only`` and it is not empty, else all."""
    slices = root / "slices"
    if test_only:
        recs = load_split(root, "test", cfg, slices)
        if recs:
            return recs, "test"
    return [r for split in ("train", "val", "test") for r in load_split(root, split, cfg, slices)], "all"


def _pick(m: dict) -> dict:
    return {k: m[k] for k in METRIC_KEYS}


def evaluate_set(model: torch.nn.Module, cfg: Any, recs: list, k: int, threshold: float) -> dict[str, Any]:
    """Metrics of ``model`` on ``recs`` (100 Hz labels), raw and after the post-filter (``filtered``)."""
    metrics, preds = evaluate(model, recs, cfg)
    lab = np.concatenate([r.labels for r in recs])
    names = np.concatenate([[r.name] * r.n for r in recs])
    filt = np.concatenate([motion_median_filter(p[:, :2], cfg.sensor_size, k, threshold) for p in preds])
    out = _pick(metrics)
    out.update(frames=metrics["frames"], closed_accuracy=metrics["closed_accuracy"], recordings=len(recs))
    out["filtered"] = _pick(eye_metrics(filt, lab, cfg.sensor_size, names))
    return out


def _no_nan(o: Any) -> Any:
    """NaN (a phase without frames) -> None, so the JSON is strict."""
    if isinstance(o, dict):
        return {k: _no_nan(v) for k, v in o.items()}
    return None if isinstance(o, float) and math.isnan(o) else o


def plot_shift(result: dict[str, Any], path: Path) -> None:
    """Bars per set: mean distance and p5 (raw and filtered), and the mean distance per phase."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = list(result["sets"])
    entries = [result[n] if n in result else result["ranges"][n.partition(".")[2]] for n in sets]
    x = np.arange(len(sets))
    val = lambda d, key: np.nan if d.get(key) is None else d[key]  # noqa: E731
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for ax, key, label in ((axes[0], "mean_distance", "mean distance (px, 80x60)"), (axes[1], "p5", "p5 (fraction)")):
        ax.bar(x - 0.2, [val(e, key) for e in entries], 0.4, label="raw")
        ax.bar(x + 0.2, [val(e["filtered"], key) for e in entries], 0.4, label="filtered")
        ax.set_ylabel(label)
    axes[1].set_ylim(0, 1.05)
    w = 0.8 / len(PHASES)
    for i, ph in enumerate(PHASES):
        axes[2].bar(x + (i - 1) * w, [val(e["phases"][ph], "mean_distance") for e in entries], w, label=ph)
    axes[2].set_ylabel("mean distance per phase (px, raw)")
    for ax in axes:
        ax.set_xticks(x, [s.replace("ranges.", "r.") for s in sets], rotation=30, ha="right", fontsize=8)
        ax.legend(fontsize=8)
    fig.suptitle(f"eye-shift: {Path(result['checkpoint']).name}" + (" (int8 backbone)" if result["int8"] else ""))
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)


def bench_eye_shift(
    checkpoint: str | Path = "models/eye_small.safetensors",
    int8: str | Path | None = None,
    recordings: int = 6,
    seconds: float = 2.0,
    jobs: int = 1,
    seed: int = 1,
    cache: str | Path | None = None,
    out: str | Path | None = None,
    filter_k: int = FILTER_K,
    filter_threshold: float = FILTER_THRESHOLD,
    generators: dict[str, Callable[[Path, int, float, int], Any]] | None = None,
) -> dict[str, Any]:
    """Generate (or reuse) every test set, evaluate, and return the result; with ``out`` write it as JSON and the
    plot beside it (``.png``). ``generators`` replaces :func:`set_generators` (tests)."""
    if recordings < 1 or seconds <= 0 or jobs < 1:
        raise ConfigError(f"need --recordings >= 1, --data-seconds > 0 and --jobs >= 1, "
                          f"got {recordings}, {seconds}, {jobs}")
    t0 = time.perf_counter()
    model, cfg = load_model(checkpoint, int8)
    root = Path(cache) if cache else cache_dir("eye_shift")
    gens = generators if generators is not None else set_generators(jobs)
    result: dict[str, Any] = {
        "checkpoint": str(checkpoint), "int8": str(int8) if int8 else None, "seconds": seconds,
        "recordings": recordings, "seed": seed, "filter": {"k": filter_k, "threshold_px": filter_threshold},
    }
    data_s = eval_s = 0.0
    sets: dict[str, dict[str, Any]] = {}
    for name in tqdm(list(gens), desc="eye-shift", unit="set", file=sys.stderr):
        t = time.perf_counter()
        data = cached_set(name, gens[name], root, recordings, seconds, seed)
        recs, split = load_set(data, cfg, test_only=name == "own")
        data_s += time.perf_counter() - t
        t = time.perf_counter()
        sets[name] = {"split": split, "data": str(data), **evaluate_set(model, cfg, recs, filter_k, filter_threshold)}
        eval_s += time.perf_counter() - t
    for name, entry in sets.items():  # ranges.<factor> nests under "ranges"
        group, _, factor = name.partition(".")
        if factor:
            result.setdefault(group, {})[factor] = entry
        else:
            result[name] = entry
    result["sets"] = list(sets)
    own = sets["own"]["mean_distance"] if "own" in sets else None
    result["mean_distance_vs_own"] = {n: e["mean_distance"] / own if own else None for n, e in sets.items()}
    result.update(data_s=data_s, evaluate_s=eval_s, wall_s=time.perf_counter() - t0)
    result = _no_nan(result)
    if out is not None:
        out = Path(out)
        write_text_atomic(out, json.dumps(result, indent=1))
        plot_shift(result, out.with_suffix(".png"))
        result.update(out=str(out), plot=str(out.with_suffix(".png")))
    return result
