"""The engine as a runtime backend, and its CLI commands."""

import json

import numpy as np
import pytest

from edgevision.cli import main
from edgevision.engine.backend import make_engine_backend
from edgevision.errors import BackendError
from edgevision.ir.random import random_network, random_tokens
from edgevision.ir.schema import save_ir
from edgevision.quant.reference import run_network

from .conftest import EYE_SHAPE


@pytest.fixture(scope="module")
def ir_dir(tmp_path_factory):
    net = random_network(np.random.default_rng(0), fc_out=4)
    return save_ir(net, tmp_path_factory.mktemp("ir") / "net"), net


def test_backend_from_ir_dir_is_exact(ir_dir):
    path, net = ir_dir
    backend = make_engine_backend(path)
    coords, feats = random_tokens(np.random.default_rng(1), 60, 80, 4, 0.1)
    np.testing.assert_array_equal(backend(coords, feats), run_network(net, coords, feats))
    assert backend.describe()["mode"] == "int8"


def test_backend_from_backbone(eye_bb):
    cpu = make_engine_backend(eye_bb, shape=EYE_SHAPE)
    torch_cpu = make_engine_backend(eye_bb, device="cpu:0", shape=EYE_SHAPE)
    coords, feats = random_tokens(np.random.default_rng(2), *EYE_SHAPE, 4, 0.05)
    f = feats.astype(np.float32)
    np.testing.assert_allclose(cpu.run(coords, f), torch_cpu.run(coords, f), rtol=1e-4, atol=1e-4)


def test_backend_errors(eye_bb):
    with pytest.raises(BackendError, match="shape"):
        make_engine_backend(eye_bb)
    with pytest.raises(BackendError, match="expected an IR network"):
        make_engine_backend(42)
    with pytest.raises(BackendError, match="unavailable"):
        make_engine_backend(eye_bb, device="nosuchdevice", shape=EYE_SHAPE)


def test_cli_engine_check(ir_dir, capsys):
    path, _ = ir_dir
    assert main(["engine", "check", str(path), "--windows", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["bit_exact"] is True and out["windows"] == 3 and out["engine_ms"] > 0


def test_cli_engine_check_missing_ir(tmp_path, capsys):
    assert main(["engine", "check", str(tmp_path / "none")]) == 2
    assert "not an IR directory" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_bench_sparse(tmp_path, capsys):
    out_file = tmp_path / "bench.json"
    assert main(["bench", "sparse", "--windows", "2", "--repeats", "1", "--json", "--output", str(out_file)]) == 0
    res = json.loads(capsys.readouterr().out)
    assert json.loads(out_file.read_text()) == res
    for key in ("eye", "classifier"):
        e = res[key]
        for k in ("latency_ms", "spconv_ms", "dense_ms", "speedup_vs_spconv", "speedup_vs_dense", "macs", "fraction_of_floor"):
            assert e[k] > 0, (key, k)
        assert set(e["densities"]) == {"0.01", "0.03", "0.10"}
        assert e["max_abs_diff_vs_torch"] < 1e-3, key
        assert e["windows"] == 2 and 0 < e["density"] < 1, key
    assert "synth-gesture rendered" in res["classifier"]["windows_source"]
    assert res["gemm_gflops"] > 0


@pytest.mark.slow
def test_gpu_benchmark_runs_on_cpu_device():
    from edgevision.bench.sparse import run_gpu_benchmark

    res = run_gpu_benchmark("cpu", windows=2, batch=2, repeats=1)
    for key in ("eye", "classifier"):
        for row in [res[key], *res[key]["densities"].values()]:  # real-density windows, then each density
            assert row["batch1_ms"] > 0 and row["batch2_windows_per_s"] > 0
            assert row["max_abs_diff_vs_dense"] < 1e-3
    assert "synth-gesture rendered" in res["classifier"]["windows_source"]


def test_cli_bench_sparse_without_cuda(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert main(["bench", "sparse", "--device", "cuda"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err
