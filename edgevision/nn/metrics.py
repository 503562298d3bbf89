"""Event-based eye-tracking challenge metrics (3ET+, AIS 2024), computed in the 80x60 pixel space.

Predictions and labels are in sensor pixels; both are scaled by ``(80 / W, 60 / H)`` and the Euclidean distance
is taken there. ``p{k}`` is the fraction of open-eye frames (label closed == 0) with distance < k px;
``mean_distance`` is the mean distance over the same open-eye frames.

Beyond the challenge: ``offset_dx`` / ``offset_dy`` (mean signed error, prediction - label, over open frames),
``jitter`` (smoothness, see :func:`jitter_80x60`) and ``phases``: the same figures per eye-movement phase, found
from the labels alone (:func:`label_phases`), so the breakdown does not depend on which generator made the data.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

METRIC_SPACE = (80, 60)  # (width, height) of the challenge's pixel space
P_THRESHOLDS = (1, 3, 5, 10)
LABEL_PERIOD_MS = 10.0  # 3ET+ labels are 100 Hz
SACCADE_SPEED = 0.3  # label speed (80x60 px per 10 ms) above which a frame is in a saccade
BLINK_MARGIN = 5  # frames within this many of a closed frame are "around a blink"
PHASES = ("fixation", "saccade", "blink")


def to_80x60(xy: np.ndarray, sensor_size: tuple[int, int]) -> np.ndarray:
    """Sensor-pixel points or differences [N, 2] (x, y) in the 80x60 space (float64)."""
    scale = np.array([METRIC_SPACE[0] / sensor_size[0], METRIC_SPACE[1] / sensor_size[1]], dtype=np.float64)
    return np.asarray(xy, np.float64) * scale


def errors_80x60(pred_xy: np.ndarray, true_xy: np.ndarray, sensor_size: tuple[int, int]) -> np.ndarray:
    """Signed errors [N, 2] (prediction - label, x and y) in the 80x60 space between sensor-pixel points [N, 2]."""
    return to_80x60(np.asarray(pred_xy, np.float64) - np.asarray(true_xy, np.float64), sensor_size)


def distances_80x60(pred_xy: np.ndarray, true_xy: np.ndarray, sensor_size: tuple[int, int]) -> np.ndarray:
    """Euclidean distances [N] in the 80x60 space between sensor-pixel points [N, 2] (x, y)."""
    return np.sqrt((errors_80x60(pred_xy, true_xy, sensor_size) ** 2).sum(axis=1))


def sequence_starts(n: int, recordings: Sequence[str] | np.ndarray | None = None) -> np.ndarray:
    """[n] bool, True where a new sequence begins: frame 0 and wherever the recording name changes."""
    start = np.zeros(n, dtype=bool)
    if n:
        start[0] = True
    if recordings is not None and n > 1:
        rec = np.asarray(recordings)
        start[1:] = rec[1:] != rec[:-1]
    return start


def label_phases(
    labels: np.ndarray,
    sensor_size: tuple[int, int],
    recordings: Sequence[str] | np.ndarray | None = None,
    saccade_speed: float = SACCADE_SPEED,
    blink_margin: int = BLINK_MARGIN,
    frame_ms: float = LABEL_PERIOD_MS,
) -> np.ndarray:
    """Phase of every frame [N] (index into :data:`PHASES`) from labels [N, 3] (x, y, closed) alone.

    ``blink``: within ``blink_margin`` frames of a closed frame of the same recording (closed frames included);
    else ``saccade``: the label moves faster than ``saccade_speed`` 80x60 px per 10 ms into or out of the frame
    (the larger of the two steps, scaled to ``frame_ms`` frames); else ``fixation`` (which includes slow drift).
    Frames are consecutive label slots; ``recordings`` (one name per frame) keeps steps inside each recording.
    """
    labels = np.asarray(labels, np.float64)
    n = labels.shape[0]
    start = sequence_starts(n, recordings)
    seg = np.cumsum(start) - 1
    g = to_80x60(labels[:, :2], sensor_size)
    step = np.zeros(n)  # step[i]: label speed from frame i-1 to i (0 at a sequence start)
    if n > 1:
        step[1:] = np.sqrt((np.diff(g, axis=0) ** 2).sum(axis=1))
    step[start] = 0.0
    speed = np.maximum(step, np.append(step[1:], 0.0))  # a step into a new sequence is already 0
    phase = np.where(speed > saccade_speed * frame_ms / LABEL_PERIOD_MS, 1, 0)
    closed = np.flatnonzero(labels[:, 2] > 0.5)
    if closed.size:
        near = np.zeros(n, dtype=bool)
        for d in range(-blink_margin, blink_margin + 1):
            j = closed + d
            ok = (j >= 0) & (j < n)
            j, c = j[ok], closed[ok]
            near[j[seg[j] == seg[c]]] = True
        phase[near] = 2
    return phase


def jitter_80x60(err: np.ndarray, frames: np.ndarray, recordings: Sequence[str] | np.ndarray | None = None) -> float:
    """Mean frame-to-frame change of the error vector, ``|e_t - e_(t-1)|`` in 80x60 px, over pairs of
    consecutive frames of one recording that are both selected by ``frames`` [N] (bool); NaN without a pair.

    With ``e = pred - label`` this is the prediction's frame-to-frame displacement minus the label's: a constant
    offset or a perfectly followed movement scores 0, a prediction that shakes while the eye is still scores its
    shake. A jitter metric for the CVPR 2025 event-based eye-tracking challenge comes from the runner-up team
    (Bandara, Kandappu, Misra: "Inference-Time Gaze Refinement ... Motion-Aware Post-Processing", arXiv:2506.12524;
    challenge survey arXiv:2504.18249), built from velocity regularity and local signal complexity of the predicted
    track; its exact formula was not available to us, so this is our own definition, referenced to the labels
    (docs/eye_shift.md).
    """
    err = np.asarray(err, np.float64)
    frames = np.asarray(frames, dtype=bool)
    start = sequence_starts(err.shape[0], recordings)
    pair = frames[1:] & frames[:-1] & ~start[1:]
    if not pair.any():
        return float("nan")
    return float(np.sqrt((np.diff(err, axis=0)[pair] ** 2).sum(axis=1)).mean())


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

    Frames are consecutive label slots of their recording (``recordings``: one name per frame; without it one
    sequence). Adds ``offset_dx``/``offset_dy``, ``jitter`` (over fixation frames) and ``phases`` (fixation,
    saccade, blink: p-metrics, mean distance, jitter, windows); with ``recordings`` also ``per_recording``; with
    ``closed_prob`` the eye-closed accuracy at 0.5.
    """
    labels = np.asarray(labels)
    err = errors_80x60(pred_xy, labels[:, :2], sensor_size)
    dist = np.sqrt((err**2).sum(axis=1))
    closed = labels[:, 2] > 0.5
    out: dict = summarize(dist, closed)
    open_err = err[~closed]
    out["offset_dx"] = float(open_err[:, 0].mean()) if open_err.size else float("nan")
    out["offset_dy"] = float(open_err[:, 1].mean()) if open_err.size else float("nan")
    phase = label_phases(labels, sensor_size, recordings)
    out["jitter"] = jitter_80x60(err, (phase == 0) & ~closed, recordings)
    out["phases"] = {
        name: {**summarize(dist, closed | (phase != k)), "jitter": jitter_80x60(err, (phase == k) & ~closed, recordings)}
        for k, name in enumerate(PHASES)
    }
    out["frames"] = int(labels.shape[0])
    if closed_prob is not None:
        out["closed_accuracy"] = float(((np.asarray(closed_prob) > 0.5) == closed).mean())
    if recordings is not None:
        rec = np.asarray(recordings)
        out["per_recording"] = {str(name): summarize(dist[rec == name], closed[rec == name]) for name in np.unique(rec)}
    return out
