"""QONNX export (``quant export-qonnx``): the graph, run by qonnx, gives the integer reference's values bit for bit."""

import json
from pathlib import Path

import numpy as np
import pytest

from edgevision.cli import main
from edgevision.errors import IRError
from edgevision.ir.ops import OPS
from edgevision.ir.random import random_network, random_tokens
from edgevision.ir.schema import Layer, load_ir, validate
from edgevision.quant.qonnx_export import QONNX_DOMAIN, _check_exact, build_qonnx, dense_inputs, export_qonnx, run_qonnx
from edgevision.quant.reference import quantize_input, run_network

qonnx = pytest.importorskip("qonnx")
from qonnx.core.modelwrapper import ModelWrapper  # noqa: E402
from qonnx.core.onnx_exec import execute_onnx  # noqa: E402

MODELS = Path(__file__).resolve().parents[2] / "models"


def _every_op_network(requant_fc: bool):
    """A random ESDA-style network on an odd-sized grid (ceil-mode stride 2), one ReLU6-like clip, ending in an
    fc that gives int32 logits or (``requant_fc``) a requantized int8 vector."""
    rng = np.random.default_rng(11)
    net = random_network(rng, height=23, width=31, widths=(8, 12), grid=(2, 3), fc_out=None if requant_fc else 6)
    net.layer("b0_expand").attrs["act_max"] = 90
    if requant_fc:
        fin = net.layer("pool").attrs["out_ch"] * 6
        net.layers.append(Layer("fc", "fc", ["pool"], {"in_ch": fin, "out_ch": 7, "requant": True, "shift": 14,
                                                       "relu": False, "act_max": 127, "scale": 0.1, "bits": 8},
                                {"weight": rng.integers(-127, 128, (7, fin)).astype(np.int8),
                                 "bias": rng.integers(-500, 500, 7).astype(np.int32),
                                 "mult": rng.integers(10, 60, 7).astype(np.int32)}))
        net.output = "fc"
        net = validate(net)
    assert {lay.op for lay in net.layers} == set(OPS)
    return net


def test_eye_small_int8_bit_exact_on_simulated_windows(tmp_path, sim_windows):
    net = load_ir(MODELS / "eye_small_int8")
    res = export_qonnx(MODELS / "eye_small_int8", tmp_path / "eye.onnx", check=0)
    model = ModelWrapper(res["out"])
    ops = {n.op_type for n in model.graph.node}
    assert "Quant" in ops and {"Conv", "MaxPool", "MatMul", "Mod"} <= ops
    assert all(n.domain == QONNX_DOMAIN for n in model.graph.node if n.op_type == "Quant")
    conv_w = [n.input[1] for n in model.graph.node if n.op_type == "Conv"]
    assert conv_w and all(model.get_tensor_datatype(t).name == "INT8" for t in conv_w)  # 8-bit weights for FINN/hls4ml
    assert model.get_tensor_datatype(net.output).name == "INT8"
    for i in (0, len(sim_windows) // 2, len(sim_windows) - 1):
        t = sim_windows[i]
        feats = quantize_input(t.feats, net.input)
        ref = run_network(net, t.coords, feats)
        assert len(t.coords) > 0 and np.any(ref != 0)
        got = run_qonnx(model, net, t.coords, feats)
        assert got.dtype == np.int8
        np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("requant_fc", [False, True])
def test_random_network_every_op_bit_exact(requant_fc):
    net = _every_op_network(requant_fc)
    model = ModelWrapper(build_qonnx(net))
    rng = np.random.default_rng(3)
    h, w, c = net.input.height, net.input.width, net.input.channels
    for density in (0.0, 0.01, 0.15, 1.0):  # empty window, empty pool cells, typical, every site
        coords, feats = random_tokens(rng, h, w, c, density)
        ref = run_network(net, coords, feats)
        got = run_qonnx(model, net, coords, feats)
        assert got.dtype == ref.dtype == (np.int8 if requant_fc else np.int32)
        np.testing.assert_array_equal(got, ref)
    # every intermediate activation too: reference values on active sites, zero elsewhere
    coords, feats = random_tokens(rng, h, w, c, 0.2)
    ctx = execute_onnx(model, dense_inputs(net, coords, feats), return_full_exec_context=True)
    for name, val in run_network(net, coords, feats, return_all=True).items():
        if isinstance(val, tuple):
            lay_c, lay_f = val
            dense = np.zeros((1, lay_f.shape[1]) + net.shapes()[name], np.int64)
            dense[0, :, lay_c[:, 0], lay_c[:, 1]] = lay_f
            np.testing.assert_array_equal(ctx[name], dense, err_msg=name)
        else:
            np.testing.assert_array_equal(ctx[name].reshape(-1), val, err_msg=name)


def test_nmnist_int32_logits_bit_exact(tmp_path):
    net = load_ir(MODELS / "nmnist_esda_int8")
    path = export_qonnx(MODELS / "nmnist_esda_int8", tmp_path / "n.onnx", check=0)["out"]
    model = ModelWrapper(path)
    assert model.graph.output[0].type.tensor_type.elem_type == 6  # INT32 logits
    rng = np.random.default_rng(5)
    for density in (0.05, 0.3):
        coords, feats = random_tokens(rng, 34, 34, 4, density)
        ref = run_network(net, coords, feats)
        assert ref.dtype == np.int32
        np.testing.assert_array_equal(run_qonnx(model, net, coords, feats), ref)


def test_still_bit_exact_after_qonnx_cleanup():
    """What a FINN / hls4ml user runs first (qonnx cleanup: constant folding, renaming, datatype inference)."""
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.util.cleanup import cleanup_model

    net = _every_op_network(False)
    cleaned = cleanup_model(ModelWrapper(build_qonnx(net))).transform(InferDataTypes())
    coords, feats = random_tokens(np.random.default_rng(8), 23, 31, 4, 0.2)
    np.testing.assert_array_equal(run_qonnx(cleaned, net, coords, feats), run_network(net, coords, feats))


def test_inexact_float32_accumulator_is_refused():
    with pytest.raises(IRError, match="2\\*\\*24"):
        _check_exact("wide", np.full((2, 1100), 127, np.int8), 128)
    _check_exact("ok", np.full((2, 1000), 127, np.int8), 128)


def test_cli_export_qonnx(tmp_path, capsys):
    out = tmp_path / "sub" / "eye.onnx"
    assert main(["quant", "export-qonnx", "--model", str(MODELS / "eye_small_int8"), "--out", str(out), "--json",
                 "--check", "1"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["out"] == str(out) and out.is_file() and res["quant_nodes"] > 0 and "bit-exact" in res["check"]
    assert not [p for p in out.parent.iterdir() if p.name != "eye.onnx"]  # no temporary left behind

    assert main(["quant", "export-qonnx", "--model", str(tmp_path / "missing"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("edgevision: error:") and err.count("\n") == 1
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["quant", "export-qonnx", "--model", str(MODELS / "eye_small_int8"), "--out", str(blocker / "a.onnx"),
                 "--check", "0"]) == 2
    err = capsys.readouterr().err
    assert "cannot write" in err and err.count("\n") == 1
