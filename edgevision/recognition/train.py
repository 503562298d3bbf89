"""Training and evaluation of the classifiers, with a run folder that survives being killed.

Run folder::

    run.json                 model, data spec, classes, model/window/training settings (fixed at creation)
    model.safetensors        weights of the last finished epoch     (+ model.json: epoch, metrics)
    optimizer.safetensors    optimizer state tensors                 (+ optimizer.json: the rest)
    log.csv                  one row per epoch
    curves.png, confusion.png, eval.json
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from edgevision.atomic import atomic_path, write_text_atomic
from edgevision.errors import CheckpointError, ConfigError, DatasetError
from edgevision.nn.distributed import World, globalize_batchnorm, join
from edgevision.recognition.models import build_model, model_config
from edgevision.recognition.recordings import Source, fold_source
from edgevision.recognition.sources import open_source
from edgevision.recognition.windows import Augment, WindowConfig, WindowSet, make_batch

LOG_FIELDS = ("epoch", "lr", "train_loss", "train_acc", "test_window_acc", "test_recording_acc", "seconds")


@dataclass
class TrainSettings:
    epochs: int = 30
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0
    max_train_windows: int = 0  # 0 = all; otherwise a random subset per epoch (quick runs)
    shift_px: int = 0  # augmentation: random translation of each training window, pixels
    drop_events: float = 0.0  # augmentation: remove up to this fraction of a training window's events
    folds: int = 0  # > 0: cross-validation; fold ``fold`` of the training recordings (by hash) is the test part
    fold: int = 0
    threads: int = 1  # torch threads while training (spconv and small batches want 1)
    augment_passes: int = 0  # closed-form models: extra passes over the training windows with the augmentation on


def _json_cfg(cfg) -> dict:
    return dataclasses.asdict(cfg)


def _save_model(run: Path, model: torch.nn.Module, meta: dict) -> None:
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(run / "model.safetensors") as tmp:
        save_file(state, str(tmp))
    write_text_atomic(run / "model.json", json.dumps(meta, indent=1))


def _save_optimizer(run: Path, opt: torch.optim.Optimizer) -> None:
    sd = opt.state_dict()
    tensors, rest = {}, {"param_groups": sd["param_groups"], "state": {}}
    for idx, st in sd["state"].items():
        rest["state"][str(idx)] = {}
        for key, val in st.items():
            if torch.is_tensor(val):
                tensors[f"{idx}.{key}"] = val.detach().cpu().contiguous()
            else:
                rest["state"][str(idx)][key] = val
    with atomic_path(run / "optimizer.safetensors") as tmp:
        save_file(tensors, str(tmp))
    write_text_atomic(run / "optimizer.json", json.dumps(rest))


def _load_optimizer(run: Path, opt: torch.optim.Optimizer) -> None:
    rest = json.loads((run / "optimizer.json").read_text())
    tensors = load_file(str(run / "optimizer.safetensors"))
    state: dict[int, dict[str, Any]] = {int(i): dict(v) for i, v in rest["state"].items()}
    for name, val in tensors.items():
        idx, key = name.split(".", 1)
        state.setdefault(int(idx), {})[key] = val
    opt.load_state_dict({"state": state, "param_groups": rest["param_groups"]})


def load_run(path: str | Path) -> tuple[torch.nn.Module, dict, dict]:
    """(model with its last saved weights, run.json, model.json) from a run folder or its model.safetensors."""
    path = Path(path)
    run = path if path.is_dir() else path.parent
    if not (run / "run.json").is_file() or not (run / "model.safetensors").is_file():
        raise CheckpointError(f"{run}: not a finished run folder (needs run.json and model.safetensors); train with "
                              "`edgevision train classify`")
    info = json.loads((run / "run.json").read_text())
    model = build_model(info["model"], len(info["classes"]), info["model_config"])
    try:
        model.load_state_dict(load_file(str(run / "model.safetensors")))
    except (RuntimeError, KeyError) as exc:
        raise CheckpointError(f"{run / 'model.safetensors'}: does not match the model in run.json ({exc})") from None
    meta = json.loads((run / "model.json").read_text()) if (run / "model.json").is_file() else {}
    return model, info, meta


def to_device(batch, device: str | torch.device):
    """A model input (point tensor or :class:`~edgevision.nn.tensor.SparseTensor`: both have ``to``) on ``device``."""
    return batch.to(device)


def _device_of(model: torch.nn.Module) -> torch.device:
    first = next(iter(model.parameters()), None)
    if first is None:
        first = next(iter(model.buffers()), None)
    return first.device if first is not None else torch.device("cpu")


def predict(model: torch.nn.Module, windows: WindowSet, batch_size: int, seed: int = 0, progress: bool = False) -> np.ndarray:
    """Class scores [W, C] of every window (eval mode; point sampling seeded for repeatability), computed on the
    device the model is on."""
    rng = np.random.default_rng(seed)
    device = _device_of(model)
    model.eval()
    out = []
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), torch.no_grad():
        torch.manual_seed(seed)  # SpikePoint's Bernoulli rate coding draws from torch's generator
        for start in tqdm(range(0, len(windows), batch_size), desc="eval", disable=not progress, leave=False):
            idx = np.arange(start, min(start + batch_size, len(windows)))
            batch = to_device(make_batch(windows, idx, model.input_kind, model.cfg, rng), device)
            out.append(model.scores(model(batch)).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def accuracy(scores: np.ndarray, windows: WindowSet) -> dict[str, Any]:
    """Window accuracy and per-recording voted accuracy (majority of window predictions, ties broken by the
    summed normalized scores), plus the window-level confusion matrix."""
    labels = windows.labels
    pred = scores.argmax(1)
    recs = windows.windows[:, 0]
    uniq, inv = np.unique(recs, return_inverse=True)
    c = scores.shape[1]
    votes = np.zeros((len(uniq), c))
    np.add.at(votes, (inv, pred), 1.0)
    z = scores - scores.max(1, keepdims=True)
    prob = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    tie = np.zeros((len(uniq), c))
    np.add.at(tie, inv, prob)
    rec_pred = (votes + 1e-3 * tie / np.maximum(tie.sum(1, keepdims=True), 1e-9)).argmax(1)
    rec_label = windows.source.labels[uniq]
    confusion = np.zeros((c, c), np.int64)
    np.add.at(confusion, (labels, pred), 1)
    return {
        "window_acc": float((pred == labels).mean()) if len(labels) else 0.0,
        "recording_acc": float((rec_pred == rec_label).mean()) if len(uniq) else 0.0,
        "windows": int(len(labels)),
        "recordings": int(len(uniq)),
        "confusion": confusion.tolist(),
    }


def _plots(run: Path, rows: list[dict], confusion: np.ndarray, classes: list[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(9, 3.5))
    ep = [r["epoch"] for r in rows]
    ax[0].plot(ep, [r["train_loss"] for r in rows], marker="o")
    ax[0].set(xlabel="epoch", ylabel="train loss", title="loss")
    for key in ("train_acc", "test_window_acc", "test_recording_acc"):
        ax[1].plot(ep, [r[key] for r in rows], marker="o", label=key)
    ax[1].set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1), title="accuracy")
    ax[1].legend(fontsize=7)
    fig.tight_layout()
    _savefig(fig, run / "curves.png")
    fig, ax = plt.subplots(figsize=(6, 5))
    norm = confusion / np.maximum(confusion.sum(1, keepdims=True), 1)
    im = ax.imshow(norm, vmin=0, vmax=1, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=90, fontsize=6)
    ax.set_yticks(range(len(classes)), classes, fontsize=6)
    ax.set(xlabel="predicted", ylabel="true", title="test windows (row-normalized)")
    fig.colorbar(im)
    fig.tight_layout()
    _savefig(fig, run / "confusion.png")
    plt.close("all")


def _savefig(fig, path: Path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.getvalue())


def _write_log(run: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=LOG_FIELDS)
    w.writeheader()
    w.writerows(rows)
    write_text_atomic(run / "log.csv", buf.getvalue())


def _read_log(run: Path) -> list[dict]:
    if not (run / "log.csv").is_file():
        return []
    with open(run / "log.csv") as fh:
        return [{k: (int(v) if k == "epoch" else float(v)) for k, v in row.items()} for row in csv.DictReader(fh)]


def train_classifier(
    model_name: str,
    data: str,
    out: str | Path,
    *,
    settings: TrainSettings = TrainSettings(),
    model_overrides: dict[str, Any] | None = None,
    window: WindowConfig = WindowConfig(),
    resume: bool = False,
    source: Source | None = None,
    progress: bool = True,
    device: str = "cpu",
) -> dict[str, Any]:
    """Train ``model_name`` on the train split of ``data``, evaluating on the test split after every epoch.

    With ``resume`` the run continues after its last saved epoch (settings come from run.json); without it an
    existing run folder is an error. ``device`` (cpu, cuda, cuda:N) is where the model and its batches live; it is
    not part of the run's settings (a run may be resumed on another device). Returns the final metrics.
    """
    run = Path(out)
    if resume:
        if not (run / "run.json").is_file():
            raise CheckpointError(f"{run}: nothing to resume (no run.json); drop --resume to start a run")
        info = json.loads((run / "run.json").read_text())
        model_name, data = info["model"], info["data"]
        model_overrides, window = info["model_config"], WindowConfig(**info["window"])
        settings = TrainSettings(**{**info["train"], "epochs": settings.epochs if settings.epochs else info["train"]["epochs"]})
    elif (run / "run.json").exists():
        raise CheckpointError(f"{run}: already holds a run; pass --resume to continue it or choose another --out")
    world = join(device, settings.batch_size)  # under torchrun: this rank's place (gloo on CPU, NCCL on cuda:LOCAL_RANK)
    world.barrier()  # every rank has checked the folder before rank 0 writes into it
    src = source or open_source(data)
    if settings.folds:
        src = fold_source(src, settings.folds, settings.fold)
    cfg = model_config(model_name, model_overrides)
    threads = torch.get_num_threads()
    if settings.threads:
        torch.set_num_threads(settings.threads)
    try:
        return _train(model_name, data, run, settings, cfg, window, resume, src, progress and world.main, world)
    finally:
        torch.set_num_threads(threads)


def _train(model_name: str, data: str, run: Path, settings: TrainSettings, cfg, window: WindowConfig, resume: bool,
           src: Source, progress: bool, world: World = World()) -> dict[str, Any]:
    device = world.device
    torch.manual_seed(settings.seed)
    model = build_model(model_name, len(src.classes), dataclasses.asdict(cfg)).to(device)
    train_idx, test_idx = src.indices("train"), src.indices("test")
    if len(train_idx) == 0 or len(test_idx) == 0:
        raise DatasetError(f"{data}: empty train or test split ({len(train_idx)} / {len(test_idx)} recordings)")
    info = {
        "model": model_name,
        "data": data,
        "classes": src.classes,
        "sensor_size": list(src.sensor_size),
        "model_config": _json_cfg(cfg),
        "window": dataclasses.asdict(window),
        "train": dataclasses.asdict(settings),
    }
    if world.main:
        run.mkdir(parents=True, exist_ok=True)
        write_text_atomic(run / "run.json", json.dumps(info, indent=1))
    closed_form = getattr(model, "closed_form", False)
    if closed_form and not world.main:
        return {"run": str(run), "rank": world.rank, "world_size": world.size}  # one solve: rank 0 does it alone
    train_ws = WindowSet(src, train_idx, window, progress=progress)
    test_ws = WindowSet(src, test_idx, window, progress=progress) if world.main else None
    if closed_form:
        return _fit_closed_form(model, run, train_ws, test_ws, settings, src, progress, device)
    step_model: torch.nn.Module = model
    if world.size > 1:
        from torch.nn.parallel import DistributedDataParallel

        # BatchNorm over the global batch (the eye tracker's helper); DDP averages the gradients. Buffers are not
        # broadcast: the global BatchNorm keeps the running statistics equal on every rank, and the neurons'
        # membrane state of SpikePoint is per forward.
        step_model = DistributedDataParallel(
            globalize_batchnorm(model), device_ids=[torch.device(device).index] if device.startswith("cuda") else None,
            broadcast_buffers=False,
        )
    opt = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    rows: list[dict] = []
    start = 0
    if resume and (run / "model.safetensors").is_file():
        model.load_state_dict(load_file(str(run / "model.safetensors")))
        _load_optimizer(run, opt)
        start = int(json.loads((run / "model.json").read_text())["epoch"])
        rows = [r for r in _read_log(run) if r["epoch"] <= start]
    aug = Augment(settings.shift_px, settings.drop_events)
    metrics: dict[str, Any] = json.loads((run / "eval.json").read_text()) if start and (run / "eval.json").is_file() else {}
    kill_at, steps = int(os.environ.get("EDGEVISION_TEST_KILL_AT_STEP", 0)), 0  # test hook: SIGKILL after N steps
    bs = settings.batch_size
    rows_of_rank = world.share(bs)
    for epoch in range(start + 1, settings.epochs + 1):
        t0 = time.perf_counter()
        lr = settings.lr * 0.5 * (1 + math.cos(math.pi * (epoch - 1) / settings.epochs))
        for g in opt.param_groups:
            g["lr"] = lr
        # The epoch's order and every window's augmentation and point sample come from generators keyed by (seed,
        # epoch, batch, row): any number of processes (each taking its rows of every global batch) and a resumed
        # run draw exactly what one uninterrupted process draws.
        order = np.random.default_rng([settings.seed, epoch]).permutation(len(train_ws))
        if settings.max_train_windows:
            order = order[: settings.max_train_windows]
        model.train()
        # Sums stay on the device (no host sync per step, so the CPU builds the next batch while the GPU works).
        loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        correct = torch.zeros((), dtype=torch.float64, device=device)
        seen = 0
        n_batches = max(1, len(order) // bs)  # drop the ragged last batch (BatchNorm needs >= 2 samples)
        for b in tqdm(range(n_batches), desc=f"epoch {epoch}/{settings.epochs}", disable=not progress, leave=False):
            mine = np.arange(bs)[rows_of_rank]
            idx = order[b * bs : (b + 1) * bs][mine]
            rngs = [np.random.default_rng([settings.seed, epoch, b, int(r)]) for r in mine]
            batch = to_device(make_batch(train_ws, idx, model.input_kind, model.cfg, None, aug, rngs=rngs), device)
            labels = torch.from_numpy(train_ws.labels[idx]).to(device)
            out_t = step_model(batch)
            loss = model.loss(out_t, labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
            steps += 1
            if steps == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            loss_sum += loss.detach().double()
            correct += (model.scores(out_t.detach()).argmax(1) == labels).sum().double()
            seen += len(idx)
        totals = world.sum(torch.stack([loss_sum, correct, correct.new_tensor(float(seen))])).cpu()
        if not world.main:
            world.barrier()  # rank 0 evaluates and writes the epoch's files
            continue
        metrics = accuracy(predict(model, test_ws, bs * 2, progress=progress), test_ws)
        rows.append(
            dict(
                epoch=epoch,
                lr=lr,
                train_loss=float(totals[0]) / world.size / n_batches,
                train_acc=float(totals[1]) / max(float(totals[2]), 1.0),
                test_window_acc=metrics["window_acc"],
                test_recording_acc=metrics["recording_acc"],
                seconds=time.perf_counter() - t0,
            )
        )
        _save_optimizer(run, opt)
        _save_model(run, model, {"epoch": epoch, **{k: v for k, v in rows[-1].items() if k != "epoch"}})
        _write_log(run, rows)
        write_text_atomic(run / "eval.json", json.dumps({"epoch": epoch, **metrics}))
        _plots(run, rows, np.asarray(metrics["confusion"]), src.classes)
        world.barrier()
    if not world.main:
        return {"run": str(run), "rank": world.rank, "world_size": world.size}
    return {**_summary(run, rows, metrics), "world_size": world.size}


def _fit_closed_form(model, run: Path, train_ws: WindowSet, test_ws: WindowSet, settings: TrainSettings, src: Source, progress: bool,
                     device: str = "cpu"):
    t0 = time.perf_counter()
    rng = np.random.default_rng(settings.seed)
    feats, labels = [], []
    aug = Augment(settings.shift_px, settings.drop_events)
    passes = 1 + (settings.augment_passes if aug.active else 0)
    with torch.no_grad():
        for p in range(passes):  # pass 0 sees the windows as they are, later passes augmented
            for start in tqdm(range(0, len(train_ws), settings.batch_size), desc=f"features {p + 1}/{passes}",
                              disable=not progress, leave=False):
                idx = np.arange(start, min(start + settings.batch_size, len(train_ws)))
                batch = make_batch(train_ws, idx, model.input_kind, model.cfg, rng, aug if p else None)
                feats.append(model.features(to_device(batch, device)))
                labels.append(torch.from_numpy(train_ws.labels[idx]).to(device))
        model.fit(torch.cat(feats), torch.cat(labels))
    train_scores = predict(model, train_ws, settings.batch_size * 2)
    metrics = accuracy(predict(model, test_ws, settings.batch_size * 2, progress=progress), test_ws)
    train_loss = float(model.loss(torch.from_numpy(train_scores), torch.from_numpy(train_ws.labels)))
    rows = [
        dict(
            epoch=1,
            lr=0.0,
            train_loss=train_loss,
            train_acc=float((train_scores.argmax(1) == train_ws.labels).mean()),
            test_window_acc=metrics["window_acc"],
            test_recording_acc=metrics["recording_acc"],
            seconds=time.perf_counter() - t0,
        )
    ]
    _save_model(run, model, {"epoch": 1, **rows[0]})
    _write_log(run, rows)
    write_text_atomic(run / "eval.json", json.dumps({"epoch": 1, **metrics}))
    _plots(run, rows, np.asarray(metrics["confusion"]), src.classes)
    return _summary(run, rows, metrics)


def _summary(run: Path, rows: list[dict], metrics: dict) -> dict[str, Any]:
    last = rows[-1] if rows else {}
    return {
        "run": str(run),
        "epochs_done": int(last.get("epoch", 0)),
        "train_loss": last.get("train_loss"),
        "test_window_acc": metrics.get("window_acc"),
        "test_recording_acc": metrics.get("recording_acc"),
        "test_windows": metrics.get("windows"),
        "test_recordings": metrics.get("recordings"),
    }


def run_source(info: dict, data: str | None = None) -> Source:
    """The source a run is evaluated on: ``data`` (default: the run's own). A cross-validation run on a source
    without official test recordings gets its own fold as the test part (so that "test" never holds a recording
    it trained on); with official test recordings (e.g. ``NMNIST/Test``) the test part is exactly those."""
    src = open_source(data or info["data"])
    train = info.get("train", {})
    if train.get("folds") and not (src.official_test is not None and src.official_test.any()):
        src = fold_source(src, int(train["folds"]), int(train.get("fold", 0)))
    return src


def evaluate_run(checkpoint: str | Path, data: str | None = None, part: str = "test", batch_size: int = 32,
                 device: str = "cpu") -> dict[str, Any]:
    """Window and per-recording accuracy of a saved run on ``part`` of ``data`` (default: the run's data), computed
    on ``device``."""
    model, info, meta = load_run(checkpoint)
    model.to(device)
    src = run_source(info, data)
    if list(src.classes) != list(info["classes"]):
        raise ConfigError(f"{data}: classes {src.classes} differ from the run's {info['classes']}")
    idx = src.indices(part)
    if len(idx) == 0:
        raise DatasetError(f"{data or info['data']}: no {part} recordings")
    ws = WindowSet(src, idx, WindowConfig(**info["window"]), progress=False)
    metrics = accuracy(predict(model, ws, batch_size), ws)
    return {"model": info["model"], "data": data or info["data"], "part": part, "epoch": meta.get("epoch"), **metrics}
