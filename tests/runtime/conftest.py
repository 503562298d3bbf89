"""Shared material: a tiny eye tracker, a random IR with the same feature size, moving-blob windows."""

from __future__ import annotations

import numpy as np
import pytest

from edgevision.events.core import make_events
from edgevision.runtime.sources import TrackWindow

SENSOR = (640, 480)


@pytest.fixture(scope="session")
def tiny():
    """(model, cfg, net): EyeTracker with a 64-feature backbone and a random IR with 64 int8 outputs (same front end)."""
    import torch

    from edgevision.ir.random import random_network
    from edgevision.nn.config import config_from_dict
    from edgevision.nn.eye_model import EyeTracker
    from edgevision.runtime.host_model import config_input

    torch.manual_seed(0)
    cfg = config_from_dict({
        "name": "tiny", "input": {"downsample": 8, "time_bins": 2},
        "backbone": {"layers": [{"op": "conv3x3_subm", "out": 16}, {"op": "pool", "grid": [2, 2]}]},
        "gru": {"hidden": 16},
    })
    net = random_network(np.random.default_rng(0), 60, 80, 4, widths=(8, 16), grid=(2, 2))
    net.input = config_input(cfg)  # the checkpoint's front end (640x480, factor 8, 2 bins, 10 ms, clip 15)
    return EyeTracker(cfg).eval(), cfg, net


@pytest.fixture(scope="session")
def blob_windows():
    """Factory of moving-blob windows (see :func:`make_blob_windows`)."""
    return make_blob_windows


def make_blob_windows(n: int, seed: int = 0, events: int = 1500) -> list[TrackWindow]:
    """``n`` 10 ms windows of a blob moving on a circle, labelled with its centre."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        cx, cy = 320 + 120 * np.cos(i / 15), 240 + 80 * np.sin(i / 15)
        t = np.sort(rng.integers(i * 10_000, (i + 1) * 10_000, events))
        x = np.clip(rng.normal(cx, 15, events), 0, SENSOR[0] - 1).astype(int)
        y = np.clip(rng.normal(cy, 15, events), 0, SENSOR[1] - 1).astype(int)
        out.append(TrackWindow(i, i * 10_000, (i + 1) * 10_000, make_events(t, x, y, rng.integers(0, 2, events)),
                               np.array([cx, cy, 0.0])))
    return out
