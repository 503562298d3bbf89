"""Optional causal post-processing of the tracker's pupil track: a motion-aware median filter.

The filter keeps the raw predictions since the last detected movement (at most ``k``) and outputs their
per-axis median, which shakes less while the eye fixates. A prediction farther than ``threshold`` (80x60 px)
from the current output is taken as movement (a saccade): it passes through unchanged and the history restarts
there, so a step is followed at once instead of being delayed by up to ``k // 2`` frames. The output at frame t
uses only predictions up to t, so the filter can run in the real-time loop.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from edgevision.nn.metrics import to_80x60

FILTER_K = 5
FILTER_THRESHOLD = 1.0  # 80x60 px


class MotionMedianFilter:
    """Streaming filter: ``update(xy) -> xy`` per frame (sensor px); ``reset()`` between recordings."""

    def __init__(self, sensor_size: tuple[int, int], k: int = FILTER_K, threshold: float = FILTER_THRESHOLD) -> None:
        if k < 1 or threshold <= 0:
            raise ValueError(f"need k >= 1 and threshold > 0, got k={k}, threshold={threshold}")
        self.sensor_size = sensor_size
        self.threshold = float(threshold)
        self.history: deque[np.ndarray] = deque(maxlen=int(k))
        self.last: np.ndarray | None = None

    def reset(self) -> None:
        self.history.clear()
        self.last = None

    def update(self, xy: np.ndarray) -> np.ndarray:
        """The filtered position for the raw prediction ``xy`` [2] of the next frame."""
        xy = np.asarray(xy, np.float64)
        if self.last is not None and np.linalg.norm(to_80x60(xy - self.last, self.sensor_size)) > self.threshold:
            self.history.clear()  # movement: restart the history at the new position
        self.history.append(xy)
        self.last = np.median(np.stack(self.history), axis=0)
        return self.last


def motion_median_filter(
    pred_xy: np.ndarray,
    sensor_size: tuple[int, int],
    k: int = FILTER_K,
    threshold: float = FILTER_THRESHOLD,
) -> np.ndarray:
    """:class:`MotionMedianFilter` run over one recording's predictions [n, 2] (sensor px) -> [n, 2]."""
    f = MotionMedianFilter(sensor_size, k, threshold)
    pred_xy = np.asarray(pred_xy, np.float64)
    return np.stack([f.update(p) for p in pred_xy]) if len(pred_xy) else pred_xy.reshape(0, 2)
