"""Event-based eye-tracking challenge metrics (3ET+, AIS 2024), computed in the 80x60 pixel space.

Predictions and labels are in sensor pixels; both are scaled by ``(80 / W, 60 / H)`` and the Euclidean distance
is taken there. ``p{k}`` is the fraction of open-eye frames (label closed == 0) with distance < k px;
``mean_distance`` is the mean distance over the same open-eye frames.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

METRIC_SPACE = (80, 60)  # (width, height) of the challenge's pixel space
P_THRESHOLDS = (1, 3, 5, 10)


def distances_80x60(pred_xy: np.ndarray, true_xy: np.ndarray, sensor_size: tuple[int, int]) -> np.ndarray:
    """Euclidean distances [N] in the 80x60 space between sensor-pixel points [N, 2] (x, y)."""
    scale = np.array([METRIC_SPACE[0] / sensor_size[0], METRIC_SPACE[1] / sensor_size[1]], dtype=np.float64)
    diff = (np.asarray(pred_xy, np.float64) - np.asarray(true_xy, np.float64)) * scale
    return np.sqrt((diff**2).sum(axis=1))


def summarize(dist: np.ndarray, closed: np.ndarray) -> dict[str, float | int]:
    """p1/p3/p5/p10 and mean distance over the open frames (``closed == 0``); ``windows`` counts them."""
    open_d = dist[np.asarray(closed) == 0]
    out: dict[str, float | int] = {f"p{k}": float((open_d < k).mean()) if open_d.size else float("nan") for k in P_THRESHOLDS}
    out["mean_distance"] = float(open_d.mean()) if open_d.size else float("nan")
    out["windows"] = int(open_d.size)
    return out


def eye_metrics(
    pred_xy: np.ndarray,
    labels: np.ndarray,
    sensor_size: tuple[int, int],
    recordings: Sequence[str] | np.ndarray | None = None,
    closed_prob: np.ndarray | None = None,
) -> dict:
    """Challenge metrics for predictions [N, 2] (sensor px) against labels [N, 3] (x, y, closed).

    With ``recordings`` (one name per frame) adds ``per_recording``; with ``closed_prob`` adds the eye-closed
    accuracy at 0.5.
    """
    labels = np.asarray(labels)
    dist = distances_80x60(pred_xy, labels[:, :2], sensor_size)
    closed = labels[:, 2] > 0.5
    out: dict = summarize(dist, closed)
    out["frames"] = int(labels.shape[0])
    if closed_prob is not None:
        out["closed_accuracy"] = float(((np.asarray(closed_prob) > 0.5) == closed).mean())
    if recordings is not None:
        rec = np.asarray(recordings)
        out["per_recording"] = {str(name): summarize(dist[rec == name], closed[rec == name]) for name in np.unique(rec)}
    return out
