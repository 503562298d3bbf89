"""Event slicing, collation, checkpoints and the challenge metrics."""

import json

import numpy as np
import pytest
import torch

from edgevision.errors import CheckpointError
from edgevision.events.core import make_events
from edgevision.nn.checkpoint import load_eye_tracker, save_checkpoint
from edgevision.nn.config import InputConfig, config_from_dict
from edgevision.nn.eye_model import EyeTracker
from edgevision.nn.inputs import collate_tokens, slice_tokens
from edgevision.nn.metrics import distances_80x60, eye_metrics

CFG = {
    "backbone": {"layers": [{"op": "conv3x3_subm", "out": 4}, {"op": "conv2x2_s2", "out": 6}, {"op": "pool"}]},
    "gru": {"hidden": 5},
}


def test_slice_tokens_per_label_slot():
    ev = make_events([0, 500, 9_999, 10_000, 25_000, 25_001], [0, 8, 9, 639, 100, 100], [0, 0, 0, 479, 50, 50], [1, 0, 1, 1, 0, 0])
    cfg = InputConfig(downsample=8, slice_us=10_000, time_bins=2)
    slices = slice_tokens(ev, (640, 480), cfg, n_slices=4)  # slots start at the first event (t = 0)
    assert len(slices) == 4 and all(s.shape == (60, 80) for s in slices)
    s0 = slices[0]
    assert s0.coords.tolist() == [[0, 0], [0, 1]]
    # (0,0): ON in the first half -> channel 1; (0,1): OFF at 500 us (bin 0), ON at 9999 us (bin 1)
    assert s0.feats.tolist() == [[0, 1, 0, 0], [1, 0, 0, 1]]
    assert slices[1].coords.tolist() == [[59, 79]]
    assert slices[2].coords.tolist() == [[6, 12]] and slices[2].feats.tolist() == [[0, 0, 2, 0]]
    assert slices[3].coords.shape == (0, 2)
    assert len(slice_tokens(ev, (640, 480), cfg)) == 3


def test_collate_tokens_batches_and_clips():
    ev = make_events(np.arange(40), np.zeros(40), np.zeros(40), np.ones(40))
    cfg = InputConfig(time_bins=1)
    a = slice_tokens(ev, (640, 480), cfg, n_slices=2)
    x = collate_tokens([a[1], a[0], a[0]], input_clip=15)
    assert x.batch_size == 3 and x.shape == (60, 80)
    assert x.coords.tolist() == [[1, 0, 0], [2, 0, 0]] and x.coords.dtype == torch.int32
    assert x.feats.tolist() == [[0.0, 15.0], [0.0, 15.0]]
    assert x.coords.is_contiguous()


def test_checkpoint_round_trip_and_mismatch(tmp_path):
    cfg = config_from_dict(CFG)
    torch.manual_seed(0)
    model = EyeTracker(cfg)
    path = save_checkpoint(tmp_path / "m.safetensors", model, cfg, {"data_hash": "abc", "metrics": {"p10": 1.0}})
    loaded, cfg2 = load_eye_tracker(path)
    assert cfg2 == cfg and not loaded.training
    for (k, v), (k2, v2) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)
    doc = json.loads((tmp_path / "m.json").read_text())
    assert doc["meta"]["data_hash"] == "abc"
    doc["config"]["gru"]["hidden"] = 7
    (tmp_path / "m.json").write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="do not match the config"):
        load_eye_tracker(path)
    (tmp_path / "m.json").unlink()
    with pytest.raises(CheckpointError, match="m.json: missing"):
        load_eye_tracker(path)
    with pytest.raises(CheckpointError, match="not found"):
        load_eye_tracker(tmp_path / "none.safetensors")


def test_checkpoint_pair_torn_by_a_kill_between_its_two_writes_is_refused(tmp_path):
    """kill -9 after NAME.safetensors is renamed but before NAME.json is: the new weights sit beside the previous
    epoch's JSON; the JSON's weights_sha256 makes load_eye_tracker refuse the pair (tools/kill_matrix.py found it)."""
    from edgevision.atomic import write_bytes_atomic

    cfg = config_from_dict(CFG)
    torch.manual_seed(0)
    path = save_checkpoint(tmp_path / "m.safetensors", EyeTracker(cfg), cfg, {"epoch": 1})
    torch.manual_seed(1)
    other = save_checkpoint(tmp_path / "n.safetensors", EyeTracker(cfg), cfg, {"epoch": 2})
    write_bytes_atomic(path, other.read_bytes())  # epoch 2's weights, epoch 1's JSON
    with pytest.raises(CheckpointError, match="sha256 differs"):
        load_eye_tracker(path)
    doc = json.loads((tmp_path / "m.json").read_text())
    del doc["weights_sha256"]  # a checkpoint from before the field: loads as before
    (tmp_path / "m.json").write_text(json.dumps(doc))
    load_eye_tracker(path)


def test_distances_scale_to_80x60():
    d = distances_80x60(np.array([[8.0, 0.0], [0.0, 0.0]]), np.array([[0.0, 0.0], [24.0, 32.0]]), (640, 480))
    np.testing.assert_allclose(d, [1.0, 5.0])


def test_eye_metrics_hand_case():
    true = np.array([[100, 100, 0], [100, 100, 0], [100, 100, 0], [100, 100, 0], [100, 100, 1]], float)
    # distances (80x60 px): 0.5, 2, 4, 12 on open frames; the closed frame is off by 50 and ignored
    pred = true[:, :2] + np.array([[4, 0], [0, 16], [32, 0], [0, 96], [400, 0]])
    m = eye_metrics(pred, true, (640, 480), recordings=["a", "a", "b", "b", "b"], closed_prob=np.array([0, 0, 0, 0.9, 0.9]))
    assert (m["p1"], m["p3"], m["p5"], m["p10"]) == (0.25, 0.5, 0.75, 0.75)
    assert m["mean_distance"] == pytest.approx((0.5 + 2 + 4 + 12) / 4)
    assert m["windows"] == 4 and m["frames"] == 5 and m["closed_accuracy"] == 0.8
    assert m["per_recording"]["a"]["p1"] == 0.5 and m["per_recording"]["b"]["mean_distance"] == pytest.approx(8.0)


def test_slice_cache_is_reused_and_needs_no_event_files(ring_dataset, tmp_path):
    import shutil

    from edgevision.nn.eye_data import load_split

    cfg = config_from_dict(CFG)
    root = tmp_path / "data"
    shutil.copytree(ring_dataset, root)
    first = load_split(root, "test", cfg, tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("test-*.npz"))) == 2
    for h5 in root.rglob("*.h5"):
        h5.unlink()
    again = load_split(root, "test", cfg, tmp_path / "cache")
    for a, b in zip(first, again):
        assert a.name == b.name and np.array_equal(a.coords, b.coords) and np.array_equal(a.feats, b.feats)
        assert np.array_equal(a.offsets, b.offsets) and np.array_equal(a.labels, b.labels) and a.shape == b.shape
    assert first[0].n == 120 and first[0].feats.dtype == np.uint8
