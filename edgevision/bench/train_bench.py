"""``edgevision bench train``: eye-tracker training throughput and time to a validation target.

A fixed small synthetic set (``edgevision data synth-eye`` code path: 8 recordings x 6 s, seed 0, 4 train / 2 val /
2 test recordings) is generated once and cached (``--data``, default ``~/.cache/edgevision/bench_train``). The eye
tracker (``models/eye_small.yaml`` or ``--config``) is trained by :func:`edgevision.nn.train.train_eye` for
``--steps`` optimizer steps with its own learning-rate schedule spanning them; ``--world-size W`` > 1 runs W
processes under torch.distributed (the ``train eye --nproc`` launcher, :func:`edgevision.nn.distributed.torchrun_argv`).

Timing (rank 0, after every optimizer step; the loss is all-reduced and read back, so CUDA work is finished):

* ``windows_per_s`` / ``sequences_per_s``: global batch windows (sequences x seq_len) / sequences over the steps
  after the first (warm-up) step, divided by their training seconds; ``step_seconds_median`` is the median step.
* ``seconds_to_target``: training seconds from the first step until the validation mean distance (80x60 px, on
  the 2 val recordings, every ``--eval-every`` steps and after the last) first is <= ``--target-px``; null with
  ``target_reached: false`` when it is not reached within the steps.

Data generation, token caching, model building, validation and the per-epoch checkpoint writing are not timed.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from edgevision.atomic import write_text_atomic
from edgevision.bench.eye_shift import cached_set
from edgevision.cache import cache_dir
from edgevision.errors import ConfigError, EdgevisionError
from edgevision.nn.config import load_config
from edgevision.nn.distributed import torchrun_argv
from edgevision.nn.eye_data import load_split
from edgevision.nn.train import evaluate, train_eye, train_val_names
from edgevision.sim.eye_generator import generate_dataset

DATA_RECORDINGS = 8
DATA_SECONDS = 6.0  # 2 s recordings give 16 training sequences: fewer than one global batch of 32
DATA_SEED = 0
DEFAULT_CONFIG = "models/eye_small.yaml"
DEFAULT_TARGET_PX = 3.0


def bench_data(data: str | Path | None, jobs: int | None = None) -> Path:
    """The fixed benchmark dataset under ``data`` (default the user cache), generated there when absent."""
    jobs = jobs or max(1, min(DATA_RECORDINGS, os.cpu_count() or 1))

    def generate(out: Path, recordings: int, seconds: float, seed: int) -> Any:
        print(f"bench train: generating {recordings} recordings x {seconds:g} s (seed {seed}) in {out}", file=sys.stderr)
        return generate_dataset(out, recordings, seconds, seed, workers=jobs)

    root = Path(data) if data else cache_dir("bench_train")
    return cached_set("synth-eye", generate, root, DATA_RECORDINGS, DATA_SECONDS, DATA_SEED)


def device_name(device: str) -> str:
    """"cpu" or the GPU's name."""
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return "cpu"


def check_args(device: str, world_size: int, steps: int, eval_every: int, repeats: int, target_px: float) -> None:
    """One-line ConfigError for a bad flag (before any data is generated)."""
    for name, value in (("--steps", steps), ("--world-size", world_size), ("--eval-every", eval_every),
                        ("--repeats", repeats)):
        if value < 1:
            raise ConfigError(f"{name} must be >= 1, got {value}")
    if not target_px > 0:
        raise ConfigError(f"--target-px must be > 0, got {target_px}")
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise ConfigError(f"--device {device!r}: expected cpu or cuda") from None
    if dev.type not in ("cpu", "cuda") or dev.index is not None:
        raise ConfigError(f"--device {device!r}: expected cpu or cuda (--world-size picks the GPUs: cuda:0..W-1)")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"--device cuda: no CUDA GPU usable by this torch ({torch.__version__}); use --device cpu")
        if world_size > torch.cuda.device_count():
            raise ConfigError(f"--world-size {world_size}: only {torch.cuda.device_count()} CUDA device(s) (one per process)")
    elif world_size > (os.cpu_count() or 1):
        print(f"bench train: warning: --world-size {world_size} > {os.cpu_count()} CPU cores", file=sys.stderr)


