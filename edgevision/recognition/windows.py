"""Recordings -> fixed-length windows -> model inputs (point clouds or sparse tokens), batched for torch."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from edgevision.events.tokens import histogram_tokens
from edgevision.nn.inputs import collate_tokens
from edgevision.recognition.points import sample_points
from edgevision.recognition.recordings import Source


@dataclass
class WindowConfig:
    window_us: int = 500_000
    step_us: int = 250_000


class WindowSet:
    """All windows of the recordings ``indices`` of ``source``: ``windows`` rows (recording, t0, t1).

    Windows never mix recordings; a recording shorter than one window gives one window over all of it.
    Recordings are kept in a small LRU cache so consecutive windows of one recording read it once.
    """

    def __init__(self, source: Source, indices: np.ndarray, cfg: WindowConfig, cache: int = 64, progress: bool = True):
        self.source, self.cfg = source, cfg
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_size = cache
        rows = []
        for r in tqdm(indices, desc=f"windows {source.name}", disable=not progress, leave=False):
            ev = self.events(int(r))
            t_first = int(ev["t"][0]) if len(ev) else 0
            t_last = int(ev["t"][-1]) + 1 if len(ev) else 1
            n = max(1, 1 + (t_last - t_first - cfg.window_us) // cfg.step_us)
            starts = t_first + np.arange(n, dtype=np.int64) * cfg.step_us
            ends = np.minimum(starts + cfg.window_us, max(t_last, t_first + 1)) if n == 1 else starts + cfg.window_us
            rows.append(np.stack([np.full(n, r, np.int64), starts, ends], axis=1))
        self.windows = np.concatenate(rows) if rows else np.zeros((0, 3), np.int64)
        self.labels = source.labels[self.windows[:, 0]] if len(self.windows) else np.zeros(0, np.int64)

    def __len__(self) -> int:
        return len(self.windows)

    def events(self, recording: int) -> np.ndarray:
        if recording in self._cache:
            self._cache.move_to_end(recording)
            return self._cache[recording]
        ev = self.source.load(recording)
        self._cache[recording] = ev
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return ev

    def window_events(self, i: int) -> tuple[np.ndarray, int, int]:
        r, t0, t1 = (int(v) for v in self.windows[i])
        ev = self.events(r)
        lo, hi = np.searchsorted(ev["t"], [t0, t1])
        return ev[lo:hi], t0, t1


@dataclass
class Augment:
    """Training-time augmentation of one window's events: a random translation of up to ``shift_px`` pixels in x
    and y (same for every event; events pushed off the sensor are dropped) and the removal of a random fraction,
    drawn uniformly in ``[0, drop_events]``, of the events."""

    shift_px: int = 0
    drop_events: float = 0.0

    @property
    def active(self) -> bool:
        return self.shift_px > 0 or self.drop_events > 0


def augment_events(events: np.ndarray, sensor_size: tuple[int, int], aug: Augment, rng: np.random.Generator) -> np.ndarray:
    """A new (time-sorted) event array: ``events`` shifted and thinned as ``aug`` says (vectorized)."""
    keep = np.ones(len(events), bool)
    if aug.drop_events > 0:
        keep &= rng.random(len(events)) >= rng.uniform(0.0, aug.drop_events)
    w, h = sensor_size
    x = events["x"].astype(np.int64)
    y = events["y"].astype(np.int64)
    if aug.shift_px > 0:
        dx, dy = rng.integers(-aug.shift_px, aug.shift_px + 1, 2)
        x, y = x + dx, y + dy
        keep &= (x >= 0) & (x < w) & (y >= 0) & (y < h)
    out = events[keep].copy()
    out["x"], out["y"] = x[keep], y[keep]
    return out


def make_batch(windows: WindowSet, idx: np.ndarray, kind: str, model_cfg, rng: np.random.Generator | None,
               augment: Augment | None = None, rngs: list[np.random.Generator] | None = None):
    """Inputs of the windows ``idx`` for a model of input ``kind`` ("points" or "tokens"); ``augment`` (training
    only) transforms each window's events first. Random draws come from ``rng``, or with ``rngs`` from one
    generator per window (``rngs[j]`` for ``idx[j]``: a window then draws the same whatever batch it is in)."""
    sensor = windows.source.sensor_size
    aug = augment if augment is not None and augment.active else None
    gens = rngs if rngs is not None else [rng] * len(idx)
    if len(gens) != len(idx):
        raise ValueError(f"make_batch: {len(gens)} generators for {len(idx)} windows")

    def events(i: int, g: np.random.Generator):
        ev, t0, t1 = windows.window_events(int(i))
        return (augment_events(ev, sensor, aug, g) if aug else ev), t0, t1

    if kind == "points":
        pts = []
        for i, g in zip(idx, gens):
            ev, t0, t1 = events(i, g)
            pts.append(sample_points(ev, sensor, model_cfg.num_points, t0, t1, g))
        return torch.from_numpy(np.stack(pts))
    toks = []
    for i, g in zip(idx, gens):
        ev, t0, t1 = events(i, g)
        toks.append(
            histogram_tokens(ev, sensor, factor=model_cfg.downsample, time_bins=model_cfg.time_bins, t_start=t0, t_end=t1)
        )
    return collate_tokens(toks, model_cfg.input_clip)
