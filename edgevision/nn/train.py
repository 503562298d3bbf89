"""Training and evaluation of the eye tracker on a 3ET+-layout dataset.

A run folder holds: ``state.pt`` (model, optimizer, scheduler, RNG, history; written atomically after every
epoch, read by ``resume``), ``last.safetensors`` / ``best.safetensors`` (+ JSON) checkpoints, ``log.csv`` and
PNG plots. The batch order and augmentation of epoch e come from ``numpy.random.default_rng([seed, e])``, so a
run killed and resumed ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import csv
import io
import math
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from edgevision.atomic import atomic_path, write_bytes_atomic
from edgevision.errors import CheckpointError, DatasetError
from edgevision.nn.checkpoint import save_checkpoint
from edgevision.nn.config import EyeConfig
from edgevision.nn.distributed import World, globalize_batchnorm, join
from edgevision.datasets.threeet import ThreeETPlus
from edgevision.nn.augment import draw_params, source_slots
from edgevision.nn.event_batch import EventStore, build_batch, sequence_starts
from edgevision.nn.eye_data import RecordingSlices, data_hash, load_split, make_batch
from edgevision.nn.eye_model import EyeTracker
from edgevision.nn.metrics import eye_metrics

STATE_FILE = "state.pt"
LOG_FIELDS = ("epoch", "train_loss", "val_p1", "val_p3", "val_p5", "val_p10", "val_mean_distance", "lr", "seconds")


def eye_loss(
    out: torch.Tensor, labels: torch.Tensor, sensor_size: tuple[int, int], closed_weight: float, world: World = World()
) -> torch.Tensor:
    """Smooth-L1 in 80x60 pixels on open frames + ``closed_weight`` x BCE on the eye-closed logit.

    Over several processes the open-frame count is the global batch's, scaled so that DDP's gradient average
    equals the one-process loss of the whole batch."""
    scale = out.new_tensor([80.0, 60.0])
    true_xy = labels[..., :2] / labels.new_tensor(sensor_size)
    closed = labels[..., 2]
    open_ = closed < 0.5
    err = F.smooth_l1_loss(out[..., :2] * scale, true_xy * scale, reduction="none").sum(-1)
    xy = (err * open_).sum() * world.size / world.sum(open_.sum()).clamp(min=1)
    return xy + closed_weight * F.binary_cross_entropy_with_logits(out[..., 2], closed)


@torch.no_grad()
def predict_recording(model: EyeTracker, rec: RecordingSlices, cfg: EyeConfig, device: str = "cpu", chunk: int = 1000) -> np.ndarray:
    """Run the whole recording as one sequence -> [n, 3] (x, y in sensor pixels, closed probability)."""
    model.eval()
    feats = []
    for s in range(0, rec.n, chunk):
        e = min(s + chunk, rec.n)
        x, _ = make_batch([rec], np.array([[0, s]]), e - s, device, downsample=cfg.input.downsample)
        feats.append(model.backbone(x))
    seq, _ = model.gru(torch.cat(feats).unsqueeze(0))
    out = model.head(seq)[0].cpu().numpy().astype(np.float64)
    out[:, 0] *= cfg.sensor_size[0]
    out[:, 1] *= cfg.sensor_size[1]
    out[:, 2] = 1.0 / (1.0 + np.exp(-out[:, 2]))
    return out


def evaluate(
    model: EyeTracker, recs: list[RecordingSlices], cfg: EyeConfig, device: str = "cpu", rate: int = 100
) -> tuple[dict, list[np.ndarray]]:
    """Challenge metrics over recordings at ``rate`` Hz (100: every label; 20: every 5th) + the predictions."""
    if 100 % rate:
        raise ValueError(f"rate must divide 100 Hz, got {rate}")
    step = 100 // rate
    preds = [predict_recording(model, r, cfg, device) for r in recs]
    pred = np.concatenate([p[::step] for p in preds])
    lab = np.concatenate([r.labels[::step] for r in recs])
    names = np.concatenate([[r.name] * len(r.labels[::step]) for r in recs])
    return eye_metrics(pred[:, :2], lab, cfg.sensor_size, names, closed_prob=pred[:, 2]), preds


def train_val_names(root: Path, cfg: EyeConfig) -> tuple[list[str], tuple[str, list[str]]]:
    """Training recordings (split ``train``) and the validation ``(split, names)``: the ``val`` split, or without
    one the last ``val_fraction`` of ``train``."""
    train = ThreeETPlus(root, "train").names
    try:
        val = ThreeETPlus(root, "val").names
    except DatasetError:
        val = []
    if val:
        return train, ("val", val)
    k = max(1, int(round(len(train) * cfg.train.val_fraction)))
    if len(train) <= k:
        raise DatasetError(f"{root}: need a val split or at least {k + 1} train recordings")
    return train[:-k], ("train", train[-k:])


def split_train_val(root: Path, cfg: EyeConfig, cache: Path) -> tuple[list[RecordingSlices], list[RecordingSlices]]:
    """Token slices of the training and validation recordings (see :func:`train_val_names`)."""
    train, (val_split, val) = train_val_names(root, cfg)
    return load_split(root, "train", cfg, cache, train), load_split(root, val_split, cfg, cache, val)


def _lr_lambda(total_steps: int) -> Callable[[int], float]:
    warm = max(1, total_steps // 20)
    return lambda s: (s + 1) / warm if s < warm else 0.5 * (1 + math.cos(math.pi * (s - warm) / max(1, total_steps - warm)))


def _rng_state() -> dict[str, Any]:
    return {"torch": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def _save_state(path: Path, state: dict[str, Any]) -> None:
    buf = io.BytesIO()
    torch.save(state, buf)
    write_bytes_atomic(path, buf.getvalue())


def train_eye(
    cfg: EyeConfig,
    data: str | Path,
    out: str | Path,
    *,
    device: str = "cpu",
    resume: bool = False,
    cache_dir: str | Path | None = None,
    on_epoch_end: Callable[[int, dict], None] | None = None,
    max_steps: int | None = None,
    on_step: Callable[[int, torch.nn.Module], None] | None = None,
) -> dict[str, Any]:
    """Train in ``out`` (``resume``: continue from its ``state.pt`` when there is one); returns a summary.

    ``max_steps``: stop after that many optimizer steps (the learning-rate schedule spans them instead of
    ``train.epochs``). ``on_step(steps, model)``: called on rank 0 with 0 just before the first step and with the
    step count after every step (``edgevision bench train`` times and validates the run through it).

    Under ``torchrun`` (see :mod:`edgevision.nn.distributed`) each process trains on its share of every global
    batch and rank 0 writes the run folder."""
    world = join(device, cfg.train.batch_size)
    device = world.device
    out, data = Path(out), Path(data)
    out.mkdir(parents=True, exist_ok=True)
    cache = Path(cache_dir) if cache_dir else out / "cache"
    state_path = out / STATE_FILE
    state = None
    if resume and state_path.is_file():  # no state yet (killed during the first epoch): start afresh
        state = torch.load(state_path, map_location="cpu", weights_only=False)
        if state["config"] != cfg.to_dict():
            raise CheckpointError(f"{state_path}: was trained with a different config; resume with the same --config/--epochs/--seed")
    elif not resume and state_path.exists():
        raise CheckpointError(f"{out}: already holds a run ({STATE_FILE}); pass --resume or choose a new --out")

    tc = cfg.train
    train_names, (val_split, val_names) = train_val_names(data, cfg)
    train = EventStore.from_split(data, "train", cfg, device, train_names)
    val = load_split(data, val_split, cfg, cache, val_names) if world.main else []
    span = source_slots(tc.seq_len, cfg.augment.time_stretch[0]) if cfg.augment.enabled else tc.seq_len
    starts = sequence_starts(train.n_slots, span, tc.stride)
    steps_per_epoch = max(1, len(starts) // tc.batch_size)
    torch.manual_seed(tc.seed)
    model = EyeTracker(cfg).to(device)
    step_model: torch.nn.Module = model
    if world.size > 1:
        step_model = DistributedDataParallel(
            globalize_batchnorm(model), device_ids=[torch.device(device).index] if device.startswith("cuda") else None
        )
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    ema = _weight_average(model, tc.ema) if world.main else None
    n_epochs = tc.epochs if max_steps is None else math.ceil(max_steps / steps_per_epoch)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(max_steps or steps_per_epoch * max(tc.epochs, 1)))
    history: list[dict] = []
    best: dict | None = None
    first_epoch = 0
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"]["torch"])
        if state["rng"]["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        history, best, first_epoch = state["history"], state["best"], state["epoch"] + 1
        if ema is not None:
            ema.load_state_dict(state["ema"])
    dhash = data_hash(data)
    meta_base = {"data": str(data), "data_hash": dhash, "train_recordings": len(train_names), "val_recordings": len(val)}

    kill_at, steps = int(os.environ.get("EDGEVISION_TEST_KILL_AT_STEP", 0)), 0  # test hook: SIGKILL after N steps
    if on_step is not None and world.main:
        on_step(0, model)
    for epoch in range(first_epoch, n_epochs):
        t0 = time.perf_counter()
        rng = np.random.default_rng([tc.seed, epoch])
        order = rng.permutation(len(starts))[: steps_per_epoch * tc.batch_size].reshape(steps_per_epoch, tc.batch_size)
        model.train()
        losses = []
        rows = world.share(tc.batch_size)
        for idx in tqdm(order, desc=f"epoch {epoch + 1}/{n_epochs}", leave=False, disable=not world.main):
            params = draw_params(cfg.augment, len(idx), rng).take(rows)
            x, lab = build_batch(train, starts[idx[rows]], span, params, cfg)
            n = len(idx[rows])
            loss = eye_loss(step_model(x, n, tc.seq_len), lab, cfg.sensor_size, tc.closed_weight, world)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
            opt.step()
            sched.step()
            if ema is not None:
                ema.update_parameters(model)
            steps += 1
            if steps == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            losses.append(world.sum(loss.detach()).item() / world.size)
            if on_step is not None and world.main:
                on_step(steps, model)
            if max_steps is not None and steps >= max_steps:
                break
        if not world.main:
            world.barrier()  # rank 0 evaluates and writes the epoch's files
            if max_steps is not None and steps >= max_steps:
                break
            continue
        kept = model if ema is None else ema.module  # the weights validated and checkpointed
        metrics, _ = evaluate(kept, val, cfg, device)
        row = {
            "epoch": epoch + 1,
            "train_loss": float(np.mean(losses)),
            **{f"val_{k}": metrics[k] for k in ("p1", "p3", "p5", "p10", "mean_distance")},
            "lr": sched.get_last_lr()[0],
            "seconds": time.perf_counter() - t0,
        }
        history.append(row)
        meta = {**meta_base, "epoch": epoch + 1, "val_metrics": {k: v for k, v in metrics.items() if k != "per_recording"}}
        save_checkpoint(out / "last.safetensors", kept, cfg, meta)
        if best is None or row["val_mean_distance"] < best["val_mean_distance"]:
            best = row
            save_checkpoint(out / "best.safetensors", kept, cfg, meta)
        _write_log(out / "log.csv", history)
        _save_state(state_path, {
            "config": cfg.to_dict(), "epoch": epoch, "model": model.state_dict(), "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(), "rng": _rng_state(), "history": history, "best": best,
            "ema": ema.state_dict() if ema is not None else None,
        })
        world.barrier()
        if on_epoch_end is not None:
            on_epoch_end(epoch, row)
        if max_steps is not None and steps >= max_steps:
            break

    if not world.main:
        return {"run": str(out), "rank": world.rank, "world_size": world.size}
    if history:
        from edgevision.nn.checkpoint import load_eye_tracker
        from edgevision.nn.plots import plot_run

        best_model, _ = load_eye_tracker(out / "best.safetensors", device)
        metrics, preds = evaluate(best_model, val, cfg, device)
        plot_run(out, history, val, preds, cfg)
    return {
        "run": str(out),
        "best_checkpoint": str(out / "best.safetensors") if best else None,
        "epochs": len(history),
        "best_epoch": best["epoch"] if best else None,
        "val": {k: best[f"val_{k}"] for k in ("p1", "p3", "p5", "p10", "mean_distance")} if best else {},
        "train_seconds": float(sum(r["seconds"] for r in history)),
        "train_sequences": int(len(starts)),
        "world_size": world.size,
        "device": device,
    }


def _weight_average(model: torch.nn.Module, decay: float) -> torch.optim.swa_utils.AveragedModel | None:
    """An exponential moving average of ``model``'s weights and buffers (``decay`` 0: none)."""
    if decay <= 0:
        return None
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def _write_log(path: Path, history: list[dict]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=LOG_FIELDS)
        w.writeheader()
        w.writerows(history)
