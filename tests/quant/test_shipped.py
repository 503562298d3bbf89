"""The shipped integer backbone (models/eye_small_int8) belongs to the shipped checkpoint and runs bit-exactly."""

from pathlib import Path

import numpy as np
import pytest
import torch

from edgevision.ir.schema import load_ir
from edgevision.nn.checkpoint import load_eye_tracker
from edgevision.nn.inputs import collate_tokens
from edgevision.quant.reference import dequantize_output, quantize_input, run_network
from edgevision.quant.torch_int import TorchIntNetwork

MODELS = Path(__file__).resolve().parents[2] / "models"


@pytest.mark.skipif(not (MODELS / "eye_small.safetensors").is_file(), reason="shipped checkpoint not present")
def test_shipped_ir_matches_shipped_checkpoint(sim_windows):
    net = load_ir(MODELS / "eye_small_int8")
    model, cfg = load_eye_tracker(MODELS / "eye_small.safetensors")
    assert (net.input.height, net.input.width) == cfg.input.grid(cfg.sensor_size)
    pool = net.layer(net.output).attrs
    assert int(np.prod(pool["grid"])) * pool["out_ch"] == model.backbone.feature_dim
    x = collate_tokens(sim_windows, cfg.input.input_clip)
    ints = TorchIntNetwork(net)(x.replace(x.feats.long())).numpy()
    for i in (0, len(sim_windows) // 2, len(sim_windows) - 1):
        t = sim_windows[i]
        np.testing.assert_array_equal(run_network(net, t.coords, quantize_input(t.feats, net.input)), ints[i])
    with torch.no_grad():
        ref = model.backbone(x).numpy()
    got = dequantize_output(net, ints)
    assert np.linalg.norm(got - ref) / np.linalg.norm(ref) < 0.2
