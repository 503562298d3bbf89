"""Labelled recordings (:class:`Source`): a label, a recording id, a subject and a train/test split per recording,
with the hash splits and cross-validation folds over them. Opening a source from a spec is
:mod:`edgevision.recognition.sources`."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from edgevision.errors import ConfigError, DatasetError


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
    # bool [R]: recordings of the dataset's own test folder (None = the dataset has none); never used by a fold
    official_test: np.ndarray | None = field(default=None, repr=False)

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


def _hash_unit(keys: list[str]) -> np.ndarray:
    h = np.array([int(hashlib.sha1(k.encode()).hexdigest()[:8], 16) for k in keys], dtype=np.float64)
    return h / 0xFFFFFFFF


def hash_split(keys: list[str], test_fraction: float = 0.2) -> np.ndarray:
    """Deterministic test membership from a hash of each key (a recording or subject id)."""
    return _hash_unit(keys) < test_fraction


def hash_folds(keys: list[str], folds: int) -> np.ndarray:
    """Fold number in ``[0, folds)`` of each key from the same hash as :func:`hash_split`: fold 0 of 5 is exactly
    ``hash_split(keys, 0.2)``."""
    return np.minimum((_hash_unit(keys) * folds).astype(np.int64), folds - 1)


def fold_source(src: Source, folds: int, fold: int) -> Source:
    """``src`` restricted to its training recordings (the official test folder is dropped entirely), with
    fold ``fold`` of ``folds`` (by hash of the subject id: the recording for recording-level datasets) as the
    test part. Cross-validation never sees an official test recording."""
    if folds < 2 or not 0 <= fold < folds:
        raise ConfigError(f"fold {fold} of {folds}: need folds >= 2 and 0 <= fold < folds")
    # With a known official test folder, everything else is the pool; otherwise the source's own test part
    # (official or hashed) stays out of the folds too.
    keep = np.flatnonzero(~(src.official_test if src.official_test is not None else src.split))
    if len(keep) == 0:
        raise DatasetError(f"{src.name}: no training recordings to fold")
    subjects = [src.subjects[i] for i in keep]
    split = hash_folds(subjects, folds) == fold
    base = src.loader
    return Source(
        src.name,
        src.sensor_size,
        src.classes,
        src.labels[keep],
        [src.recordings[i] for i in keep],
        subjects,
        split,
        lambda k: base(int(keep[k])),
        official_test=np.zeros(len(keep), bool),
    )
