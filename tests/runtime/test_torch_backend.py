"""The ``torch`` backend's one-window path (:class:`edgevision.nn.infer.WindowBackbone`) equals the model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edgevision.errors import ConfigError
from edgevision.events.tokens import Tokens
from edgevision.nn.config import load_config
from edgevision.nn.eye_model import EyeTracker
from edgevision.nn.infer import WindowBackbone
from edgevision.nn.inputs import collate_tokens
from edgevision.runtime.backends import make_backend
from edgevision.runtime.session import resolve
from edgevision.runtime.sources import SyntheticSource
from edgevision.runtime.tracker import window_tokens

SHAPE = (60, 80)


@pytest.fixture(scope="module")
def eye():
    """The shipped architecture with random weights and non-trivial BatchNorm statistics (folding matters)."""
    cfg = load_config(resolve("models/eye_small.yaml"))
    torch.manual_seed(1)
    model = EyeTracker(cfg)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return model.eval(), cfg


def _reference(model, tokens: Tokens, clip: float) -> np.ndarray:
    with torch.inference_mode():
        return model.backbone(collate_tokens([tokens], clip))[0].numpy()


def _check(model, cfg, tokens: Tokens) -> None:
    backend = make_backend("torch", model=model, input_clip=cfg.input.input_clip)
    out = backend.infer(tokens).features
    ref = _reference(model, tokens, cfg.input.input_clip)
    assert out.shape == (model.backbone.feature_dim,) and out.dtype == np.float32
    assert np.abs(out - ref).max() < 1e-4


def test_equal_to_model_on_camera_windows(eye):
    model, cfg = eye
    src = SyntheticSource(0.15, seed=3, realtime=False)
    wins = list(src)
    tokens = [window_tokens(w, src.sensor_size, cfg.input.downsample, cfg.input.time_bins) for w in wins]
    assert min(t.coords.shape[0] for t in tokens) > 20
    for tk in tokens[::3]:
        _check(model, cfg, tk)


def test_equal_to_model_on_edge_cases(eye):
    model, cfg = eye
    c = model.backbone.in_channels
    rng = np.random.default_rng(0)
    yy, xx = np.meshgrid(np.arange(SHAPE[0]), np.arange(SHAPE[1]), indexing="ij")
    full = np.stack([yy.ravel(), xx.ravel()], 1).astype(np.int32)
    cases = {
        "empty": np.zeros((0, 2), np.int32),
        "one site": np.array([[0, 0]], np.int32),
        "one site, far corner": np.array([[SHAPE[0] - 1, SHAPE[1] - 1]], np.int32),
        "all sites": full,
        "grid borders": full[(full[:, 0] % (SHAPE[0] - 1) == 0) | (full[:, 1] % (SHAPE[1] - 1) == 0)],
    }
    for name, coords in cases.items():
        feats = rng.integers(0, 30, (coords.shape[0], c)).astype(np.float32)  # above the clip too
        _check(model, cfg, Tokens(coords, feats, SHAPE))


def test_empty_window_gives_the_models_bias_features(eye):
    """No active sites: every pool cell is empty, so the features are zeros (as in the model)."""
    model, cfg = eye
    wb = WindowBackbone(model.backbone)
    out = wb.forward(np.zeros((0, 2), np.int32), torch.zeros(0, model.backbone.in_channels), SHAPE)
    assert torch.equal(out, torch.zeros(model.backbone.feature_dim))


def test_geometry_neighbours_and_downsampling(eye):
    model, _ = eye
    wb = WindowBackbone(model.backbone)
    coords = np.array([[0, 0], [0, 1], [1, 1], [3, 4]], np.int32)
    geo = wb.geometry(coords, (4, 5))
    nbr = geo[0].nbr.reshape(4, 9).numpy()
    # site (1, 1): up-left (0, 0) -> 0, up (0, 1) -> 1, itself -> 2, the rest inactive (-> zero row 4)
    assert nbr[2].tolist() == [0, 1, 4, 4, 2, 4, 4, 4, 4]
    assert nbr[3].tolist() == [4, 4, 4, 4, 3, 4, 4, 4, 4]  # (3, 4): neighbours outside the grid are the zero row
    assert [g.n for g in geo] == [4, 2, 2, 1] and [g.shape for g in geo] == [(4, 5), (2, 3), (1, 2), (1, 1)]
    assert geo[0].taps.tolist() == [0, 1, 3, 4 + 2]  # output row * 4 + (y % 2) * 2 + x % 2


def test_rejects_training_mode_and_wrong_channels(eye):
    model, cfg = eye
    with pytest.raises(ValueError, match="eval"):
        WindowBackbone(EyeTracker(cfg).train().backbone)
    backend = make_backend("torch", model=model, input_clip=cfg.input.input_clip)
    with pytest.raises(ConfigError, match="input channels"):
        backend.infer(Tokens(np.zeros((1, 2), np.int32), np.ones((1, 3), np.float32), SHAPE))


def test_model_forward_impl_agrees_and_unknown_impl_is_refused(eye):
    model, cfg = eye
    src = SyntheticSource(0.03, seed=5, realtime=False)
    tk = window_tokens(next(iter(src)), src.sensor_size, cfg.input.downsample, cfg.input.time_bins)
    fast = make_backend("torch", model=model, input_clip=cfg.input.input_clip).infer(tk).features
    slow = make_backend("torch", model=model, input_clip=cfg.input.input_clip, impl="torch").infer(tk).features
    assert np.abs(fast - slow).max() < 1e-4
    with pytest.raises(ConfigError, match="impl"):
        make_backend("torch", model=model, input_clip=cfg.input.input_clip, impl="dense")


@pytest.mark.parametrize("shape", [(60, 80), (7, 5), (1, 1)])
def test_window_geometry_matches_the_batched_sparse_ops(shape):
    """Neighbour table and 2x2 downsampling equal edgevision.nn.sparse_ops on random site sets (odd grids too)."""
    from edgevision.nn import sparse_ops
    from edgevision.nn.window_geometry import downsample, neighbour_table

    rng = np.random.default_rng(shape[0])
    h, w = shape
    for density in (0.0, 0.1, 0.5, 1.0):
        keys = np.flatnonzero(rng.random(h * w) < density)
        y, x = keys // w, keys % w
        n = keys.shape[0]
        coords = torch.from_numpy(np.stack([np.zeros(n), y, x], 1).astype(np.int32))
        ref = sparse_ops.subm_neighbors(coords, shape).numpy()
        got = neighbour_table(y, x, h, w).reshape(n, 9)
        assert np.array_equal(np.where(ref < 0, n, ref), got)
        out_coords, parent, offset, _ = sparse_ops.downsample2x2(coords, shape)
        oy, ox, taps = downsample(y, x, h, w)
        assert np.array_equal(out_coords[:, 1:].numpy(), np.stack([oy, ox], 1).reshape(-1, 2))
        assert np.array_equal((parent * 4 + offset).numpy(), taps)
