"""``edgevision bench eye-shift``: the integer backbone it evaluates with, its set cache, and an end-to-end smoke run."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from edgevision.bench.eye_shift import METRIC_KEYS, IRBackbone, cached_set
from edgevision.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
CHECKPOINT = ROOT / "models" / "eye_small.safetensors"
IR_DIR = ROOT / "models" / "eye_small_int8"


def test_ir_backbone_is_the_integer_reference(ring_dataset):
    from edgevision.ir.schema import load_ir
    from edgevision.nn.checkpoint import load_eye_tracker
    from edgevision.nn.eye_data import load_split, make_batch
    from edgevision.quant.reference import dequantize_output, quantize_input, run_network

    model, cfg = load_eye_tracker(CHECKPOINT)
    rec = load_split(ring_dataset, "test", cfg)[0]
    net = load_ir(IR_DIR)
    slots = [0, 7, 30]
    x, _ = make_batch([rec], np.array([[0, s] for s in slots]), 1)
    got = IRBackbone(net, model.backbone.feature_dim)(x).numpy()
    for b, s in enumerate(slots):
        coords, feats, _ = rec.windows(s, s + 1)
        ref = dequantize_output(net, run_network(net, coords.astype(np.int32), quantize_input(feats.astype(np.float32), net.input)))
        np.testing.assert_array_equal(got[b], ref)
    with pytest.raises(ConfigError, match="expects 7"):
        IRBackbone(net, 7)(x)


def test_sets_are_cached_by_parameters(tmp_path):
    calls = []

    def gen(out, n, s, seed):
        calls.append((n, s, seed))
        out.mkdir(parents=True)
        (out / "manifest.json").write_text("{}")

    a = cached_set("own", gen, tmp_path, 2, 0.5, 3)
    assert cached_set("own", gen, tmp_path, 2, 0.5, 3) == a and len(calls) == 1
    assert cached_set("own", gen, tmp_path, 3, 0.5, 3) != a and len(calls) == 2
    stale = tmp_path / f".{a.name}.tmp999999999"  # left by a killed run
    stale.mkdir()
    a_manifest = a / "manifest.json"
    a_manifest.unlink()  # incomplete: generated again, the stale folder removed
    cached_set("own", gen, tmp_path, 2, 0.5, 3)
    assert len(calls) == 3 and a_manifest.is_file() and not stale.exists()
    assert not list(tmp_path.glob(".*tmp*"))


def _check_metrics(m: dict) -> None:
    assert set(METRIC_KEYS) <= set(m)
    assert 0 <= m["p1"] <= m["p3"] <= m["p5"] <= m["p10"] <= 1
    assert 0 < m["mean_distance"] < 80 and m["windows"] > 0 and m["jitter"] >= 0
    assert math.isfinite(m["offset_dx"]) and math.isfinite(m["offset_dy"])
    assert set(m["phases"]) == {"fixation", "saccade", "blink"}
    assert sum(p["windows"] for p in m["phases"].values()) == m["windows"]


@pytest.mark.slow
def test_bench_eye_shift_end_to_end(tmp_path, capsys, monkeypatch):
    from edgevision.cli import main
    from edgevision.sim.eye_domain import HELDOUT_FACTORS

    monkeypatch.setattr("edgevision.bench.eye_shift.sim_hash", lambda: "fixed")  # sources may change mid-test here

    args = ["bench", "eye-shift", "--json", "--recordings", "2", "--data-seconds", "0.3", "--cache", str(tmp_path / "cache")]
    assert main([*args, "--out", str(tmp_path / "shift.json")]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["checkpoint"].endswith("eye_small.safetensors") and res["int8"] is None and res["seconds"] == 0.3
    assert set(res["ranges"]) == set(HELDOUT_FACTORS) and res["sets"][:2] == ["own", "family"]
    for m in [res["own"], res["family"], *res["ranges"].values()]:
        _check_metrics(m)
        _check_metrics(m["filtered"])
        assert m["filtered"]["windows"] == m["windows"]
    assert res["own"]["split"] == "all"  # 2 recordings: 1 subject, no test split
    assert json.loads((tmp_path / "shift.json").read_text())["own"] == res["own"]
    assert (tmp_path / "shift.png").stat().st_size > 10_000
    sets = sorted(p.name for p in (tmp_path / "cache").iterdir())

    assert main([*args, "--int8", str(IR_DIR)]) == 0  # the cached sets, evaluated with the integer backbone
    res8 = json.loads(capsys.readouterr().out)
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sets
    assert res8["int8"] == str(IR_DIR) and res8["own"]["data"] == res["own"]["data"]
    _check_metrics(res8["own"])
    assert abs(res8["own"]["mean_distance"] - res["own"]["mean_distance"]) < 0.5