class _Clock:
    """Step times and validation on rank 0, fed by ``train_eye``'s ``on_step`` / ``on_epoch_end`` hooks."""

    def __init__(self, val: list, cfg: Any, device: str, steps: int, eval_every: int, target_px: float) -> None:
        self.val, self.cfg, self.device = val, cfg, device
        self.steps, self.eval_every, self.target_px = steps, eval_every, target_px
        self.last: float | None = None
        self.step_seconds: list[float] = []
        self.evals: list[dict[str, float]] = []
        self.seconds_to_target: float | None = None
        self.steps_to_target: int | None = None

    def on_step(self, step: int, model: torch.nn.Module) -> None:
        now = time.perf_counter()
        if step == 0:
            self.last = now
            return
        self.step_seconds.append(now - self.last)
        if step % self.eval_every == 0 or step == self.steps:
            self._validate(step, model)
        if step % 10 == 0 or step == self.steps:
            print(f"bench train: step {step}/{self.steps}  {self.step_seconds[-1]:.3f} s/step", file=sys.stderr)
        self.last = time.perf_counter()  # validation is not timed

    def on_epoch_end(self, epoch: int, row: dict) -> None:
        self.last = time.perf_counter()  # nor the epoch's checkpoint writing

    def _validate(self, step: int, model: torch.nn.Module) -> None:
        if self.seconds_to_target is not None and step != self.steps:
            return
        metrics, _ = evaluate(model, self.val, self.cfg, self.device)
        model.train()
        dist = float(metrics["mean_distance"])
        trained = float(sum(self.step_seconds))
        self.evals.append({"step": step, "seconds": trained, "val_mean_distance": dist})
        print(f"bench train: step {step}: val mean distance {dist:.2f} px after {trained:.1f} s", file=sys.stderr)
        if self.seconds_to_target is None and dist <= self.target_px:
            self.seconds_to_target, self.steps_to_target = trained, step


def run_once(cfg_path: str, data: Path, device: str, steps: int, eval_every: int, target_px: float) -> dict[str, Any]:
    """One training run in this process (one rank of a torchrun launch, or the only process): rank 0's timings."""
    cfg = load_config(cfg_path)
    rank = int(os.environ.get("RANK", "0"))
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    rank_device = f"cuda:{local}" if device.startswith("cuda") else "cpu"
    cache = data / "slices"
    clock = None
    if rank == 0:
        _, (val_split, val_names) = train_val_names(data, cfg)
        val = load_split(data, val_split, cfg, cache, val_names)
        clock = _Clock(val, cfg, rank_device, steps, eval_every, target_px)
    with tempfile.TemporaryDirectory(prefix="bench_train_") as out:
        train_eye(cfg, data, Path(out) / "run", device=device, cache_dir=cache, max_steps=steps,
                  on_step=clock.on_step if clock else None, on_epoch_end=clock.on_epoch_end if clock else None)
    if clock is None:
        return {"rank": rank}
    timed = clock.step_seconds[1:]  # step 1 is the warm-up (allocations, CUDA kernels, caches)
    per_step = statistics.median(timed) if timed else None
    tc = cfg.train
    return {
        "device": device_name(rank_device),
        "world_size": world_size,
        "steps": len(clock.step_seconds),
        "batch_size": tc.batch_size,
        "seq_len": tc.seq_len,
        "windows_per_s": len(timed) * tc.batch_size * tc.seq_len / sum(timed) if timed else None,
        "sequences_per_s": len(timed) * tc.batch_size / sum(timed) if timed else None,
        "step_seconds_median": per_step,
        "warmup_step_seconds": clock.step_seconds[0] if clock.step_seconds else None,
        "train_seconds": float(sum(clock.step_seconds)),
        "target_px": target_px,
        "target_reached": clock.seconds_to_target is not None,
        "seconds_to_target": clock.seconds_to_target,
        "steps_to_target": clock.steps_to_target,
        "final_val_mean_distance": clock.evals[-1]["val_mean_distance"] if clock.evals else None,
        "evals": clock.evals,
    }


