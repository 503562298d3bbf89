"""Training reduces the loss, resume after a kill reproduces the uninterrupted run, eval/bench via the CLI."""

import csv
import json
import os
import signal
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from edgevision.cli import main
from edgevision.errors import CheckpointError
from edgevision.nn.config import config_from_dict
from edgevision.nn.train import train_eye

TINY = {
    "input": {"time_bins": 1},
    "backbone": {
        "layers": [
            {"op": "conv3x3_subm", "out": 8},
            {"op": "conv2x2_s2", "out": 12},
            {"block": "inverted_residual", "out": 12, "expand": 2},
            {"op": "conv2x2_s2", "out": 16},
            {"op": "pool", "grid": [3, 4]},
        ]
    },
    "gru": {"hidden": 24},
    "train": {"epochs": 2, "batch_size": 8, "seq_len": 20, "stride": 10, "lr": 0.01},
}


def tiny_cfg(**train):
    cfg = config_from_dict(TINY)
    for k, v in train.items():
        setattr(cfg.train, k, v)
    return cfg


class Killed(Exception):
    pass


def test_training_reduces_loss_and_writes_run(ring_dataset, tmp_path):
    torch.set_num_threads(1)
    summary = train_eye(tiny_cfg(epochs=5), ring_dataset, tmp_path / "run")
    rows = list(csv.DictReader(open(tmp_path / "run" / "log.csv")))
    losses = [float(r["train_loss"]) for r in rows]
    assert len(rows) == 5 and losses[-1] < 0.6 * losses[0]
    assert summary["epochs"] == 5 and 0 <= summary["val"]["p10"] <= 1
    for f in ("best.safetensors", "best.json", "last.safetensors", "state.pt", "curves.png", "error_cdf.png", "trajectory.png"):
        assert (tmp_path / "run" / f).is_file(), f
    meta = json.loads((tmp_path / "run" / "best.json").read_text())["meta"]
    assert len(meta["data_hash"]) == 64 and meta["train_recordings"] == 4 and meta["val_recordings"] == 1


