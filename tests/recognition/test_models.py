import numpy as np
import pytest
import torch

from edgevision.recognition.models import build_model
from edgevision.recognition.sources import open_source
from edgevision.recognition.windows import WindowConfig, WindowSet, make_batch

TINY = {
    "esda": {"downsample": 2},
    "spikepoint": {"widths": [8, 16, 16, 32], "num_points": 64, "num_groups": 16, "neighbours": 8, "timesteps": 8, "voters": 2},
    "pointnet": {"num_points": 128, "groups": [32, 8], "neighbours": [8, 8], "widths": [16, 32, 64]},
    "random-features": {"num_points": 128, "num_groups": 16, "neighbours": 8, "features": 64},
}


@pytest.fixture(scope="module")
def windows(tiny_set):
    src = open_source(str(tiny_set))
    return WindowSet(src, src.indices("train"), WindowConfig(), progress=False)


@pytest.mark.parametrize("name", ["esda", "spikepoint", "pointnet"])
def test_trains_with_decreasing_loss(name, windows):
    torch.manual_seed(0)
    model = build_model(name, 10, TINY[name])
    idx = np.arange(8)
    batch = make_batch(windows, idx, model.input_kind, model.cfg, np.random.default_rng(0))
    labels = torch.from_numpy(windows.labels[idx])
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(12):
        torch.manual_seed(1)  # same rate-coded spikes every step: a pure optimisation check
        loss = model.loss(model(batch), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert np.mean(losses[-3:]) < 0.8 * losses[0], losses


def test_random_features_closed_form_fit(windows):
    model = build_model("random-features", 10, TINY["random-features"])
    idx = np.arange(len(windows))
    batch = make_batch(windows, idx, "points", model.cfg, np.random.default_rng(0))
    labels = torch.from_numpy(windows.labels[idx])
    before = float(model.loss(model(batch), labels))
    model.fit(model.features(batch), labels)
    scores = model(batch)
    assert float(model.loss(scores, labels)) < 0.5 * before
    assert (scores.argmax(1) == labels).float().mean() > 0.9  # training windows, 64 random features


def test_spikepoint_state_resets_between_samples():
    torch.manual_seed(0)
    model = build_model("spikepoint", 3, TINY["spikepoint"]).eval()
    a, b = torch.rand(1, 64, 3), torch.rand(1, 64, 3)
    with torch.no_grad():
        torch.manual_seed(5)
        fresh = model(b)
        torch.manual_seed(6)
        model(a)  # leaves membrane state behind unless forward resets it
        torch.manual_seed(5)
        again = model(b)
    assert torch.equal(fresh, again)
    mem = [m.mem for m in model.modules() if hasattr(m, "reset_mem")]
    assert len(mem) == 16 and all(torch.is_tensor(v) for v in mem)


def test_spikepoint_outputs_are_spikes_and_voters():
    model = build_model("spikepoint", 3, TINY["spikepoint"]).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 64, 3))
    assert out.shape == (8, 2, 6) and set(out.unique().tolist()) <= {0.0, 1.0}
    assert model.scores(out).shape == (2, 3)
