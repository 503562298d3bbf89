"""A quantized ESDA classifier (sparse backbone + linear head -> IR fc, int32 logits) through the accelerator."""

from __future__ import annotations

import numpy as np
import torch

from edgevision.fpga.csim import compile_design
from edgevision.fpga.flow import plan
from edgevision.ir.random import random_tokens
from edgevision.ir.schema import front_end
from edgevision.nn.tensor import SparseTensor
from edgevision.quant.calibrate import calibrate
from edgevision.quant.classifier import QuantClassifier, export_classifier_ir
from edgevision.quant.reference import run_network
from edgevision.recognition.models.esda import ESDAClassifier, ESDAConfig

H, W = 20, 28
LAYERS = [
    {"op": "conv3x3_subm", "out": 8, "act": "relu"},
    {"op": "conv2x2_s2", "out": 12, "act": "relu"},
    {"block": "inverted_residual", "out": 12, "expand": 2, "repeat": 1},
    {"op": "pool", "grid": [1, 1]},
]


def _classifier_ir(windows):
    x = SparseTensor.from_windows(windows, (H, W))
    torch.manual_seed(1)
    model = ESDAClassifier(4, ESDAConfig(time_bins=2, layers=LAYERS))
    with torch.no_grad():  # BatchNorm statistics from the windows
        for _ in range(2):
            model.train()(x)
    qc = QuantClassifier.from_model(model.eval(), (H, W))
    calibrate(qc.backbone, [x])
    front = front_end((W, H), {"downsample": 1, "slice_us": 50_000, "time_bins": 2, "input_clip": 8.0})
    return export_classifier_ir(qc.eval(), front, name="esda_cls")


def test_quantized_classifier_csim_is_bit_exact(tmp_path):
    rng = np.random.default_rng(3)
    wins = [random_tokens(rng, H, W, 4, d) for d in np.linspace(0.0, 0.5, 16)]
    net = _classifier_ir(wins[1:])
    graph, _ = plan(net, "zcu102", wins)
    assert graph.output_kind == "lvec" and graph.output_length == 4
    res = compile_design(graph, tmp_path / "prj").run(wins)
    for i, ((c, f), got) in enumerate(zip(wins, res.outputs)):
        want = run_network(net, c, f)
        assert got.dtype == np.int32
        np.testing.assert_array_equal(got, want, err_msg=f"window {i}")
    assert len({tuple(o) for o in res.outputs}) > 2  # logits depend on the window