def test_resume_after_kill_matches_uninterrupted_run(ring_dataset, tmp_path):
    torch.set_num_threads(1)
    cache = tmp_path / "cache"
    train_eye(tiny_cfg(), ring_dataset, tmp_path / "full", cache_dir=cache)

    def kill(epoch, row):
        if epoch == 0:
            raise Killed

    with pytest.raises(Killed):
        train_eye(tiny_cfg(), ring_dataset, tmp_path / "killed", cache_dir=cache, on_epoch_end=kill)
    with pytest.raises(CheckpointError, match="pass --resume"):
        train_eye(tiny_cfg(), ring_dataset, tmp_path / "killed", cache_dir=cache)
    with pytest.raises(CheckpointError, match="different config"):
        train_eye(tiny_cfg(lr=0.5), ring_dataset, tmp_path / "killed", cache_dir=cache, resume=True)
    train_eye(tiny_cfg(), ring_dataset, tmp_path / "killed", cache_dir=cache, resume=True)
    a = load_file(str(tmp_path / "full" / "last.safetensors"))
    b = load_file(str(tmp_path / "killed" / "last.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    log_a = (tmp_path / "full" / "log.csv").read_text().splitlines()
    log_b = (tmp_path / "killed" / "log.csv").read_text().splitlines()
    assert [l.rsplit(",", 1)[0] for l in log_a] == [l.rsplit(",", 1)[0] for l in log_b]  # all but seconds


def test_resume_without_state_starts_afresh(ring_dataset, tmp_path):
    torch.set_num_threads(1)
    summary = train_eye(tiny_cfg(epochs=1), ring_dataset, tmp_path / "none", resume=True)
    assert summary["epochs"] == 1


def test_cli_train_eval_and_bench(ring_dataset, tmp_path, capsys):
    cfg_path = tmp_path / "tiny.yaml"
    cfg_path.write_text(json.dumps(TINY))  # JSON is YAML
    run = tmp_path / "run"
    assert main(["train", "eye", "--config", str(cfg_path), "--data", str(ring_dataset), "--out", str(run), "--epochs", "1", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["epochs"] == 1
    assert "train eye: epoch 1/1: loss " in captured.err and " px, p1 " in captured.err  # per-epoch validation line
    ckpt = str(run / "best.safetensors")
    assert main(["eval", "eye", "--checkpoint", ckpt, "--data", str(ring_dataset), "--rate", "20", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    for k in ("p1", "p3", "p5", "p10", "mean_distance"):
        assert 0 <= res[k] <= (1 if k != "mean_distance" else 100)
    assert res["windows"] == 2 * (24 - 2)  # 24 labels per recording at 20 Hz, 2 of them closed
    assert set(res["per_recording"]) == {"te0", "te1"}
    assert main(["bench", "eye", "--checkpoint", ckpt, "--data", str(ring_dataset), "--windows", "5", "--repeats", "1", "--json"]) == 0
    bench = json.loads(capsys.readouterr().out)
    assert set(bench["backbone_ms"]) == {"spconv", "torch", "dense"}
    assert max(bench["max_abs_diff_vs_torch"].values()) < 1e-4
    assert bench["macs_per_window"]["sparse_backbone"] < bench["macs_per_window"]["dense_backbone"]
    assert main(["eval", "eye", "--checkpoint", str(tmp_path / "no.safetensors"), "--data", str(ring_dataset)]) == 2


@pytest.mark.slow
@pytest.mark.parametrize("where", ["mid-epoch", "epoch-end"])
def test_sigkill_then_resume_matches_uninterrupted_run(ring_dataset, tmp_path, where):
    """SIGKILL at a known optimizer step (train.py's EDGEVISION_TEST_KILL_AT_STEP hook), never skipped:
    mid-way through epoch 3, or right after epoch 2's last step (before its checkpoint and state are saved)."""
    cfg_path = tmp_path / "tiny.yaml"
    cfg_path.write_text(json.dumps({**TINY, "train": {**TINY["train"], "epochs": 4}}))
    base = [sys.executable, "-m", "edgevision", "train", "eye", "--config", str(cfg_path), "--data", str(ring_dataset)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("EDGEVISION_TEST_KILL_AT_STEP", None)
    full = subprocess.run(base + ["--out", str(tmp_path / "full"), "--json"], check=True, env=env, capture_output=True)
    steps_per_epoch = max(1, json.loads(full.stdout)["train_sequences"] // TINY["train"]["batch_size"])
    kill_at = 2 * steps_per_epoch + (steps_per_epoch // 2 + 1 if where == "mid-epoch" else 0)
    killed = subprocess.run(base + ["--out", str(tmp_path / "killed")], env={**env, "EDGEVISION_TEST_KILL_AT_STEP": str(kill_at)},
                            capture_output=True)
    assert killed.returncode == -signal.SIGKILL
    log = tmp_path / "killed" / "log.csv"
    assert len(log.read_text().splitlines()) - 1 == (2 if where == "mid-epoch" else 1)  # epochs finished before the kill
    subprocess.run(base + ["--out", str(tmp_path / "killed"), "--resume"], check=True, env=env, capture_output=True)
    a = load_file(str(tmp_path / "full" / "last.safetensors"))
    b = load_file(str(tmp_path / "killed" / "last.safetensors"))
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_ema_checkpoint_is_the_weight_average_and_resumes_exactly(ring_dataset, tmp_path):
    torch.set_num_threads(1)
    cache, decay = tmp_path / "cache", 0.9
    raw: list[dict] = []

    def keep(steps, model):  # every step's raw weights, to average by hand
        raw.append({k: v.detach().clone() for k, v in model.state_dict().items()})

    train_eye(tiny_cfg(epochs=1), ring_dataset, tmp_path / "plain", cache_dir=cache)
    train_eye(tiny_cfg(epochs=1, ema=decay), ring_dataset, tmp_path / "ema", cache_dir=cache, on_step=keep)
    plain = load_file(str(tmp_path / "plain" / "last.safetensors"))
    ema = load_file(str(tmp_path / "ema" / "last.safetensors"))
    name = next(k for k in plain if k.endswith("weight") and plain[k].ndim > 1)
    assert torch.equal(plain[name], raw[-1][name])  # the same steps without averaging
    expect = raw[1][name].clone()  # AveragedModel starts from the weights after the first step
    for w in raw[2:]:
        expect = decay * expect + (1 - decay) * w[name]
    assert not torch.equal(ema[name], raw[-1][name])
    assert torch.allclose(ema[name], expect, atol=1e-6)

    def kill(epoch, row):
        raise Killed

    cfg = tiny_cfg(ema=decay)
    train_eye(cfg, ring_dataset, tmp_path / "full", cache_dir=cache)
    with pytest.raises(Killed):
        train_eye(cfg, ring_dataset, tmp_path / "killed", cache_dir=cache, on_epoch_end=kill)
    train_eye(cfg, ring_dataset, tmp_path / "killed", cache_dir=cache, resume=True)
    a, b = (load_file(str(tmp_path / d / "last.safetensors")) for d in ("full", "killed"))
    assert all(torch.equal(a[k], b[k]) for k in a)
