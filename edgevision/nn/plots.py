"""PNG plots of a training run: loss and metric curves, error CDF, predicted vs true trajectory."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgevision.atomic import atomic_path
from edgevision.nn.config import EyeConfig
from edgevision.nn.eye_data import RecordingSlices
from edgevision.nn.metrics import distances_80x60


def _save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def plot_run(out: Path, history: list[dict], val: list[RecordingSlices], preds: list[np.ndarray], cfg: EyeConfig) -> list[Path]:
    """Write ``curves.png``, ``error_cdf.png`` and ``trajectory.png`` into ``out``; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = [r["epoch"] for r in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    a.plot(ep, [r["train_loss"] for r in history], label="train loss")
    a.set_xlabel("epoch"), a.set_yscale("log"), a.legend()
    for k in ("p1", "p3", "p5", "p10"):
        b.plot(ep, [r[f"val_{k}"] for r in history], label=f"val {k}")
    b2 = b.twinx()
    b2.plot(ep, [r["val_mean_distance"] for r in history], "k--", label="val mean distance (px)")
    b.set_xlabel("epoch"), b.set_ylabel("fraction"), b2.set_ylabel("px (80x60)")
    b.legend(loc="center right", fontsize=8), b2.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    paths = [out / "curves.png"]
    _save(fig, paths[0])

    d = np.concatenate([distances_80x60(p[:, :2], r.labels[:, :2], cfg.sensor_size)[r.labels[:, 2] < 0.5] for p, r in zip(preds, val)])
    fig, ax = plt.subplots(figsize=(5, 3.8))
    ax.plot(np.sort(d), np.arange(1, d.size + 1) / max(d.size, 1))
    for k in (1, 3, 5, 10):
        ax.axvline(k, color="grey", lw=0.5)
    ax.set_xscale("log"), ax.set_xlabel("error (px, 80x60)"), ax.set_ylabel("fraction of open frames")
    ax.set_title(f"validation error CDF, mean {d.mean():.2f} px")
    fig.tight_layout()
    paths.append(out / "error_cdf.png")
    _save(fig, paths[-1])

    rec, p = val[0], preds[0]
    n = min(rec.n, 1000)
    t = np.arange(n) * cfg.input.slice_us / 1e6
    fig, axes = plt.subplots(3, 1, figsize=(10, 6), sharex=True)
    for ax, j, name in zip(axes, (0, 1), ("x (px)", "y (px)")):
        ax.plot(t, rec.labels[:n, j], label="true"), ax.plot(t, p[:n, j], label="predicted", alpha=0.8)
        ax.set_ylabel(name)
    axes[0].legend(fontsize=8)
    axes[2].plot(t, rec.labels[:n, 2], label="closed (true)"), axes[2].plot(t, p[:n, 2], label="closed prob.")
    axes[2].set_xlabel("s"), axes[2].legend(fontsize=8)
    axes[0].set_title(f"{rec.name}: predicted vs true pupil centre (sensor px)")
    fig.tight_layout()
    paths.append(out / "trajectory.png")
    _save(fig, paths[-1])
    return paths
