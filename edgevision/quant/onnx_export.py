"""ONNX export of the float eye tracker: the backbone as masked dense convolutions (activity mask as an input)
and the GRU + head as one recurrent step, each checked in onnxruntime against PyTorch."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from edgevision.atomic import atomic_path
from edgevision.errors import BackendError
from edgevision.nn.checkpoint import load_eye_tracker
from edgevision.nn.dense import DenseBackbone, to_dense
from edgevision.nn.eye_model import EyeTracker
from edgevision.nn.tensor import SparseTensor

OPSET = 17
BACKBONE_FILE = "backbone.onnx"
HEAD_FILE = "gru_head.onnx"


class GRUHeadStep(nn.Module):
    """``(features [B, F], h [1, B, H]) -> (out [B, 3], h_new)``: one host step of the tracker."""

    def __init__(self, model: EyeTracker) -> None:
        super().__init__()
        self.gru, self.head = model.gru, model.head

    def forward(self, features: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        seq, h_new = self.gru(features.unsqueeze(1), h)
        return self.head(seq[:, 0]), h_new


def _export(module: nn.Module, args: tuple, path: Path, inputs: list[str], outputs: list[str], dyn: dict) -> None:
    with atomic_path(path, suffix=".onnx") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(module, args, str(tmp), input_names=inputs, output_names=outputs, dynamic_axes=dyn,
                          opset_version=OPSET, dynamo=False)


def export_model(model: EyeTracker, out: str | Path, input_shape: tuple[int, int]) -> dict[str, Path]:
    """Write ``backbone.onnx`` (inputs ``grid`` [B, C, H, W], ``mask`` [B, 1, H, W]; output ``features``) and
    ``gru_head.onnx`` (inputs ``features``, ``h``; outputs ``out``, ``h_new``) into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    h, w = input_shape
    c = model.backbone.in_channels
    grid, mask = torch.zeros(1, c, h, w), torch.zeros(1, 1, h, w)
    grid[0, :, h // 2, w // 2], mask[0, 0, h // 2, w // 2] = 1.0, 1.0
    paths = {"backbone": out / BACKBONE_FILE, "gru_head": out / HEAD_FILE}
    _export(DenseBackbone(model.backbone).eval(), (grid, mask), paths["backbone"], ["grid", "mask"], ["features"],
            {"grid": {0: "batch"}, "mask": {0: "batch"}, "features": {0: "batch"}})
    feats = torch.zeros(1, model.backbone.feature_dim)
    h0 = torch.zeros(1, 1, model.gru.hidden_size)
    _export(GRUHeadStep(model).eval(), (feats, h0), paths["gru_head"], ["features", "h"], ["out", "h_new"],
            {"features": {0: "batch"}, "h": {1: "batch"}, "out": {0: "batch"}, "h_new": {1: "batch"}})
    return paths


@torch.no_grad()
def check_onnx(model: EyeTracker, paths: dict[str, Path], x: SparseTensor) -> dict[str, float]:
    """Max |onnxruntime - PyTorch| of the backbone (vs the sparse model) and of two GRU/head steps on ``x``."""
    import onnxruntime as ort

    model = model.eval()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    bb = ort.InferenceSession(str(paths["backbone"]), opts, providers=["CPUExecutionProvider"])
    hd = ort.InferenceSession(str(paths["gru_head"]), opts, providers=["CPUExecutionProvider"])
    grid, mask = to_dense(x)
    f_onnx = bb.run(None, {"grid": grid.numpy(), "mask": mask.numpy()})[0]
    f_torch = model.backbone(x)
    h_t = torch.zeros(1, x.batch_size, model.gru.hidden_size)
    h_o = h_t.numpy()
    err_head = 0.0
    for _ in range(2):
        o_t, h_t = model.head_step(f_torch, h_t)
        o_o, h_o = hd.run(None, {"features": f_torch.numpy(), "h": h_o})
        err_head = max(err_head, float(np.abs(o_o - o_t.numpy()).max()), float(np.abs(h_o - h_t.numpy()).max()))
    return {"backbone_max_abs_err": float(np.abs(f_onnx - f_torch.numpy()).max()), "head_max_abs_err": err_head,
            "feature_max_abs": float(f_torch.abs().max())}


def export_onnx(checkpoint: str | Path, out: str | Path, check: bool = True) -> dict[str, Any]:
    """Export a checkpoint's model to ONNX in ``out``; with ``check`` compare onnxruntime and PyTorch on random windows."""
    model, cfg = load_eye_tracker(checkpoint)
    shape = cfg.input.grid(cfg.sensor_size)
    paths = export_model(model, out, shape)
    result: dict[str, Any] = {name: str(p) for name, p in paths.items()}
    if check:
        from edgevision.ir.random import random_tokens
        from edgevision.events.tokens import Tokens
        from edgevision.nn.inputs import collate_tokens

        rng = np.random.default_rng(0)
        toks = [Tokens(*random_tokens(rng, shape[0], shape[1], model.backbone.in_channels, d), shape) for d in (0.0, 0.02, 0.2)]
        errs = check_onnx(model, paths, collate_tokens([t._replace(feats=t.feats.astype(np.float32)) for t in toks]))
        result.update(errs)
        tol = 1e-4 * max(1.0, errs["feature_max_abs"])
        if errs["backbone_max_abs_err"] > tol or errs["head_max_abs_err"] > 1e-4:
            raise BackendError(f"{out}: onnxruntime disagrees with PyTorch ({errs}); the export is wrong")
    return result
