"""The ``torch`` backend's one-window path (:class:`edgevision.nn.infer.WindowBackbone`) equals the model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edgevision.errors import ConfigError
from edgevision.events.representations import WindowTokenizer
from edgevision.events.tokens import Tokens
from edgevision.nn.config import load_config
from edgevision.nn.eye_model import EyeTracker
from edgevision.nn.infer import WindowBackbone
from edgevision.nn.inputs import collate_tokens
from edgevision.runtime.backends import make_backend
from edgevision.runtime.session import resolve
from edgevision.runtime.sources import SyntheticSource

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
    tz = WindowTokenizer(src.sensor_size, cfg.input.downsample, cfg.input.time_bins)
    tokens = [tz(w.events, w.t_start, w.t_end) for w in wins]
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
    out = wb.forward(np.zeros((0, 2), np.int32), np.zeros((0, model.backbone.in_channels), np.float32), SHAPE)
    assert np.array_equal(out, np.zeros(model.backbone.feature_dim, np.float32))


def test_inputs_tables_and_augmented_input(eye):
    model, _ = eye
    wb = WindowBackbone(model.backbone)
    coords = np.array([[0, 0], [0, 1], [1, 1], [3, 4]], np.int32)
    feats = np.array([[1, 2, 3, 40]] * 4, np.float32)
    x0, tables, pool = wb.inputs(coords, feats, (4, 5), clip=15.0)
    # the clipped features, a ones column and the zero padding row
    assert x0.tolist() == [[1, 2, 3, 15, 1]] * 4 + [[0] * 5]
    assert len(tables) == 2 * wb.n_res - 1 == 7
    nbr = tables[0].reshape(5, 9).numpy()
    # site (1, 1): up-left (0, 0) -> 0, up (0, 1) -> 1, itself -> 2, the rest inactive (-> padding row 4)
    assert nbr[2].tolist() == [0, 1, 4, 4, 2, 4, 4, 4, 4]
    assert nbr[3].tolist() == [4, 4, 4, 4, 3, 4, 4, 4, 4]  # (3, 4): neighbours outside the grid are the padding row
    assert nbr[4].tolist() == [4] * 9  # the padding row gathers only the padding row
    # 2x2 taps into level 0: output (0, 0) has taps (0, 0), (0, 1), (1, 1) and bias tap = the last of them;
    # output (1, 2) has tap (3, 4) = (1, 0) in its cell; the padding output reads the padding row
    assert tables[1].reshape(3, 5).tolist() == [[0, 1, 4, 2, 2], [4, 4, 3, 4, 3], [4] * 5]
    assert [t.numel() for t in tables[0::2]] == [9 * 5, 9 * 3, 9 * 3, 9 * 2]
    assert pool.shape == (20, 2) and pool[:, -1].abs().sum() == 0 and float(pool.sum()) == 1.0


def test_rejects_training_mode_and_wrong_channels(eye):
    model, cfg = eye
    with pytest.raises(ValueError, match="eval"):
        WindowBackbone(EyeTracker(cfg).train().backbone)
    backend = make_backend("torch", model=model, input_clip=cfg.input.input_clip)
    with pytest.raises(ConfigError, match="input channels"):
        backend.infer(Tokens(np.zeros((1, 2), np.int32), np.ones((1, 3), np.float32), SHAPE))


def test_refuses_an_add_it_cannot_fold(eye):
    """A residual add must be skip + a conv used only there; anything else is refused by name, not mis-computed."""
    import copy

    from edgevision.nn.layers import AddNode

    model, _ = eye
    backbone = copy.deepcopy(model.backbone)
    add = next(n for n in backbone.nodes if isinstance(n, AddNode))
    add.inputs = [add.inputs[0], add.inputs[0]]  # x + x: no conv to fold
    with pytest.raises(TypeError, match=add.name):
        WindowBackbone(backbone)


def test_compiled_step_loop_equals_the_python_one(eye):
    """window_forward.cpp issues the same ATen ops in the same order: bit-identical features, edge cases too."""
    model, cfg = eye
    native, python = WindowBackbone(model.backbone), WindowBackbone(model.backbone, native=False)
    assert native.plan is not None and python.plan is None  # g++ and ninja are dependencies of the test setup
    src = SyntheticSource(0.1, seed=4, realtime=False)
    tz = WindowTokenizer(src.sensor_size, cfg.input.downsample, cfg.input.time_bins)
    windows = [tz(w.events, w.t_start, w.t_end) for w in src]
    rng = np.random.default_rng(2)
    windows += [Tokens(np.zeros((0, 2), np.int32), np.zeros((0, 4), np.float32), SHAPE),
                Tokens(np.array([[SHAPE[0] - 1, 0]], np.int32), rng.integers(0, 30, (1, 4)).astype(np.float32), SHAPE)]
    for tk in windows:
        a = native.forward(tk.coords, tk.feats, tk.shape, cfg.input.input_clip)
        b = python.forward(tk.coords, tk.feats, tk.shape, cfg.input.input_clip)
        assert np.array_equal(a, b)


def test_without_a_compiler_the_python_loop_serves_and_says_why(eye, monkeypatch):
    import torch.utils.cpp_extension

    from edgevision.nn import window_native

    def no_compiler(**kwargs):
        raise RuntimeError("Ninja is required to load C++ extensions")

    window_native.load.cache_clear()
    monkeypatch.setattr(torch.utils.cpp_extension, "load", no_compiler)
    try:
        with pytest.warns(RuntimeWarning, match="Ninja is required.*Python step loop.*Install g\\+\\+ and ninja"):
            wb = WindowBackbone(eye[0].backbone)
    finally:
        window_native.load.cache_clear()
    assert wb.plan is None
    out = wb.forward(np.array([[3, 4]], np.int32), np.ones((1, 4), np.float32), SHAPE)
    assert out.shape == (eye[0].backbone.feature_dim,)


def test_model_forward_impl_agrees_and_unknown_impl_is_refused(eye):
    model, cfg = eye
    src = SyntheticSource(0.03, seed=5, realtime=False)
    w = next(iter(src))
    tk = WindowTokenizer(src.sensor_size, cfg.input.downsample, cfg.input.time_bins)(w.events, w.t_start, w.t_end)
    fast = make_backend("torch", model=model, input_clip=cfg.input.input_clip).infer(tk).features
    slow = make_backend("torch", model=model, input_clip=cfg.input.input_clip, impl="torch").infer(tk).features
    assert np.abs(fast - slow).max() < 1e-4
    with pytest.raises(ConfigError, match="impl"):
        make_backend("torch", model=model, input_clip=cfg.input.input_clip, impl="dense")


@pytest.mark.parametrize("shape", [(60, 80), (7, 5), (1, 1)])
def test_window_geometry_matches_the_batched_sparse_ops(shape):
    """Neighbour tables of two resolutions and the 2x2 tap table equal edgevision.nn.sparse_ops on random site
    sets (odd grids too; the lookup grid is uninitialised memory, so stale entries of earlier calls are met)."""
    from edgevision.nn import sparse_ops
    from edgevision.nn.window_geometry import window_inputs

    def neighbours(coords, shape, table):
        n = coords.shape[0]
        ref = sparse_ops.subm_neighbors(coords, shape).numpy()
        got = table.reshape(n + 1, 9)
        assert np.array_equal(np.where(ref < 0, n, ref), got[:n]) and (got[n] == n).all()

    rng = np.random.default_rng(shape[0])
    h, w = shape
    for density in (0.0, 0.1, 0.5, 1.0, 0.3):
        keys = np.flatnonzero(rng.random(h * w) < density)
        n = keys.shape[0]
        coords = torch.from_numpy(np.stack([np.zeros(n), keys // w, keys % w], 1).astype(np.int32))
        _, index, b, _ = window_inputs(coords[:, 1:].numpy(), np.zeros((n, 1), np.float32), np.inf, h, w, 3, 1, 1)
        neighbours(coords, shape, index[b[0] : b[1]])
        out_coords, parent, offset, _ = sparse_ops.downsample2x2(coords, shape)
        m = out_coords.shape[0]
        taps = index[b[1] : b[2]].reshape(m + 1, 5)
        expect = np.full((m + 1, 4), n)
        expect[parent.numpy(), offset.numpy()] = np.arange(n)
        assert np.array_equal(taps[:, :4], expect)
        assert all(parent[taps[j, 4]] == j for j in range(m)) and taps[m, 4] == n  # the bias tap is an own input
        neighbours(out_coords, (-(-h // 2), -(-w // 2)), index[b[2] : b[3]])
