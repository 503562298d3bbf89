"""3ET+ recordings -> cached token slices per label slot -> batches of sequences for the eye tracker.

Each recording is binned once (:func:`edgevision.nn.inputs.slice_tokens`) and cached as an ``.npz`` (sites of all
slots concatenated, uint8 clipped counts, per-slot offsets), keyed by the input config and the event file's size
and modification time, so epochs never re-bin events.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from edgevision.atomic import write_bytes_atomic
from edgevision.datasets import layouts
from edgevision.datasets.threeet import ThreeETPlus
from edgevision.errors import DatasetError
from edgevision.nn.config import EyeConfig
from edgevision.nn.inputs import slice_tokens
from edgevision.nn.tensor import SparseTensor

CACHE_VERSION = 1


@dataclass
class RecordingSlices:
    """All label slots of one recording: slot i's sites are rows ``offsets[i]:offsets[i + 1]``."""

    name: str
    coords: np.ndarray  # int16 [S, 2] (y, x)
    feats: np.ndarray  # uint8 [S, C] counts clipped at input_clip
    offsets: np.ndarray  # int64 [n + 1]
    labels: np.ndarray  # float32 [n, 3] (x, y, closed) in sensor pixels
    shape: tuple[int, int]

    @property
    def n(self) -> int:
        return self.labels.shape[0]

    def windows(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(coords, feats, window index relative to ``start``) of slots ``start:stop``."""
        a, b = self.offsets[start], self.offsets[stop]
        counts = np.diff(self.offsets[start : stop + 1])
        return self.coords[a:b], self.feats[a:b], np.repeat(np.arange(stop - start), counts)


def data_hash(root: str | Path) -> str:
    """sha256 of the dataset's ``manifest.json`` (its file checksums), or of its split lists without one."""
    root = Path(root)
    manifest = root / layouts.MANIFEST_FILE
    files = [manifest] if manifest.is_file() else sorted(root.glob("*_files.txt"))
    h = hashlib.sha256()
    for f in files:
        h.update(f.read_bytes())
    return h.hexdigest()


def _file_digests(root: Path) -> dict[str, str]:
    """{relative path: sha256} from the dataset's ``manifest.json`` (empty without one)."""
    manifest = root / layouts.MANIFEST_FILE
    if not manifest.is_file():
        return {}
    try:
        files = json.loads(manifest.read_text()).get("files", {})
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{manifest}: not valid JSON ({exc}); regenerate the dataset") from None
    return files if isinstance(files, dict) else {}


def _cache_key(cfg: EyeConfig, root: Path, events_file: Path, digests: dict[str, str]) -> str:
    """Input config + the event file's identity: its manifest checksum, else its size and mtime."""
    rel = str(events_file.relative_to(root))
    if rel in digests:
        ident: list = [digests[rel]]
    else:
        st = events_file.stat()
        ident = [st.st_size, st.st_mtime_ns]
    doc = {"v": CACHE_VERSION, "input": vars(cfg.input), "sensor": list(cfg.sensor_size), "file": ident}
    return hashlib.sha1(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def load_recording(
    ds: ThreeETPlus, i: int, cfg: EyeConfig, cache_dir: Path | None, digests: dict[str, str] | None = None
) -> RecordingSlices:
    """Slices of recording ``i`` of ``ds``, from the cache when present (written atomically otherwise).

    With a manifest (``digests``) the cache is keyed by the event file's checksum, so a cache plus the dataset's
    text files (split lists, labels, manifest) is enough to train without the event files."""
    name = ds.names[i]
    events_file = layouts.events_path(ds.root, ds.split, name)
    cache = None
    if cache_dir is not None:
        cache = Path(cache_dir) / f"{ds.split}-{name}-{_cache_key(cfg, ds.root, events_file, digests or {})}.npz"
        if cache.is_file():
            with np.load(cache) as z:
                return RecordingSlices(name, z["coords"], z["feats"], z["offsets"], z["labels"], tuple(int(v) for v in z["shape"]))
    events, labels = ds[i]
    toks = slice_tokens(events, cfg.sensor_size, cfg.input, n_slices=labels.shape[0])
    counts = np.array([t.coords.shape[0] for t in toks], dtype=np.int64)
    rec = RecordingSlices(
        name,
        np.concatenate([t.coords for t in toks]).astype(np.int16),
        np.minimum(np.concatenate([t.feats for t in toks]), cfg.input.input_clip).astype(np.uint8),
        np.concatenate([[0], np.cumsum(counts)]),
        labels.astype(np.float32),
        cfg.input.grid(cfg.sensor_size),
    )
    if cache is not None:
        buf = io.BytesIO()
        np.savez(buf, coords=rec.coords, feats=rec.feats, offsets=rec.offsets, labels=rec.labels, shape=np.array(rec.shape))
        write_bytes_atomic(cache, buf.getvalue())
    return rec


def load_split(
    root: str | Path, split: str, cfg: EyeConfig, cache_dir: Path | None = None, names: list[str] | None = None
) -> list[RecordingSlices]:
    """Every recording of a split (or those in ``names``) as slices (progress on stderr)."""
    ds = ThreeETPlus(root, split)
    if tuple(ds.sensor_size[:2]) != tuple(cfg.sensor_size):
        raise DatasetError(f"{root}: sensor {ds.sensor_size[:2]} differs from the config's sensor_size {cfg.sensor_size}")
    digests = _file_digests(Path(root))
    keep = [i for i, n in enumerate(ds.names) if names is None or n in names]
    return [load_recording(ds, i, cfg, cache_dir, digests) for i in tqdm(keep, desc=f"slices {split}", leave=False)]


def sequence_starts(recs: list[RecordingSlices], seq_len: int, stride: int) -> np.ndarray:
    """[K, 2] (recording index, first slot) of every training sequence."""
    out = [
        np.stack([np.full(len(s), r), s], axis=1)
        for r, rec in enumerate(recs)
        if len(s := np.arange(0, rec.n - seq_len + 1, stride))
    ]
    if not out:
        raise DatasetError(f"no recording has {seq_len} label slots; lower train.seq_len")
    return np.concatenate(out)


def make_batch(
    recs: list[RecordingSlices],
    starts: np.ndarray,
    seq_len: int,
    device: torch.device | str = "cpu",
    rng: np.random.Generator | None = None,
    jitter: int = 0,
    sensor_size: tuple[int, int] = layouts.SENSOR_SIZE,
    downsample: int = 8,
) -> tuple[SparseTensor, torch.Tensor]:
    """B sequences -> (SparseTensor of B * T windows, labels [B, T, 3] in sensor pixels).

    With ``rng``: per sequence a random horizontal flip and a shift of up to ``jitter`` grid cells (labels move
    with the sites; sites pushed off the grid are dropped).
    """
    h, w = recs[int(starts[0, 0])].shape
    coords, feats, batch, labels = [], [], [], []
    for b, (r, s) in enumerate(starts):
        rec = recs[int(r)]
        c, f, win = rec.windows(int(s), int(s) + seq_len)
        c = c.astype(np.int64)
        lab = rec.labels[s : s + seq_len].copy()
        if rng is not None:
            if rng.random() < 0.5:
                c[:, 1] = w - 1 - c[:, 1]
                lab[:, 0] = sensor_size[0] - 1 - lab[:, 0]
            dy, dx = rng.integers(-jitter, jitter + 1, size=2)
            c = c + np.array([dy, dx])
            keep = (c[:, 0] >= 0) & (c[:, 0] < h) & (c[:, 1] >= 0) & (c[:, 1] < w)
            c, f, win = c[keep], f[keep], win[keep]
            lab[:, :2] += np.array([dx, dy]) * downsample
            if c.shape[0]:  # a flip reverses x within each row: restore raster order
                order = np.lexsort((c[:, 1], c[:, 0], win))
                c, f, win = c[order], f[order], win[order]
        coords.append(c)
        feats.append(f)
        batch.append(win + b * seq_len)
        labels.append(lab)
    full = np.column_stack([np.concatenate(batch), np.concatenate(coords)]).astype(np.int32)
    x = SparseTensor(
        torch.from_numpy(np.concatenate(feats).astype(np.float32)).to(device),
        torch.from_numpy(np.ascontiguousarray(full)).to(device),
        (h, w),
        len(starts) * seq_len,
    )
    return x, torch.from_numpy(np.stack(labels)).to(device)
