"""Rule books: built once per resolution, shared by every submanifold layer there, equal to the reference's."""

import numpy as np

from edgevision.engine import compile_ir, kernels
from edgevision.engine.plan import plan_from_ir
from edgevision.engine.torch_path import TorchEngine
from edgevision.ir.random import random_network, random_tokens
from edgevision.ir.schema import Layer, validate
from edgevision.nn import sparse_ops
from edgevision.quant.reference import downsample_sites, neighbor_table, run_network

from .conftest import batch


def test_tables_equal_reference_on_every_level():
    levels = np.array([(61, 79), (31, 40), (16, 20), (8, 10)], np.int64)
    rng = np.random.default_rng(0)
    for density in (0.0, 0.03, 0.5, 1.0):
        coords, _ = random_tokens(rng, 61, 79, 1, density)
        scratch = np.full(61 * 79, -1, np.int32)
        status, start, ys, xs, nbr, child = kernels._build_geometry(coords, levels, np.ones(4, np.uint8), scratch)
        assert status == kernels.OK
        assert (scratch == -1).all()  # the shared index grid is left clean for the next window
        cur = coords
        for lv in range(4):
            a, b = start[lv], start[lv + 1]
            np.testing.assert_array_equal(np.stack([ys[a:b], xs[a:b]], 1), cur)
            np.testing.assert_array_equal(nbr[a * 9 : b * 9].reshape(-1, 9), neighbor_table(cur, tuple(levels[lv])))
            if lv == 3:
                break
            nxt, parent, tap, _ = downsample_sites(cur, tuple(levels[lv]))
            kids = child[b * 4 : (b + len(nxt)) * 4].reshape(-1, 4)
            assert (kids >= 0).sum() == len(cur)
            np.testing.assert_array_equal(kids[parent, tap], np.arange(len(cur)))
            cur = nxt


def shared_net():
    """A random IR with a second submanifold conv on the stem's sites (two layers share level 0's table)."""
    rng = np.random.default_rng(0)
    net = random_network(rng, widths=(8, 16, 16))
    stem = net.layers[0]
    w = rng.integers(-127, 128, (8, 3, 3, 8)).astype(np.int8)
    extra = Layer("stem2", "conv3x3_subm", ["stem"], dict(stem.attrs, in_ch=8, out_ch=8),
                  {"weight": w, "bias": stem.tensors["bias"].copy(), "mult": stem.tensors["mult"].copy()})
    net.layers.insert(1, extra)
    net.layers[2].inputs = ["stem2"]
    return validate(net)


def test_one_neighbour_table_per_resolution():
    net = shared_net()
    plan = plan_from_ir(net)
    subm = [l for l in plan.layers if l.op in ("conv3x3_subm", "dwconv3x3_subm")]
    engine = compile_ir(net)
    assert len(subm) == int(engine._need_nbr.sum()) + 1
    assert sorted({l.level for l in subm}) == list(np.flatnonzero(engine._need_nbr))
    assert len(plan.levels) == 4 and plan.levels[1] == (30, 40)
    coords, feats = random_tokens(np.random.default_rng(1), 60, 80, 4, 0.2)
    np.testing.assert_array_equal(engine.run(coords, feats), run_network(net, coords, feats))


def test_torch_path_builds_each_rulebook_once(monkeypatch):
    calls = {"nbr": 0, "down": 0}
    real_nbr, real_down = sparse_ops.subm_neighbors, sparse_ops.downsample2x2

    def nbr(*a):
        calls["nbr"] += 1
        return real_nbr(*a)

    def down(*a):
        calls["down"] += 1
        return real_down(*a)

    monkeypatch.setattr(sparse_ops, "subm_neighbors", nbr)
    monkeypatch.setattr(sparse_ops, "downsample2x2", down)
    net = shared_net()
    plan = plan_from_ir(net)
    coords, feats = random_tokens(np.random.default_rng(0), 60, 80, 4, 0.1)
    out = TorchEngine(plan).run(batch([(coords, feats)], (60, 80)))
    assert calls == {"nbr": len(plan.levels), "down": len(plan.levels) - 1}
    np.testing.assert_array_equal(out[0].numpy(), run_network(net, coords, feats))
