"""SpikePoint must be able to fit a small training set under training conditions: a fresh point sample and
(for rate coding) fresh spikes every step, as `train classify` draws them. The N-MNIST cross-validation runs
could not (25 % training accuracy on 32 recordings after 30 steps) because Bernoulli rate coding with few time
steps buries the coordinates in noise; the direct coding (the same values as input current at every step) fits."""

import numpy as np
import torch

from edgevision.recognition.models import build_model
from edgevision.recognition.sources import open_source
from edgevision.recognition.windows import WindowConfig, WindowSet, make_batch

SMALL = {"widths": [16, 32, 64, 128], "global_units": 1, "num_points": 128, "num_groups": 32, "neighbours": 8,
         "timesteps": 4, "global_pool": "mean", "encoding": "direct"}


def test_spikepoint_overfits_a_small_set_with_fresh_samples(tiny_set):
    src = open_source(str(tiny_set))
    windows = WindowSet(src, src.indices("train"), WindowConfig(), progress=False)
    rng = np.random.default_rng(0)
    idx = rng.choice(len(windows), 16, replace=False)
    labels = torch.from_numpy(windows.labels[idx])
    assert len(np.unique(labels)) >= 5  # a real classification problem, not one class
    torch.manual_seed(0)
    model = build_model("spikepoint", 10, SMALL)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    losses, accs = [], []
    for _ in range(50):
        batch = make_batch(windows, idx, model.input_kind, model.cfg, rng)  # new points every step
        out = model(batch)
        loss = model.loss(out, labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        accs.append(float((model.scores(out).argmax(1) == labels).float().mean()))
    # The loss must at least halve and the last steps classify (nearly) every training window.
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:3]), losses
    assert np.mean(accs[-5:]) >= 0.9, accs
