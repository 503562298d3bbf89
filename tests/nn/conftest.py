"""A tiny 3ET+-layout dataset for the eye-tracker tests: a pupil ring that moves, written by the dataset writer."""

import numpy as np
import pytest

from edgevision.datasets.writer import write_manifest, write_recording, write_split_lists
from edgevision.events.core import make_events


def ring_recording(seed: int, n_labels: int = 120, per_slot: int = 120, closed_frames: int = 8):
    """Events on a ring (radius ~40 px) around a pupil centre moving smoothly over a 640x480 sensor; the eye is
    closed (no events) for ``closed_frames`` labels in the middle. Also used by tools/kill_matrix.py."""
    rng = np.random.default_rng(seed)
    t_lab = (np.arange(n_labels) + 1) * 10_000
    phase = rng.uniform(0, 2 * np.pi, 2)
    cx = 320 + 180 * np.sin(2 * np.pi * t_lab / 1.3e6 + phase[0])
    cy = 240 + 120 * np.sin(2 * np.pi * t_lab / 0.9e6 + phase[1])
    closed = np.zeros(n_labels)
    closed[n_labels // 2 : n_labels // 2 + closed_frames] = 1
    slot = np.repeat(np.arange(n_labels), per_slot)
    t = slot * 10_000 + np.sort(rng.integers(0, 10_000, slot.size).reshape(n_labels, per_slot), axis=1).ravel()
    ang = rng.uniform(0, 2 * np.pi, slot.size)
    r = 40 + rng.normal(0, 2, slot.size)
    x = np.clip(cx[slot] + r * np.cos(ang), 0, 639)
    y = np.clip(cy[slot] + r * np.sin(ang), 0, 479)
    keep = closed[slot] == 0
    ev = make_events(t[keep], x[keep], y[keep], rng.integers(0, 2, slot.size)[keep])
    return ev, np.stack([cx, cy, closed], axis=1).astype(np.float32)


@pytest.fixture(scope="session")
def ring_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("eye3et")
    names = {"train": [f"tr{i}" for i in range(4)], "val": ["va0"], "test": ["te0", "te1"]}
    seed, files = 0, {}
    for split, split_names in names.items():
        for name in split_names:
            ev, lab = ring_recording(seed)
            files.update(write_recording(root, split, name, ev, lab))
            seed += 1
    files.update(write_split_lists(root, names))
    write_manifest(root, files, {"generator": "tests/nn ring_recording"})
    return root
