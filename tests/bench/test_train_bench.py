"""``edgevision bench train`` on a tiny config and a small set: the JSON keys the issue names, honest timing
fields, a reached target gives its seconds, and bad flags are refused before any data is generated."""

import json

import pytest
import yaml

from edgevision.bench import train_bench
from edgevision.cli import main

TINY = {
    "input": {"time_bins": 1},
    "backbone": {"layers": [{"op": "conv3x3_subm", "out": 8}, {"op": "conv2x2_s2", "out": 12},
                            {"op": "conv2x2_s2", "out": 16}, {"op": "pool", "grid": [3, 4]}]},
    "gru": {"hidden": 24},
    "train": {"epochs": 1, "batch_size": 8, "seq_len": 20, "stride": 10, "lr": 0.01},
}


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    monkeypatch.setattr(train_bench, "DATA_RECORDINGS", 4)
    monkeypatch.setattr(train_bench, "DATA_SECONDS", 1.5)
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(TINY))
    return cfg


def test_bench_train_reports_throughput_and_time_to_target(tiny, tmp_path, capsys):
    main(["bench", "train", "--config", str(tiny), "--data", str(tmp_path / "set"), "--steps", "4",
          "--eval-every", "2", "--target-px", "1000", "--jobs", "1", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert out["device"] == "cpu" and out["world_size"] == 1 and out["steps"] == 4
    assert out["windows_per_s"] > 0 and out["sequences_per_s"] * 20 == pytest.approx(out["windows_per_s"])
    assert out["target_reached"] and 0 < out["seconds_to_target"] <= out["train_seconds"]
    assert out["steps_to_target"] == 2 and [e["step"] for e in out["evals"]] == [2, 4]
    again = train_bench.bench_train(config=str(tiny), data=tmp_path / "set", steps=2, eval_every=1, target_px=1e-6)
    assert again["target_reached"] is False and again["seconds_to_target"] is None
    assert again["data_seconds"] < out["data_seconds"]  # the set is generated once and reused


@pytest.mark.parametrize("flag, value, message", [
    ("--steps", "0", "--steps must be >= 1"),
    ("--target-px", "-1", "--target-px must be > 0"),
    ("--device", "tpu", "--device 'tpu'"),
])
def test_bench_train_refuses_bad_flags_before_generating(tiny, tmp_path, capsys, flag, value, message):
    code = main(["bench", "train", "--config", str(tiny), "--data", str(tmp_path / "set"), flag, value])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "set").exists()