def _launch(world_size: int, argv: list[str]) -> dict[str, Any]:
    """``bench train`` as ``world_size`` processes under torch.distributed.run; rank 0's result."""
    with tempfile.TemporaryDirectory(prefix="bench_train_") as tmp:
        result = Path(tmp) / "result.json"
        env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
        proc = subprocess.run(torchrun_argv(world_size, [*argv, "--result", str(result)]), env=env,
                              stdout=subprocess.DEVNULL)
        if proc.returncode or not result.is_file():
            raise EdgevisionError(f"bench train --world-size {world_size}: a training process failed "
                                  f"(exit {proc.returncode}); its error is above")
        return json.loads(result.read_text())


def bench_train(
    *,
    config: str = DEFAULT_CONFIG,
    data: str | Path | None = None,
    device: str = "cpu",
    world_size: int = 1,
    steps: int = 20,
    eval_every: int = 10,
    target_px: float = DEFAULT_TARGET_PX,
    repeats: int = 1,
    jobs: int | None = None,
) -> dict[str, Any]:
    """Generate (or reuse) the benchmark set, train ``repeats`` times and report throughput and time to target."""
    check_args(device, world_size, steps, eval_every, repeats, target_px)
    cfg = load_config(config)  # a bad --config is refused before any data is generated
    if cfg.train.batch_size % world_size:
        raise ConfigError(f"--world-size {world_size}: train.batch_size {cfg.train.batch_size} must be divisible by it")
    t0 = time.perf_counter()
    root = bench_data(data, jobs)
    data_seconds = time.perf_counter() - t0
    runs = []
    for r in range(repeats):
        print(f"bench train: run {r + 1}/{repeats}: {device}, world size {world_size}, {steps} steps", file=sys.stderr)
        if world_size > 1:
            argv = ["bench", "train", "--config", config, "--data", str(root), "--device", device, "--world-size",
                    str(world_size), "--steps", str(steps), "--eval-every", str(eval_every), "--target-px", str(target_px)]
            runs.append(_launch(world_size, argv))
        else:
            runs.append(run_once(config, root, device, steps, eval_every, target_px))
    out = dict(runs[-1]) if repeats == 1 else _medians(runs)
    out.update({"config": config, "data": str(root), "data_seconds": data_seconds, "repeats": repeats,
                "eval_every": eval_every, "cpu_threads": torch.get_num_threads() if world_size == 1 else 1,
                "cpu_count": os.cpu_count()})
    return out


def _medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The first run's fields with the timed ones replaced by their medians over the runs (and the lists kept)."""
    out = dict(runs[0])
    for key in ("windows_per_s", "sequences_per_s", "step_seconds_median", "warmup_step_seconds", "train_seconds"):
        values = [r[key] for r in runs if r[key] is not None]
        out[key] = statistics.median(values) if values else None
        out[f"{key}_runs"] = [r[key] for r in runs]
    reached = [r["seconds_to_target"] for r in runs if r["seconds_to_target"] is not None]
    out["target_reached"] = len(reached) == len(runs)
    out["seconds_to_target"] = statistics.median(reached) if out["target_reached"] else None
    out["seconds_to_target_runs"] = [r["seconds_to_target"] for r in runs]
    out["evals"] = [r["evals"] for r in runs]
    return out


def worker(config: str, data: str, device: str, steps: int, eval_every: int, target_px: float, result: str) -> dict:
    """One rank of a ``--world-size`` launch: train; rank 0 writes the result JSON to ``result``."""
    res = run_once(config, Path(data), device, steps, eval_every, target_px)
    if "rank" not in res:
        write_text_atomic(result, json.dumps(res))
    return res


__all__ = ["bench_train", "bench_data", "run_once", "worker"]
