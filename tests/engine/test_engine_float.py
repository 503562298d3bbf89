"""The float engine (numba CPU and PyTorch paths) equals spconv (BatchNorm in eval mode) within float tolerance."""

import numpy as np
import pytest
import torch

from edgevision.bench.sparse import classifier_backbone
from edgevision.engine import compile_float
from edgevision.engine.plan import plan_from_backbone
from edgevision.engine.torch_path import TorchEngine
from edgevision.ir.random import random_tokens

from .conftest import EYE_SHAPE, as_sparse, batch, edge_windows

TOL = dict(rtol=1e-4, atol=1e-4)


def spconv_ref(bb, coords, feats, shape):
    with torch.no_grad():
        if len(coords) == 0:  # spconv rejects empty tensors; the plain-PyTorch ops define the empty result
            return bb(as_sparse(coords, feats, shape), impl="torch")[0].numpy()
        return bb(as_sparse(coords, feats, shape), impl="spconv")[0].numpy()


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
        np.testing.assert_allclose(out, spconv_ref(eye_bb, coords, feats, EYE_SHAPE), **TOL)


def test_edge_windows_match_spconv(eye_bb, eye_engine):
    for name, (coords, feats) in edge_windows(EYE_SHAPE, 4, np.random.default_rng(2)).items():
        f = feats.astype(np.float32)
        np.testing.assert_allclose(eye_engine.run(coords, f), spconv_ref(eye_bb, coords, f, EYE_SHAPE), err_msg=name, **TOL)


def test_real_windows_match_spconv(eye_bb, eye_engine, real_windows):
    assert real_windows
    for coords, feats in real_windows:
        np.testing.assert_allclose(eye_engine.run(coords, feats), spconv_ref(eye_bb, coords, feats, EYE_SHAPE), **TOL)


def test_classifier_backbone_matches_spconv():
    bb, shape, _ = classifier_backbone()
    engine = compile_float(bb, shape)
    rng = np.random.default_rng(4)
    for d in (0.02, 0.2):
        coords, feats = random_tokens(rng, *shape, bb.in_channels, d)
        f = feats.astype(np.float32)
        np.testing.assert_allclose(engine.run(coords, f), spconv_ref(bb, coords, f, shape), **TOL)


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
