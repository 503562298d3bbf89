"""The PYNQ driver against the simulated overlay: register sequence, buffer sizes, results, timeouts, errors."""

from __future__ import annotations

import numpy as np
import pytest

from edgevision.errors import BackendError
from edgevision.ir.random import random_tokens
from edgevision.ir.stream import pack_tokens, words_per_token
from edgevision.quant.reference import run_network
from edgevision.runtime.pynq_driver import AcceleratorDriver, stream_spec
from edgevision.runtime.sim_overlay import ACCEL_NAME, DMA_NAME, SimOverlay, reference_words


def _driver(net, compute=None, timeout_s=0.2):
    spec = stream_spec(net)
    ov = SimOverlay(compute or reference_words(net), spec.out_dtype)
    return AcceleratorDriver(ov, spec, ov.allocate, timeout_s), ov


def test_buffers_sized_from_ir(tiny):
    _, _, net = tiny
    drv, _ = _driver(net)
    assert drv.in_buf.shape == (60 * 80 * words_per_token(4) + 1,)
    assert drv.out_buf.shape == (64 // 8,)  # 64 int8 pool outputs, 8 per word


def test_register_sequence_and_bit_exact_output(tiny):
    _, _, net = tiny
    drv, ov = _driver(net)
    coords, feats = random_tokens(np.random.default_rng(1), 60, 80, 4, 0.05)
    run = drv.run(coords, feats)
    np.testing.assert_array_equal(run.output, run_network(net, coords, feats))
    log = getattr(ov, ACCEL_NAME).log
    writes = [(name, v) for op, name, v in log if op == "write"]
    assert writes == [("num_tokens", len(coords)), ("CTRL", 1)]
    ops = [(op, name) for op, name, _ in log]
    assert ops.index(("read", "CTRL")) > ops.index(("write", "CTRL"))  # ap_done polled after ap_start
    assert ops[-1] == ("read", "cycles")
    dma = getattr(ov, DMA_NAME)
    assert dma.sendchannel.transfers == [(len(coords) * words_per_token(4) + 1) * 8]
    assert dma.recvchannel.transfers == [drv.out_buf.nbytes]


def test_empty_window(tiny):
    _, _, net = tiny
    drv, _ = _driver(net)
    run = drv.run(np.zeros((0, 2), np.int32), np.zeros((0, 4), np.int8))
    assert run.output.shape == (64,)
    np.testing.assert_array_equal(run.output, run_network(net, np.zeros((0, 2), np.int32), np.zeros((0, 4), np.int8)))


def test_missing_tlast_times_out(tiny):
    _, _, net = tiny
    drv, ov = _driver(net, timeout_s=0.05)
    coords, feats = random_tokens(np.random.default_rng(2), 60, 80, 4, 0.02)
    words = pack_tokens(coords, feats)[:-1]  # no end-of-frame word: the accelerator keeps waiting
    with pytest.raises(BackendError, match="TLAST missing"):
        drv.run_words(words, len(coords))
    assert getattr(ov, ACCEL_NAME).running


def test_malformed_stream_hangs_accelerator_and_times_out(tiny):
    _, _, net = tiny
    drv, ov = _driver(net, timeout_s=0.05)
    coords, feats = random_tokens(np.random.default_rng(3), 60, 80, 4, 0.02)
    words = pack_tokens(coords, feats)
    truncated = np.concatenate([words[:-2], words[-1:]])  # last token lost a feature word, EOF still there
    with pytest.raises(BackendError, match="timeout"):
        drv.run_words(truncated, len(coords))
    assert "multiple" in getattr(ov, ACCEL_NAME).error


def test_bad_tokens_rejected_before_sending(tiny):
    _, _, net = tiny
    drv, ov = _driver(net)
    coords, feats = random_tokens(np.random.default_rng(4), 60, 80, 4, 0.02)
    with pytest.raises(BackendError, match="raster order"):
        drv.run(coords[::-1].copy(), feats)
    with pytest.raises(BackendError, match="grid"):
        drv.run(coords + 100, feats)
    with pytest.raises(BackendError, match="int8"):
        drv.run(coords, feats.astype(np.float32))
    assert getattr(ov, ACCEL_NAME).log == []


def test_overlay_without_dma_is_reported(tiny):
    _, _, net = tiny
    spec = stream_spec(net)
    ov = SimOverlay(reference_words(net))
    del ov.ip_dict[DMA_NAME]
    with pytest.raises(BackendError, match="AXI DMA"):
        AcceleratorDriver(ov, spec, ov.allocate)


def test_known_answer_test_catches_a_wrong_accelerator(tiny):
    from edgevision.runtime.selftest import known_answer_test

    _, _, net = tiny
    good, _ = _driver(net)
    assert known_answer_test(good, net)["self_test"] == "pass"
    ref = reference_words(net)
    wrong, _ = _driver(net, compute=lambda w, n: (ref(w, n)[0] ^ np.int8(1), 0))
    with pytest.raises(BackendError, match="self-test failed"):
        known_answer_test(wrong, net)


def test_flash_without_board_is_one_line_exit_2(tmp_path, tiny, capsys):
    from edgevision.cli import main
    from edgevision.ir.schema import save_ir

    _, _, net = tiny
    save_ir(net, tmp_path / "ir")
    bit = tmp_path / "x.bit"
    bit.write_bytes(b"\0")
    (tmp_path / "x.hwh").write_text("<xml/>")
    assert main(["flash", "--board", "zcu102", "--bitstream", str(bit), "--model", str(tmp_path / "ir")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no PYNQ board" in err[0]


@pytest.mark.slow
def test_flash_self_test_on_the_c_simulated_overlay(tmp_path, tiny, capsys):
    """``flash --board sim``: the generated HLS design, built with g++, passes the known-answer test."""
    import json

    from edgevision.cli import main
    from edgevision.ir.schema import save_ir

    _, _, net = tiny
    save_ir(net, tmp_path / "ir")
    assert main(["flash", "--board", "sim", "--model", str(tmp_path / "ir"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["self_test"] == "pass" and out["accelerator"] == "csim" and out["cycles_max"] > 0


@pytest.mark.slow
def test_c_simulated_overlay_matches_reference_and_hangs_on_a_bad_stream(tiny):
    from edgevision.runtime.backends import csim_compute

    _, _, net = tiny
    compute, what = csim_compute(net)
    assert what == "csim"
    drv, ov = _driver(net, compute=compute, timeout_s=0.5)
    coords, feats = random_tokens(np.random.default_rng(5), 60, 80, 4, 0.03)
    run = drv.run(coords, feats)
    np.testing.assert_array_equal(run.output, run_network(net, coords, feats))
    assert run.cycles > 0
    with pytest.raises(BackendError, match="timeout"):  # tokens out of raster order: the design stops
        drv.run_words(pack_tokens(coords[::-1].copy(), feats[::-1].copy()), len(coords))
    assert "raster order" in getattr(ov, ACCEL_NAME).error


def test_board_app_runs_on_the_simulated_overlay(tmp_path, tiny, monkeypatch, capsys):
    """host/eye_tracker_app.py end to end with the board replaced by the simulated overlay (same driver path)."""
    import importlib.util
    import json
    from pathlib import Path

    from edgevision.ir.schema import save_ir
    from edgevision.nn.checkpoint import save_checkpoint
    from edgevision.runtime import pynq_driver

    model, cfg, net = tiny
    save_checkpoint(tmp_path / "eye.safetensors", model, cfg)
    save_ir(net, tmp_path / "ir")
    overlay = SimOverlay(reference_words(net), stream_spec(net).out_dtype)
    monkeypatch.setattr(pynq_driver, "open_board_overlay", lambda bit: (overlay, overlay.allocate))
    spec = importlib.util.spec_from_file_location("eye_tracker_app", Path(__file__).resolve().parents[2] / "host" / "eye_tracker_app.py")
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    rc = app.main(["--bitstream", "x.bit", "--checkpoint", str(tmp_path / "eye.safetensors"), "--model", str(tmp_path / "ir"),
                   "--source", "synthetic", "--seconds", "0.2", "--out", str(tmp_path / "run")])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert '"self_test": "pass"' in captured.err
    summary = json.loads(captured.out)
    assert summary["backend"] == "pynq" and summary["windows"] + summary["dropped"] == 20
    assert (tmp_path / "run" / "predictions.jsonl").is_file() and not (tmp_path / "run" / "track.mp4").exists()


def test_csim_backend_without_a_compiler_is_an_error_not_the_reference(tiny, monkeypatch, capsys):
    """``--backend csim`` never runs the NumPy reference under its name; the simulated board overlay says it does."""
    from edgevision.runtime.backends import make_backend, open_accelerator

    _, _, net = tiny
    monkeypatch.setenv("CXX", "/nonexistent/g++")
    with pytest.raises(BackendError, match=r"--backend csim: reference \(C simulation unavailable: .*g\+\+.*--backend int"):
        make_backend("csim", net=net, input_clip=15.0)
    be = open_accelerator("sim", net)
    assert be.compute_name.startswith("reference") and "simulated overlay: reference" in capsys.readouterr().err
