"""Sparse CNN classifier (ESDA backbone + linear head) -> IR with an int32-logit fc layer."""

import numpy as np
import pytest
import torch

from edgevision.ir.random import random_tokens
from edgevision.ir.schema import front_end, load_ir, save_ir
from edgevision.nn.tensor import SparseTensor
from edgevision.quant.calibrate import calibrate
from edgevision.quant.classifier import QuantClassifier, export_classifier_ir
from edgevision.quant.reference import dequantize_output, run_network
from edgevision.recognition.models.esda import ESDAClassifier, ESDAConfig

from .conftest import window_batch

H, W, CLASSES = 24, 32, 5
LAYERS = [
    {"op": "conv3x3_subm", "out": 8, "act": "relu"},
    {"op": "conv2x2_s2", "out": 12, "act": "relu"},
    {"block": "inverted_residual", "out": 12, "expand": 2, "repeat": 1},
    {"op": "pool", "grid": [2, 2]},
]


def _batch(windows: list[tuple[np.ndarray, np.ndarray]]) -> SparseTensor:
    return window_batch(windows, (H, W), np.float32)


@pytest.fixture(scope="module")
def windows():
    rng = np.random.default_rng(11)
    return [random_tokens(rng, H, W, 4, d) for d in np.linspace(0.02, 0.4, 12)]


@pytest.fixture(scope="module")
def qc(windows):
    torch.manual_seed(0)
    model = ESDAClassifier(CLASSES, ESDAConfig(time_bins=2, layers=LAYERS))
    x = _batch(windows)
    model.train()
    with torch.no_grad():  # BatchNorm statistics from the windows
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.momentum = None
        for _ in range(3):
            model(x)
    model.eval()
    q = QuantClassifier.from_model(model, (H, W))
    calibrate(q.backbone, [x])
    return q.eval()


def test_eval_logits_are_bit_exact_with_reference(qc, windows, tmp_path):
    got = qc(_batch(windows)).numpy()
    front = front_end((W, H), {"downsample": 1, "slice_us": 50_000, "time_bins": 2, "input_clip": 8.0})
    net = load_ir(save_ir(export_classifier_ir(qc, front), tmp_path / "ir"))
    fc = net.layer(net.output)
    assert fc.op == "fc" and fc.attrs["requant"] is False and fc.tensors["weight"].shape == (CLASSES, 4 * 12)
    for i, (c, f) in enumerate(windows):
        ref = run_network(net, c, f)
        assert ref.dtype == np.int32 and np.any(ref != 0)
        np.testing.assert_array_equal(got[i], dequantize_output(net, ref), err_msg=f"window {i}")


def test_fake_quant_logits_track_integer_logits(qc, windows):
    x = _batch(windows)
    with torch.no_grad():
        integer = qc(x)
        qc.train()
        try:
            fake = qc(x)
        finally:
            qc.eval()
    rel = float((fake - integer).norm() / integer.norm())
    assert rel < 0.05, rel
    assert (fake.argmax(1) == integer.argmax(1)).float().mean() >= 0.75


def test_fake_quant_head_has_gradients(qc, windows):
    qc.train()
    try:
        qc(_batch(windows[:4])).pow(2).sum().backward()
    finally:
        qc.eval()
    assert qc.head.weight.grad is not None and qc.head.weight.grad.abs().sum() > 0
    qc.zero_grad()


def test_model_without_linear_head_is_rejected():
    with pytest.raises(TypeError, match="nn.Linear"):
        QuantClassifier.from_model(torch.nn.Linear(2, 2), (H, W))
