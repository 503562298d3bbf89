"""Events -> per-label-slot token slices -> batched :class:`SparseTensor` for the eye tracker."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from edgevision.datasets.threeet import label_windows
from edgevision.events.tokens import Tokens, histogram_tokens
from edgevision.nn.config import InputConfig
from edgevision.nn.tensor import SparseTensor


def slice_tokens(
    events: np.ndarray,
    sensor_size: tuple[int, int],
    cfg: InputConfig,
    n_slices: int | None = None,
    t_start: int | None = None,
) -> list[Tokens]:
    """Tokens of label slot i: the events in ``[t0 + i * slice_us, t0 + (i + 1) * slice_us)``.

    ``t0`` defaults to the first event's timestamp (the 3ET+ challenge convention, see
    :func:`edgevision.datasets.threeet.label_windows`); ``n_slices`` to the number of slots the events span.
    Each slot is binned with :func:`histogram_tokens` into ``cfg.time_bins`` equal sub-windows.
    """
    t = events["t"]
    t0 = (int(t[0]) if t.size else 0) if t_start is None else int(t_start)
    if n_slices is None:
        n_slices = int((int(t[-1]) - t0) // cfg.slice_us + 1) if t.size else 0
    cut = label_windows(events, n_slices, cfg.slice_us, t0)
    return [
        histogram_tokens(
            events[a:b],
            sensor_size,
            factor=cfg.downsample,
            time_bins=cfg.time_bins,
            t_start=t0 + i * cfg.slice_us,
            t_end=t0 + (i + 1) * cfg.slice_us,
        )
        for i, (a, b) in enumerate(cut)
    ]


def collate_tokens(
    tokens: Sequence[Tokens], input_clip: float | None = None, device: torch.device | str | None = None
) -> SparseTensor:
    """Stack windows into one :class:`SparseTensor` (window i -> batch index i), features min(count, clip)."""
    if not tokens:
        raise ValueError("collate_tokens needs at least one window")
    shape = tuple(tokens[0].shape)
    if any(tuple(tk.shape) != shape for tk in tokens):
        raise ValueError(f"collate_tokens: windows on different grids {sorted({tuple(tk.shape) for tk in tokens})}")
    feats = [tk.feats if input_clip is None else np.minimum(tk.feats, input_clip) for tk in tokens]
    return SparseTensor.from_windows([(tk.coords, f) for tk, f in zip(tokens, feats)], shape, device=device)
