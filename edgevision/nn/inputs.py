"""Events -> per-label-slot token slices -> batched :class:`SparseTensor` for the eye tracker."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from edgevision.events.tokens import Tokens, histogram_tokens
from edgevision.nn.config import InputConfig
from edgevision.nn.tensor import SparseTensor


def slice_tokens(
    events: np.ndarray,
    sensor_size: tuple[int, int],
    cfg: InputConfig,
    n_slices: int | None = None,
    t_start: int = 0,
) -> list[Tokens]:
    """Tokens of the consecutive windows ``[t_start + i * slice_us, t_start + (i + 1) * slice_us)``.

    Slot i is the slice that ends at label i's time + one period (3ET+ labels are at 100 Hz from t = 0).
    ``n_slices`` defaults to the number of slices the events span. Events are split by one
    ``searchsorted``; each slice is binned with :func:`histogram_tokens`.
    """
    t = events["t"]
    if n_slices is None:
        n_slices = int((int(t[-1]) - t_start) // cfg.slice_us + 1) if t.size else 0
    edges = t_start + cfg.slice_us * np.arange(n_slices + 1, dtype=np.int64)
    cut = np.searchsorted(t, edges, side="left")
    return [
        histogram_tokens(
            events[cut[i] : cut[i + 1]],
            sensor_size,
            factor=cfg.downsample,
            time_bins=cfg.time_bins,
            t_start=int(edges[i]),
            t_end=int(edges[i + 1]),
        )
        for i in range(n_slices)
    ]


def collate_tokens(
    tokens: Sequence[Tokens], input_clip: float | None = None, device: torch.device | str | None = None
) -> SparseTensor:
    """Stack windows into one :class:`SparseTensor` (window i -> batch index i), features min(count, clip)."""
    if not tokens:
        raise ValueError("collate_tokens needs at least one window")
    shape = tuple(tokens[0].shape)
    counts = np.array([tk.coords.shape[0] for tk in tokens])
    coords = np.concatenate([tk.coords for tk in tokens]).astype(np.int32)
    feats = np.concatenate([tk.feats for tk in tokens]).astype(np.float32)
    if input_clip is not None:
        np.minimum(feats, input_clip, out=feats)
    batch = np.repeat(np.arange(len(tokens), dtype=np.int32), counts)
    full = np.ascontiguousarray(np.column_stack([batch, coords]))
    return SparseTensor(
        torch.from_numpy(feats).to(device),
        torch.from_numpy(full).to(device),
        (int(shape[0]), int(shape[1])),
        len(tokens),
    )
