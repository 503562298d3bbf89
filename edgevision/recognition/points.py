"""Event windows as point clouds, farthest point sampling and kNN grouping (vectorized torch)."""

from __future__ import annotations

import numpy as np
import torch


def sample_points(
    events: np.ndarray,
    sensor_size: tuple[int, int],
    num_points: int,
    t_start: int,
    t_end: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """``num_points`` rows ``(x / W, y / H, (t - t_start) / (t_end - t_start))`` in [0, 1], float32.

    Polarity is dropped (as in SpikePoint). Points are drawn without replacement when the window has
    enough events, with replacement otherwise; an empty window gives all-zero points. Rows are sorted by time.
    """
    n = events.shape[0]
    if n == 0:
        return np.zeros((num_points, 3), np.float32)
    idx = rng.choice(n, num_points, replace=n < num_points)
    idx.sort()
    sel = events[idx]
    w, h = sensor_size
    span = max(int(t_end) - int(t_start), 1)
    return np.stack(
        [
            sel["x"].astype(np.float32) / max(w - 1, 1),
            sel["y"].astype(np.float32) / max(h - 1, 1),
            np.clip((sel["t"] - t_start).astype(np.float32) / span, 0.0, 1.0),
        ],
        axis=1,
    )


def farthest_point_sampling(points: torch.Tensor, num_samples: int) -> torch.Tensor:
    """Indices [B, num_samples] of farthest point sampling over ``points`` [B, N, D], starting at point 0.

    Iterates over the samples (not the points); each step is one batched distance update.
    """
    b, n, _ = points.shape
    idx = torch.zeros(b, num_samples, dtype=torch.long, device=points.device)
    dist = torch.full((b, n), float("inf"), device=points.device, dtype=points.dtype)
    batch = torch.arange(b, device=points.device)
    last = torch.zeros(b, dtype=torch.long, device=points.device)
    for i in range(num_samples):
        idx[:, i] = last
        d = ((points - points[batch, last].unsqueeze(1)) ** 2).sum(-1)
        dist = torch.minimum(dist, d)
        last = dist.argmax(-1)
    return idx


def knn(points: torch.Tensor, centroids: torch.Tensor, k: int) -> torch.Tensor:
    """Indices [B, M, k] of the ``k`` nearest ``points`` [B, N, D] to each of ``centroids`` [B, M, D],
    nearest first (a centroid drawn from ``points`` is its own first neighbour)."""
    d = torch.cdist(centroids, points)
    return d.topk(k, dim=-1, largest=False, sorted=True).indices


def gather(points: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``points`` [B, N, C] indexed by ``idx`` [B, ...] -> [B, ..., C]."""
    b = points.shape[0]
    flat = idx.reshape(b, -1)
    out = torch.gather(points, 1, flat.unsqueeze(-1).expand(-1, -1, points.shape[-1]))
    return out.reshape(*idx.shape, points.shape[-1])


def group(points: torch.Tensor, num_groups: int, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """FPS ``num_groups`` centroids then kNN: returns (centroids [B, M, D], neighbours [B, M, k, D])."""
    cidx = farthest_point_sampling(points, num_groups)
    centroids = gather(points, cidx)
    return centroids, gather(points, knn(points, centroids, k))
