"""Event-level augmentation of training sequences, with the labels moved exactly as the events move.

Per sequence (parameters from :class:`edgevision.nn.config.AugmentConfig`, drawn by :func:`draw_params`):

- spatial: horizontal flip, then a similarity transform about the sensor centre (scale, rotation, translation).
  Pixel centres sit at integer coordinates (the label convention), so a pixel ``(x, y)`` maps to
  ``A (x - c, y - c) + c + t`` and so does the label. Each event is spread uniformly over its source pixel
  before the transform, and the event count scales with ``scale**2`` (a camera closer to the eye sees each edge
  over more pixels with the same events per pixel), so zooming neither leaves holes nor changes the density;
- temporal: a time stretch ``k`` (output time = source time x k): the sequence's output slot j covers source time
  ``[j, j + 1) * slot / k`` and its label is the source trajectory at ``(j + 1) * slot / k``, interpolated;
- rates: a random fraction of events dropped, ON and OFF rates scaled independently (events dropped or copied);
- sensor noise: uniform background events and a few hot pixels, added in the output frame.

Everything runs as tensor ops on the training device over all events of a batch at once (no Python loop over
events). Each sequence has its own seed, drawn with its parameters from the epoch's NumPy generator: its random
numbers do not depend on which other sequences share its batch or process, so a resumed run and a run split
over several processes draw the same augmentations.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import torch

from edgevision.nn.config import AugmentConfig


@dataclass
class SequenceParams:
    """Augmentation parameters of B sequences (NumPy arrays [B] or [B, 2, 2] / [B, 2])."""

    flip: np.ndarray  # bool [B]
    affine: np.ndarray  # [B, 2, 2] scale x rotation
    shift: np.ndarray  # [B, 2] translation (x, y) in sensor pixels
    stretch: np.ndarray  # [B] output time / source time
    gain: np.ndarray  # [B, 2] expected copies per source event, (OFF, ON), scale**2 included
    noise_hz: np.ndarray  # [B]
    hot_pixels: np.ndarray  # int [B]
    hot_rate_hz: np.ndarray  # [B]
    seed: np.ndarray  # int64 [B], the sequence's random stream

    def take(self, rows: slice) -> "SequenceParams":
        """The parameters of sequences ``rows`` (one process's share of a batch)."""
        return SequenceParams(*(getattr(self, f.name)[rows] for f in dataclasses.fields(self)))

    @property
    def identity(self) -> bool:
        """True when every sequence keeps its events as recorded."""
        eye = np.broadcast_to(np.eye(2), self.affine.shape)
        return bool(
            not self.flip.any() and np.array_equal(self.affine, eye) and not self.shift.any()
            and (self.stretch == 1).all() and (self.gain == 1).all() and not self.noise_hz.any()
            and not self.hot_pixels.any()
        )


def _log_uniform(rng: np.random.Generator, lo_hi: list[float], n: int) -> np.ndarray:
    lo, hi = lo_hi
    return np.exp(rng.uniform(math.log(lo), math.log(hi), n)) if hi > lo else np.full(n, lo)


def draw_params(cfg: AugmentConfig, n: int, rng: np.random.Generator) -> SequenceParams:
    """Parameters of ``n`` sequences; the identity for every sequence when ``cfg.enabled`` is false."""
    if not cfg.enabled:
        return identity_params(n)
    flip = rng.random(n) < cfg.flip
    scale = _log_uniform(rng, cfg.scale, n)
    theta = np.radians(rng.uniform(-cfg.rotate_deg, cfg.rotate_deg, n))
    c, s = np.cos(theta), np.sin(theta)
    affine = scale[:, None, None] * np.stack([np.stack([c, -s], 1), np.stack([s, c], 1)], 1)
    shift = rng.uniform(-cfg.translate_px, cfg.translate_px, (n, 2))
    stretch = _log_uniform(rng, cfg.time_stretch, n)
    keep = 1.0 - rng.uniform(cfg.drop[0], cfg.drop[1], n)
    pol = np.stack([_log_uniform(rng, cfg.polarity_gain, n), _log_uniform(rng, cfg.polarity_gain, n)], 1)
    gain = pol * (keep * scale**2)[:, None]
    noise = rng.uniform(cfg.noise_hz[0], cfg.noise_hz[1], n)
    hot = rng.integers(0, cfg.hot_pixels + 1, n)
    hot_rate = rng.uniform(cfg.hot_rate_hz[0], cfg.hot_rate_hz[1], n)
    return SequenceParams(flip, affine, shift, stretch, gain, noise, hot, hot_rate, rng.integers(0, 2**62, n))


def identity_params(n: int) -> SequenceParams:
    """Parameters that leave ``n`` sequences unchanged."""
    return SequenceParams(
        np.zeros(n, bool), np.broadcast_to(np.eye(2), (n, 2, 2)).copy(), np.zeros((n, 2)), np.ones(n),
        np.ones((n, 2)), np.zeros(n), np.zeros(n, np.int64), np.zeros(n), np.zeros(n, np.int64),
    )


def source_slots(seq_len: int, min_stretch: float) -> int:
    """Label slots a sequence must read so that every stretch >= ``min_stretch`` fills ``seq_len`` output slots."""
    return int(math.ceil(seq_len / min_stretch)) + 1


def transform_labels(
    labels: np.ndarray, params: SequenceParams, seq_len: int, sensor_size: tuple[int, int]
) -> np.ndarray:
    """Source labels [B, S, 3] (slot i's label at the end of slot i) -> output labels [B, seq_len, 3].

    Output label j is the source trajectory at ``(j + 1) / stretch - 1`` slots (linear interpolation of x, y;
    the nearer source label's closed flag), then flipped and transformed like the events. With a stretch of 1
    the labels are the source labels exactly."""
    b, s = labels.shape[:2]
    f = np.minimum((np.arange(1, seq_len + 1)[None] / params.stretch[:, None]) - 1.0, s - 1.0)  # [B, T]
    # Linear between the two source labels around f; before the first label (stretch > 1 puts the first output
    # label less than a slot into the sequence) the first two are extrapolated.
    i0 = np.clip(np.floor(f).astype(np.int64), 0, max(s - 2, 0))
    i1 = np.minimum(i0 + 1, s - 1)
    w = (f - i0)[..., None]
    rows = np.arange(b)[:, None]
    xy = labels[rows, i0, :2] * (1 - w) + labels[rows, i1, :2] * w
    closed = labels[rows, np.where(w[..., 0] < 0.5, i0, i1), 2]
    xy = _apply_affine_np(xy, params, sensor_size)
    return np.concatenate([xy, closed[..., None]], axis=2).astype(np.float32)


def _centre(sensor_size: tuple[int, int]) -> np.ndarray:
    return np.array([(sensor_size[0] - 1) / 2.0, (sensor_size[1] - 1) / 2.0])


def _apply_affine_np(xy: np.ndarray, params: SequenceParams, sensor_size: tuple[int, int]) -> np.ndarray:
    """Flip then similarity transform of points [B, T, 2] (sensor pixels)."""
    xy = xy.copy()
    xy[..., 0] = np.where(params.flip[:, None], sensor_size[0] - 1 - xy[..., 0], xy[..., 0])
    c = _centre(sensor_size)
    return np.einsum("bij,btj->bti", params.affine, xy - c) + c + params.shift[:, None]


@dataclass
class EventTensors:
    """Events of a batch as flat device tensors: sequence index, position, output slot, time bin, polarity."""

    seq: torch.Tensor  # int64 [E]
    x: torch.Tensor  # int64
    y: torch.Tensor  # int64
    slot: torch.Tensor  # int64, output slot within the sequence
    tbin: torch.Tensor  # int64, time bin within the slot
    p: torch.Tensor  # int64 0/1


def augment_events(
    seq: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    tau: torch.Tensor,
    p: torch.Tensor,
    params: SequenceParams,
    seq_len: int,
    slot_us: int,
    time_bins: int,
    sensor_size: tuple[int, int],
) -> EventTensors:
    """Augment source events (grouped by sequence, ``tau``: µs since the sequence's first slot) -> output-frame
    events. With identity parameters the result is exactly the recorded events binned as
    :func:`edgevision.events.tokens.histogram_tokens` bins them (integer arithmetic, nothing random)."""
    dev = x.device
    w_px = sensor_size[0]
    seq, x, y, tau, p = seq.long(), x.long(), y.long(), tau.long(), p.long()
    if params.identity:
        return _to_slots(EventTensors(seq, x, y, tau, tau, p), seq_len, slot_us, time_bins, sensor_size)
    streams = [torch.Generator(dev).manual_seed(int(v)) for v in params.seed]
    # Rates: copies per event = floor(g) + Bernoulli(frac(g)), per sequence and polarity.
    g = torch.as_tensor(params.gain, dtype=torch.float32, device=dev)[seq, p]
    copies = torch.floor(g) + (_uniform(seq, streams) < g - torch.floor(g)).float()
    idx = torch.repeat_interleave(torch.arange(seq.shape[0], device=dev), copies.long())
    seq, x, y, tau, p = seq[idx], x[idx], y[idx], tau[idx], p[idx]
    # Space: spread over the source pixel, flip, similarity transform, round to the nearest pixel centre.
    xf = x.float() + _uniform(seq, streams) - 0.5
    yf = y.float() + _uniform(seq, streams) - 0.5
    flip = torch.as_tensor(params.flip, device=dev)[seq]
    xf = torch.where(flip, (w_px - 1) - xf, xf)
    c = _centre(sensor_size)
    a = torch.as_tensor(params.affine, dtype=torch.float32, device=dev)[seq]  # [E, 2, 2]
    t = torch.as_tensor(params.shift, dtype=torch.float32, device=dev)[seq]
    dx, dy = xf - float(c[0]), yf - float(c[1])
    x = torch.round(a[:, 0, 0] * dx + a[:, 0, 1] * dy + float(c[0]) + t[:, 0]).long()
    y = torch.round(a[:, 1, 0] * dx + a[:, 1, 1] * dy + float(c[1]) + t[:, 1]).long()
    # Time: output time = source time x stretch (exact integers when the stretch is 1).
    k = torch.as_tensor(params.stretch, dtype=torch.float64, device=dev)[seq]
    tau = torch.floor(tau.double() * k).long()
    ev = EventTensors(seq, x, y, tau, tau, p)
    ev = _cat(ev, _noise_events(params, seq_len * slot_us, sensor_size, dev))
    return _to_slots(ev, seq_len, slot_us, time_bins, sensor_size)


def _uniform(seq: torch.Tensor, streams: list[torch.Generator]) -> torch.Tensor:
    """One U(0, 1) number per element of ``seq`` (sorted by sequence), from its sequence's stream."""
    counts = torch.bincount(seq, minlength=len(streams)).tolist()
    return torch.cat([torch.rand(n, generator=g, device=seq.device) for n, g in zip(counts, streams)])


def _noise_events(params: SequenceParams, span_us: int, sensor_size: tuple[int, int], dev: torch.device) -> EventTensors:
    """Background events (uniform in space and time) and hot pixels (fixed pixel, Poisson times), per sequence,
    from a NumPy stream of the sequence's seed (independent of its event stream)."""
    w_px, h_px = sensor_size
    span_s = span_us * 1e-6
    parts = []
    for b in range(len(params.seed)):
        rng = np.random.default_rng([int(params.seed[b]), 1])
        n_bg = int(rng.poisson(params.noise_hz[b] * w_px * h_px * span_s))
        hot_xy = np.stack([rng.integers(0, w_px, params.hot_pixels[b]), rng.integers(0, h_px, params.hot_pixels[b])], 1)
        hot_n = rng.poisson(params.hot_rate_hz[b] * span_s, params.hot_pixels[b])
        xy = np.concatenate([np.stack([rng.integers(0, w_px, n_bg), rng.integers(0, h_px, n_bg)], 1),
                             np.repeat(hot_xy, hot_n, axis=0)])
        n = xy.shape[0]
        parts.append(np.column_stack([np.full(n, b), xy, rng.integers(0, span_us, n), rng.integers(0, 2, n)]))
    cols = torch.as_tensor(np.concatenate(parts), dtype=torch.long, device=dev)
    return EventTensors(cols[:, 0], cols[:, 1], cols[:, 2], cols[:, 3], cols[:, 3], cols[:, 4])


def _cat(a: EventTensors, b: EventTensors) -> EventTensors:
    return EventTensors(*(torch.cat([getattr(a, f), getattr(b, f)]) for f in ("seq", "x", "y", "slot", "tbin", "p")))


def _to_slots(ev: EventTensors, seq_len: int, slot_us: int, time_bins: int, sensor_size: tuple[int, int]) -> EventTensors:
    """``slot``/``tbin`` hold µs since the sequence start on entry: split into slot and time bin, drop what
    falls outside the sensor or the sequence."""
    tau = ev.slot
    slot = torch.div(tau, slot_us, rounding_mode="floor")
    tbin = torch.div((tau - slot * slot_us) * time_bins, slot_us, rounding_mode="floor")
    keep = (slot >= 0) & (slot < seq_len) & (ev.x >= 0) & (ev.x < sensor_size[0]) & (ev.y >= 0) & (ev.y < sensor_size[1])
    return EventTensors(ev.seq[keep], ev.x[keep], ev.y[keep], slot[keep], tbin[keep], ev.p[keep])
