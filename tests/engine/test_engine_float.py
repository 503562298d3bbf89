"""The float engine (numba CPU and PyTorch paths) equals spconv (BatchNorm in eval mode) within float tolerance."""

from pathlib import Path

import numpy as np
import pytest
import torch

from edgevision.bench.sparse import classifier_net
from edgevision.engine import compile_float
from edgevision.engine.plan import plan_from_backbone
from edgevision.engine.torch_path import TorchEngine
from edgevision.ir.random import random_tokens

from .conftest import EYE_SHAPE, as_sparse, batch, edge_windows

TOL = dict(rtol=1e-4, atol=1e-4)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """spconv 2.3.8's CPU forward is wrong with several OpenMP threads (seen: 0.3-2.4 off on an all-active 60x80
    window on a 2-core machine, and after ``numba.set_num_threads``); ``torch.set_num_threads(1)`` makes it exact."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def assert_matches_references(out, bb, coords, feats, shape, msg=""):
    """``out`` equals the plain-PyTorch ops and spconv (eval-mode BatchNorm) within float tolerance."""
    x = as_sparse(coords, feats, shape)
    with torch.no_grad():
        np.testing.assert_allclose(out, bb(x, impl="torch")[0].numpy(), err_msg=msg, **TOL)
        if len(coords):  # spconv rejects empty tensors
            np.testing.assert_allclose(out, bb(x, impl="spconv")[0].numpy(), err_msg=msg, **TOL)


@pytest.fixture(scope="module")
def eye_engine(eye_bb):
    return compile_float(eye_bb, EYE_SHAPE)


@pytest.mark.parametrize("density", [0.01, 0.05, 0.3])
def test_random_windows_match_spconv(eye_bb, eye_engine, density):
    rng = np.random.default_rng(int(density * 1000))
    for _ in range(2):
        coords, feats = random_tokens(rng, *EYE_SHAPE, 4, density)
        feats = feats.astype(np.float32)
        out = eye_engine.run(coords, feats)
        assert out.dtype == np.float32 and out.shape == (eye_bb.feature_dim,)
        assert_matches_references(out, eye_bb, coords, feats, EYE_SHAPE)


def test_edge_windows_match_spconv(eye_bb, eye_engine):
    for name, (coords, feats) in edge_windows(EYE_SHAPE, 4, np.random.default_rng(2)).items():
        f = feats.astype(np.float32)
        assert_matches_references(eye_engine.run(coords, f), eye_bb, coords, f, EYE_SHAPE, name)


def test_real_windows_match_spconv(eye_bb, eye_engine, real_windows):
    assert real_windows
    for coords, feats in real_windows:
        assert_matches_references(eye_engine.run(coords, feats), eye_bb, coords, feats, EYE_SHAPE)


def test_classifier_backbone_matches_spconv():
    net = classifier_net()
    bb, shape = net.backbone, net.grid
    engine = compile_float(bb, shape)
    rng = np.random.default_rng(4)
    for d in (0.02, 0.2):
        coords, feats = random_tokens(rng, *shape, bb.in_channels, d)
        f = feats.astype(np.float32)
        assert_matches_references(engine.run(coords, f), bb, coords, f, shape)


def test_batchnorm_is_folded_not_ignored(eye_bb):
    plan = plan_from_backbone(eye_bb, *EYE_SHAPE)
    node = eye_bb.nodes[0]
    lay = plan.layers[0]
    scale = (node.bn.weight / torch.sqrt(node.bn.running_var + node.bn.eps)).detach().numpy()
    np.testing.assert_allclose(lay.weight, node.weight.detach().numpy() * scale[:, None, None, None], rtol=1e-5)
    assert not np.allclose(lay.weight, node.weight.detach().numpy())


def test_torch_path_matches_on_a_batch(eye_bb, real_windows):
    wins = list(edge_windows(EYE_SHAPE, 4, np.random.default_rng(5)).values()) + list(real_windows[:2])
    wins = [(c, np.asarray(f, np.float32)) for c, f in wins]
    out = TorchEngine(plan_from_backbone(eye_bb, *EYE_SHAPE)).run(batch(wins, EYE_SHAPE))
    with torch.no_grad():
        ref = eye_bb(batch(wins, EYE_SHAPE), impl="torch")
    np.testing.assert_allclose(out.numpy(), ref.numpy(), **TOL)


def test_engine_from_a_saved_checkpoint(tmp_path, eye_bb, real_windows):
    """The benchmark's checkpoint path: save an eye tracker, reload its backbone, compile, compare."""
    from edgevision.bench.sparse import eye_backbone
    from edgevision.nn.checkpoint import save_checkpoint
    from edgevision.nn.config import load_config
    from edgevision.nn.eye_model import EyeTracker

    cfg = load_config(Path(__file__).resolve().parents[2] / "models" / "eye_small.yaml")
    model = EyeTracker(cfg)
    model.backbone.load_state_dict(eye_bb.state_dict())
    path = save_checkpoint(tmp_path / "eye.safetensors", model, cfg)
    bb, shape, weights = eye_backbone(path)
    assert weights == str(path) and shape == EYE_SHAPE
    engine = compile_float(bb, shape)
    coords, feats = real_windows[0]
    assert_matches_references(engine.run(coords, feats), eye_bb, coords, feats, EYE_SHAPE)
