"""The export/csim/estimate commands end to end through edgevision.cli.main."""

from __future__ import annotations

import json

import numpy as np

from edgevision.cli import main


def _run(capsys, argv):
    rc = main(argv)
    out = capsys.readouterr()
    return rc, out


def test_estimate_json(logits_ir, capsys):
    ir = logits_ir
    rc, out = _run(capsys, ["estimate", "--model", str(ir), "--board", "kv260", "--density", "0.1", "--json"])
    assert rc == 0, out.err
    rep = json.loads(out.out)
    b = rep["budget"]
    assert all(rep["resources"][k] <= 0.8 * b[k] for k in ("dsp", "bram18k", "lut"))
    assert rep["latency_ms"] > 0 and abs(rep["throughput_windows_s"] * rep["latency_ms"] - 1e3) < 1e-6
    assert rep["energy_mj"] > 0 and "W x latency" in rep["energy_assumptions"]
    assert {m["name"] for m in rep["modules"]} >= {"stem", "pool", "fc", "input_adapter"}


def test_unknown_ir_is_one_line_error(tmp_path, capsys):
    rc, out = _run(capsys, ["estimate", "--model", str(tmp_path), "--board", "zcu102"])
    assert rc == 2 and "not an IR directory" in out.err


def test_csim_and_export_commands(tmp_path, capsys, logits_ir, logits_design):
    """csim reuses the session's compiled library (same design -> same content hash)."""
    ir = logits_ir
    rc, out = _run(capsys, ["csim", "--model", str(ir), "--windows", "4", "--density", "0.1", "--json"])
    assert rc == 0, out.err
    rep = json.loads(out.out)
    assert rep["windows"] == 4 and rep["matched"] == 4
    assert rep["total_cycles"] >= max(rep["module_cycles"].values())
    assert rep["interval_ms"] <= rep["latency_dataflow_ms"] <= rep["latency_ms"]
    rc, out = _run(capsys, ["export", "hls", "--model", str(ir), "--board", "ultra96v2", "--out", str(tmp_path / "p"), "--json"])
    assert rc == 0, out.err
    assert (tmp_path / "p" / "edgevision_top.cpp").is_file()
    assert np.fromfile(tmp_path / "p" / "tb_data" / "expected.u64", np.uint64).size > 0
