"""Event slice -> sparse tokens: integer (y, x) coordinates of active sites plus per-site features.

This is the input representation of every sparse network in edgevision (torch, NumPy integer
reference, compiled engine and FPGA). Channel ``c = bin * 2 + p``: per time bin, OFF then ON counts.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Tokens(NamedTuple):
    """Active sites of one window in raster order (y major, then x)."""

    coords: np.ndarray  # int32 [N, 2] rows (y, x), sorted raster order, unique
    feats: np.ndarray  # float32 [N, C] event counts
    shape: tuple[int, int]  # (H, W) of the grid the coordinates live on


def histogram_tokens(
    events: np.ndarray,
    sensor_size: tuple[int, int],
    *,
    factor: int = 1,
    time_bins: int = 1,
    t_start: int | None = None,
    t_end: int | None = None,
) -> Tokens:
    """Count events per (downsampled pixel, time bin, polarity) and keep the non-empty pixels.

    ``sensor_size`` is ``(width, height)``; the grid is ``(ceil(H / factor), ceil(W / factor))``.
    Time bins split ``[t_start, t_end)`` (defaults: first and last event) into equal parts.
    Vectorized: one ``bincount`` over the events, no Python loop.
    """
    if factor < 1 or time_bins < 1:
        raise ValueError(f"factor and time_bins must be >= 1, got {factor}, {time_bins}")
    w, h = int(sensor_size[0]), int(sensor_size[1])
    gh, gw = -(-h // factor), -(-w // factor)
    channels = 2 * time_bins
    if events.shape[0] == 0:
        return Tokens(np.zeros((0, 2), np.int32), np.zeros((0, channels), np.float32), (gh, gw))
    x = events["x"].astype(np.int64) // factor
    y = events["y"].astype(np.int64) // factor
    cell = y * gw + x
    ch = events["p"].astype(np.int64)
    if time_bins > 1:
        t = events["t"]
        t0 = int(t[0]) if t_start is None else int(t_start)
        t1 = int(t[-1]) + 1 if t_end is None else int(t_end)
        span = max(t1 - t0, 1)
        b = np.clip((t - t0) * time_bins // span, 0, time_bins - 1)
        ch = ch + 2 * b
    counts = np.bincount(cell * channels + ch, minlength=gh * gw * channels).reshape(gh * gw, channels)
    active = np.flatnonzero(counts.any(axis=1))
    coords = np.stack([active // gw, active % gw], axis=1).astype(np.int32)
    return Tokens(coords, counts[active].astype(np.float32), (gh, gw))


def tokens_to_dense(tokens: Tokens) -> np.ndarray:
    """Scatter tokens into a dense ``[C, H, W]`` float32 array (zeros at inactive sites)."""
    h, w = tokens.shape
    out = np.zeros((tokens.feats.shape[1], h, w), np.float32)
    out[:, tokens.coords[:, 0], tokens.coords[:, 1]] = tokens.feats.T
    return out
