"""Training batches built from events on the training device: gather sequences, augment, bin into tokens.

The training recordings' events live in one set of device tensors (:class:`EventStore`, about 9 bytes an event),
indexed by label slot. A batch gathers B sequences of source slots, augments them at event level
(:mod:`edgevision.nn.augment`) and bins them into the tracker's input tokens: per (window, downsampled pixel)
the counts of each (time bin, polarity) channel, clipped at ``input_clip``, the same tokens that
:func:`edgevision.nn.inputs.slice_tokens` makes for inference (tested for equality without augmentation).
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from edgevision.datasets.threeet import ThreeETPlus, label_windows
from edgevision.errors import DatasetError
from edgevision.nn.augment import SequenceParams, augment_events, transform_labels
from edgevision.nn.config import EyeConfig
from edgevision.nn.tensor import SparseTensor


class EventStore:
    """Events of several recordings on ``device``, slot ``i`` of recording ``r`` at
    ``slot_edges[r][i]:slot_edges[r][i + 1]``; times relative to the recording's first slot (µs, int32)."""

    def __init__(self, recordings: list[tuple[str, np.ndarray, np.ndarray]], cfg: EyeConfig, device: str | torch.device) -> None:
        slot_us = cfg.input.slice_us
        xs, ys, ts, ps, edges, self.labels, self.names = [], [], [], [], [], [], []
        base = 0
        for name, events, labels in recordings:
            n = labels.shape[0]
            t0 = int(events["t"][0]) if events.shape[0] else 0
            cut = label_windows(events, n, slot_us, t0)
            a, b = (int(cut[0, 0]), int(cut[-1, 1])) if n else (0, 0)
            ev = events[a:b]
            rel = ev["t"].astype(np.int64) - t0
            if rel.size and rel[-1] >= 2**31:
                raise DatasetError(f"recording {name}: longer than 35 minutes; split it into shorter recordings")
            xs.append(ev["x"].astype(np.int16))
            ys.append(ev["y"].astype(np.int16))
            ts.append(rel.astype(np.int32))
            ps.append(ev["p"].astype(np.uint8))
            edges.append(np.concatenate([cut[:, 0], cut[-1:, 1]]) - a + base if n else np.array([base]))
            base += b - a
            self.labels.append(labels.astype(np.float32))
            self.names.append(name)
        cat = lambda parts, dt: torch.from_numpy(np.concatenate(parts) if parts else np.zeros(0, dt)).to(device)  # noqa: E731
        self.x, self.y, self.t, self.p = cat(xs, np.int16), cat(ys, np.int16), cat(ts, np.int32), cat(ps, np.uint8)
        self.slot_edges = edges
        self.device = device

    @classmethod
    def from_split(cls, root, split: str, cfg: EyeConfig, device: str | torch.device, names: list[str] | None = None) -> "EventStore":
        """Every recording of ``split`` (or those in ``names``) read from the 3ET+ files (progress on stderr)."""
        ds = ThreeETPlus(root, split)
        if tuple(ds.sensor_size[:2]) != tuple(cfg.sensor_size):
            raise DatasetError(f"{root}: sensor {ds.sensor_size[:2]} differs from the config's sensor_size {cfg.sensor_size}")
        keep = [i for i, n in enumerate(ds.names) if names is None or n in names]
        recs = [(ds.names[i], *ds[i]) for i in tqdm(keep, desc=f"events {split}", leave=False)]
        return cls(recs, cfg, device)

    @property
    def n_slots(self) -> list[int]:
        return [lab.shape[0] for lab in self.labels]

    def events(self) -> int:
        return int(self.x.shape[0])


def sequence_starts(n_slots: list[int], span: int, stride: int) -> np.ndarray:
    """[K, 2] (recording index, first slot) of every window of ``span`` slots, ``stride`` apart."""
    out = [np.stack([np.full(len(s), r), s], axis=1) for r, n in enumerate(n_slots) if len(s := np.arange(0, n - span + 1, stride))]
    if not out:
        raise DatasetError(f"no recording has {span} label slots; lower train.seq_len (or the time_stretch minimum)")
    return np.concatenate(out)


def build_batch(
    store: EventStore,
    starts: np.ndarray,
    span: int,
    params: SequenceParams,
    cfg: EyeConfig,
) -> tuple[SparseTensor, torch.Tensor]:
    """B sequences of ``span`` source slots from ``starts`` [B, 2] -> (tokens of B * seq_len windows, labels
    [B, seq_len, 3] in sensor pixels), augmented with ``params``."""
    inp, seq_len = cfg.input, cfg.train.seq_len
    dev = store.x.device
    lo = np.array([store.slot_edges[int(r)][int(s)] for r, s in starts], np.int64)
    hi = np.array([store.slot_edges[int(r)][int(s) + span] for r, s in starts], np.int64)
    counts = torch.as_tensor(hi - lo, device=dev)
    seq = torch.repeat_interleave(torch.arange(len(starts), device=dev), counts)
    first = torch.cumsum(counts, 0) - counts
    idx = torch.arange(int(counts.sum()), device=dev) - first[seq] + torch.as_tensor(lo, device=dev)[seq]
    t_first = torch.as_tensor([int(s) * inp.slice_us for _, s in starts], device=dev)
    tau = store.t[idx].long() - t_first[seq]
    ev = augment_events(seq, store.x[idx], store.y[idx], tau, store.p[idx], params, seq_len, inp.slice_us,
                        inp.time_bins, cfg.sensor_size)
    src = np.stack([store.labels[int(r)][int(s) : int(s) + span] for r, s in starts])
    labels = transform_labels(src, params, seq_len, cfg.sensor_size)
    return bin_tokens(ev, len(starts), seq_len, cfg), torch.from_numpy(labels).to(dev)


def bin_tokens(ev, n_seq: int, seq_len: int, cfg: EyeConfig) -> SparseTensor:
    """Events in output frames -> :class:`SparseTensor` of ``n_seq * seq_len`` windows, sites in (window, y, x)
    raster order, features min(count, input_clip)."""
    inp = cfg.input
    gh, gw = inp.grid(cfg.sensor_size)
    ch = inp.channels
    window = ev.seq * seq_len + ev.slot
    site = (window * gh + torch.div(ev.y, inp.downsample, rounding_mode="floor")) * gw + torch.div(ev.x, inp.downsample, rounding_mode="floor")
    sites, inv = torch.unique(site, return_inverse=True)
    counts = torch.bincount(inv * ch + ev.tbin * 2 + ev.p, minlength=sites.shape[0] * ch).reshape(-1, ch)
    feats = torch.clamp(counts, max=int(inp.input_clip)).float()
    w_idx = torch.div(sites, gh * gw, rounding_mode="floor")
    rest = sites - w_idx * gh * gw
    coords = torch.stack([w_idx, torch.div(rest, gw, rounding_mode="floor"), rest % gw], 1).int()
    return SparseTensor(feats, coords.contiguous(), (gh, gw), n_seq * seq_len)
