"""Every op of edgevision.ir.ops.OPS has an implementation registered by every backend, except declared gaps."""

import importlib

import numpy as np
import pytest

from edgevision.ir.ops import BACKENDS, OPS, implementations, missing
from edgevision.ir.random import random_network, random_tokens
from edgevision.nn.tensor import SparseTensor

# The module where each backend registers its ops (importing it registers them).
BACKEND_MODULES = {
    "reference": "edgevision.quant.reference",
    "torch_int": "edgevision.quant.torch_int",
    "engine": "edgevision.engine.cpu",
    "engine_torch": "edgevision.engine.torch_path",
    "hls": "edgevision.fpga.codegen",
    "fpga_model": "edgevision.fpga.model",
    "rtl": "edgevision.rtl.codegen",
    "qonnx": "edgevision.quant.qonnx_export",
}

# Known gaps, each with its reason. Must equal what is really missing: a new op without implementations fails,
# and so does implementing a gap without removing it here.
KNOWN_GAPS = {
    ("rtl", "fc"): "the RTL library has no fc module: rtl.codegen.check_supported refuses it (HLS supports it)",
}


@pytest.fixture(scope="module", autouse=True)
def _load_backends():
    for mod in BACKEND_MODULES.values():
        importlib.import_module(mod)


def test_every_backend_has_a_module():
    assert set(BACKEND_MODULES) == set(BACKENDS)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("op", sorted(OPS))
def test_op_registered(op, backend):
    if (backend, op) in KNOWN_GAPS:
        assert op not in implementations(backend), (
            f"{backend} now implements {op}: remove ({backend!r}, {op!r}) from KNOWN_GAPS")
    else:
        assert op in implementations(backend), f"backend {backend!r} registers no implementation of op {op!r}"


def test_known_gaps_are_exactly_what_is_missing():
    assert {(b, op) for b in BACKENDS for op in missing(b)} == set(KNOWN_GAPS)
    assert all(b in BACKENDS and op in OPS for b, op in KNOWN_GAPS)


def test_random_network_has_every_op():
    net = random_network(np.random.default_rng(0), height=9, width=11, fc_out=5)
    assert {lay.op for lay in net.layers} == set(OPS)


def test_every_op_bit_exact_reference_torch_int_engine():
    """The one torch integer executor (TorchIntNetwork, also the engine's PyTorch path for int8 plans) and the
    compiled engine equal the NumPy reference on random IRs with every op."""
    from edgevision.engine import compile_ir
    from edgevision.engine.plan import plan_from_ir
    from edgevision.engine.torch_path import TorchEngine
    from edgevision.quant.reference import run_network
    from edgevision.quant.torch_int import TorchIntNetwork

    rng = np.random.default_rng(15)
    for h, w, fc in ((9, 11, 5), (13, 10, None)):
        net = random_network(rng, height=h, width=w, in_ch=3, widths=(6, 8), grid=(2, 2), fc_out=fc)
        assert {lay.op for lay in net.layers} == set(OPS) - ({"fc"} if fc is None else set())
        windows = [random_tokens(rng, h, w, 3, d) for d in (1.0 / (h * w), 0.05, 0.3, 1.0)]
        refs = [run_network(net, c, f) for c, f in windows]
        batch = SparseTensor.from_windows([(c, f.astype(np.int64)) for c, f in windows], (h, w), dtype=None)
        tint = TorchIntNetwork(net)(batch).numpy()
        tpath = TorchEngine(plan_from_ir(net)).run(batch).numpy()
        engine = compile_ir(net)
        for i, ((c, f), ref) in enumerate(zip(windows, refs)):
            np.testing.assert_array_equal(tint[i], ref, err_msg=f"torch_int window {i}")
            assert tpath.dtype == ref.dtype
            np.testing.assert_array_equal(tpath[i], ref, err_msg=f"engine torch path window {i}")
            out = engine.run(c, f)
            assert out.dtype == ref.dtype
            np.testing.assert_array_equal(out, ref, err_msg=f"engine window {i}")


@pytest.mark.parametrize("backend", BACKENDS)
def test_missing_implementation_fails_loudly(backend, monkeypatch, tmp_path):
    """A backend whose registry entry for an op is gone refuses the network, naming the op and the backend."""
    from edgevision.engine.backend import make_engine_backend
    from edgevision.engine.plan import Plan, PlanLayer
    from edgevision.engine.torch_path import TorchEngine
    from edgevision.errors import BackendError
    from edgevision.fpga.boards import get_board
    from edgevision.fpga.codegen import top_source
    from edgevision.fpga.hwgraph import build_graph
    from edgevision.fpga.model import estimate, estimate_counts
    from edgevision.rtl.latency import rtl_window_cycles
    from edgevision.ir import ops
    from edgevision.quant.qonnx_export import build_qonnx
    from edgevision.quant.reference import run_network
    from edgevision.quant.torch_int import TorchIntNetwork
    from edgevision.rtl.codegen import write_rtl

    # the RTL has no fc (KNOWN_GAPS): its network ends in the pool
    net = random_network(np.random.default_rng(2), height=6, width=7, in_ch=2, widths=(8,) if backend == "rtl" else (4,),
                         fc_out=None if backend == "rtl" else 3)
    monkeypatch.delitem(ops._IMPLS[backend], "dwconv3x3_subm")
    msg = f"backend {backend!r} has no implementation of op 'dwconv3x3_subm'"
    if backend == "rtl":  # the RTL generator refuses it as a BackendError (one line in the CLI), its model raises
        with pytest.raises(BackendError, match=msg):
            write_rtl(build_graph(net), tmp_path)
        with pytest.raises(NotImplementedError, match=msg):
            rtl_window_cycles(build_graph(net), random_tokens(np.random.default_rng(3), 6, 7, 2, 0.3)[0])
        return
    with pytest.raises(NotImplementedError, match=msg):
        if backend == "reference":
            run_network(net, *random_tokens(np.random.default_rng(3), 6, 7, 2, 0.3))
        elif backend == "torch_int":
            TorchIntNetwork(net)
        elif backend == "engine":
            make_engine_backend(net)
        elif backend == "hls":
            top_source(build_graph(net))
        elif backend == "fpga_model":
            graph = build_graph(net)
            estimate(graph, estimate_counts(graph, 0.1), get_board("zcu102"))
        elif backend == "qonnx":
            build_qonnx(net)
        else:
            dw = PlanLayer("dw", "dwconv3x3_subm", ["input"], 2, 2, 0, -np.inf, np.inf,
                           np.ones((2, 3, 3), np.float32), np.zeros(2, np.float32))
            TorchEngine(Plan("float", "float", 6, 7, 2, [dw], "dw", [(6, 7)]))
