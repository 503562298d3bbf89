"""Recognition data sources: recordings with a label, a recording id, a subject and a train/test split.

A source is opened from a spec string: ``dvsgesture:ROOT``, ``dvsgesture10:ROOT`` (class "other" dropped,
as SpikePoint did), ``nmnist:ROOT``, ``asldvs:ROOT``, ``ncaltech101:ROOT``, or the path of a synthetic gesture set folder.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from edgevision.errors import DatasetError


@dataclass
class Source:
    """A labelled set of recordings; ``load(i)`` returns recording ``i`` as an EVENT_DTYPE array."""

    name: str
    sensor_size: tuple[int, int]
    classes: list[str]
    labels: np.ndarray  # int64 [R]
    recordings: list[str]
    subjects: list[str]
    split: np.ndarray  # bool [R], True = test
    loader: Callable[[int], np.ndarray] = field(repr=False)

    def __len__(self) -> int:
        return len(self.recordings)

    def load(self, index: int) -> np.ndarray:
        return self.loader(index)

    def indices(self, part: str) -> np.ndarray:
        """Recording indices of ``part`` ("train", "test" or "all")."""
        if part == "all":
            return np.arange(len(self))
        if part not in ("train", "test"):
            raise ValueError(f"part must be train, test or all, got {part!r}")
        return np.flatnonzero(self.split == (part == "test"))


def hash_split(keys: list[str], test_fraction: float = 0.2) -> np.ndarray:
    """Deterministic test membership from a hash of each key (a recording or subject id)."""
    h = np.array([int(hashlib.sha1(k.encode()).hexdigest()[:8], 16) for k in keys], dtype=np.float64)
    return (h / 0xFFFFFFFF) < test_fraction


def open_source(spec: str) -> Source:
    """Open a source from ``KIND:ROOT`` or a synthetic-set folder (see module doc)."""
    kind, sep, root = spec.partition(":")
    if sep and kind in TONIC_KINDS:
        from edgevision.recognition.tonic_sources import open_tonic

        return open_tonic(kind, root)
    path = Path(spec)
    if path.is_dir():
        from edgevision.recognition.synth import open_synthetic

        return open_synthetic(path)
    raise DatasetError(
        f"--data {spec!r}: not a folder and not one of {', '.join(k + ':ROOT' for k in TONIC_KINDS)}; "
        "make a synthetic set with `edgevision data synth-gesture --out DIR`"
    )


TONIC_KINDS = ("dvsgesture", "dvsgesture10", "nmnist", "asldvs", "ncaltech101")
