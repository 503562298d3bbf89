"""Test material: real synthetic near-eye windows (edgevision.sim) and a tiny 3ET+-layout dataset + checkpoint."""

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from edgevision.datasets.writer import write_recording, write_split_lists
from edgevision.nn.checkpoint import save_checkpoint
from edgevision.nn.config import config_from_dict
from edgevision.nn.eye_model import EyeTracker
from edgevision.nn.inputs import slice_tokens
from edgevision.nn.tensor import SparseTensor
from edgevision.sim.eye_dataset import simulate_recording


def window_batch(windows: list[tuple[np.ndarray, np.ndarray]], shape: tuple[int, int], dtype) -> SparseTensor:
    """(coords [N, 2], feats [N, C]) windows as one SparseTensor (window i -> batch index i), feats as ``dtype``."""
    return SparseTensor.from_windows([(c, np.asarray(f).astype(dtype)) for c, f in windows], shape, dtype=None)


@pytest.fixture(scope="session")
def eye_cfg():
    doc = yaml.safe_load((Path(__file__).resolve().parents[2] / "models" / "eye_small.yaml").read_text())
    doc["train"].update(seq_len=10, stride=5, batch_size=2)
    return config_from_dict(doc, "eye_small_test")


@pytest.fixture(scope="session")
def sim_recordings():
    return [simulate_recording(i, 0, 0.3, seed=7) for i in range(3)]


@pytest.fixture(scope="session")
def sim_windows(sim_recordings, eye_cfg):
    """Token windows (one per 10 ms label slot) of a simulated recording, counts clipped like training."""
    rec = sim_recordings[0]
    toks = slice_tokens(rec.events, eye_cfg.sensor_size, eye_cfg.input, n_slices=rec.labels.shape[0])
    clip = eye_cfg.input.input_clip
    return [t._replace(feats=np.minimum(t.feats, clip)) for t in toks]


@pytest.fixture(scope="session")
def trained_like_model(eye_cfg, sim_windows):
    """An eye tracker whose BatchNorm statistics come from real windows (a few train-mode forwards)."""
    from edgevision.nn.inputs import collate_tokens

    torch.manual_seed(0)
    model = EyeTracker(eye_cfg)
    model.train()
    x = collate_tokens(sim_windows, eye_cfg.input.input_clip)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.momentum = None  # cumulative average
        for _ in range(3):
            model.backbone(x)
    return model.eval()


@pytest.fixture(scope="session")
def eye_dataset(tmp_path_factory, sim_recordings, trained_like_model, eye_cfg):
    """(dataset root, checkpoint path): 2 train + 1 val simulated recordings and a saved model."""
    root = tmp_path_factory.mktemp("eye3et")
    names = {"train": ["r0", "r1"], "val": ["r2"]}
    for split, recs in (("train", sim_recordings[:2]), ("val", sim_recordings[2:])):
        for name, rec in zip(names[split], recs):
            write_recording(root, split, name, rec.events, rec.labels)
    write_split_lists(root, names)
    ckpt = save_checkpoint(root / "model.safetensors", trained_like_model, eye_cfg)
    return root, ckpt
