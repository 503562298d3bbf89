"""Shared material for the engine tests: random IR networks, the eye tracker's backbone, real-density windows."""

import numpy as np
import pytest
import torch

from edgevision.bench.sparse import eye_backbone, eye_windows
from edgevision.nn.tensor import SparseTensor

EYE_SHAPE = (60, 80)


@pytest.fixture(scope="session")
def eye_bb():
    """The eye tracker's backbone (models/eye_small.yaml), eval mode, non-trivial BatchNorm statistics."""
    bb, shape, _ = eye_backbone()
    assert shape == EYE_SHAPE
    return bb


@pytest.fixture(scope="session")
def real_windows():
    """10 ms slices of a short simulated near-eye recording on the 60x80 grid (features min(count, 15))."""
    wins, _ = eye_windows(EYE_SHAPE, 6, seconds=0.15)
    return wins


def as_sparse(coords: np.ndarray, feats: np.ndarray, shape) -> SparseTensor:
    """One window as a batch-1 SparseTensor."""
    full = np.column_stack([np.zeros(len(coords), np.int32), coords]).astype(np.int32)
    return SparseTensor(torch.from_numpy(np.asarray(feats, np.float32)), torch.from_numpy(full), tuple(shape), 1)


def batch(windows, shape) -> SparseTensor:
    """Several windows as one SparseTensor (window i -> batch index i)."""
    return SparseTensor.from_windows(windows, shape)


def edge_windows(shape, channels, rng):
    """Edge cases: empty, a single site (corner), the four borders, every site active."""
    h, w = shape
    ys, xs = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    all_sites = np.stack([ys.ravel(), xs.ravel()], 1).astype(np.int32)
    border = all_sites[(all_sites[:, 0] % (h - 1) == 0) | (all_sites[:, 1] % (w - 1) == 0)]
    out = {
        "empty": np.zeros((0, 2), np.int32),
        "single": np.array([[h - 1, w - 1]], np.int32),
        "single_centre": np.array([[h // 2, w // 2]], np.int32),
        "border": border,
        "all": all_sites,
    }
    return {k: (c, rng.integers(0, 16, (len(c), channels)).astype(np.int8)) for k, c in out.items()}
