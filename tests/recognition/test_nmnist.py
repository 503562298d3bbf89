"""N-MNIST splits (Train only / Test only / both), cross-validation folds, augmentation, the CV table and the
shipped ``models/nmnist_*`` run folders evaluated on a Test-only root."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgevision.cli import main
from edgevision.errors import ConfigError, DatasetError
from edgevision.events.core import make_events
from edgevision.recognition.recordings import fold_source, hash_split
from edgevision.recognition.sources import open_source
from edgevision.recognition.windows import Augment, augment_events

from .test_tonic_sources import write_nmnist

REPO = Path(__file__).resolve().parents[2]
REAL = REPO.parent / "shared" / "data" / "nmnist-1k" / "NMNIST" / "Train"
SHIPPED = sorted(p for p in (REPO / "models").glob("nmnist_*") if (p / "run.json").is_file())


def _write_bins(root: Path, folder: str, per_digit: int, rng) -> None:
    for digit in range(10):
        d = root / "NMNIST" / folder / str(digit)
        d.mkdir(parents=True, exist_ok=True)
        for k in range(per_digit):
            n = 60
            t = np.sort(rng.integers(0, 300_000, n))
            x, y, p = rng.integers(0, 34, n), rng.integers(0, 34, n), rng.integers(0, 2, n)
            raw = np.stack([x, y, (p << 7) | (t >> 16), (t >> 8) & 255, t & 255], axis=1).astype(np.uint8)
            raw.tofile(d / f"{k:05d}.bin")


def test_nmnist_roots_train_only_test_only_and_both(tmp_path):
    rng = np.random.default_rng(0)
    train_only, test_only = tmp_path / "tr", tmp_path / "te"
    _write_bins(train_only, "Train", 3, rng)
    _write_bins(test_only, "Test", 2, rng)
    src = open_source(f"nmnist:{train_only}")
    assert len(src) == 30 and not src.official_test.any()
    np.testing.assert_array_equal(src.split, hash_split(src.recordings))  # validation carved by recording
    src = open_source(f"nmnist:{test_only}")
    assert len(src) == 20 and src.split.all() and src.official_test.all() and len(src.indices("train")) == 0
    write_nmnist(tmp_path / "both", rng)
    src = open_source(f"nmnist:{tmp_path / 'both'}")
    test = {src.recordings[i] for i in src.indices("test")}
    assert test == {f"NMNIST/Test/{d}/00001.bin" for d in range(10)}
    with pytest.raises(DatasetError, match="Train|Test"):
        open_source(f"nmnist:{tmp_path}")


def test_folds_partition_training_recordings_and_never_hold_test(tmp_path):
    rng = np.random.default_rng(1)
    _write_bins(tmp_path, "Train", 6, rng)
    _write_bins(tmp_path, "Test", 1, rng)
    src = open_source(f"nmnist:{tmp_path}")
    held = []
    for k in range(5):
        f = fold_source(src, 5, k)
        assert len(f) == 60 and not any(r.startswith("NMNIST/Test") for r in f.recordings)
        held += [f.recordings[i] for i in f.indices("test")]
        i = int(f.indices("test")[0]) if len(f.indices("test")) else 0
        j = src.recordings.index(f.recordings[i])
        np.testing.assert_array_equal(f.load(i), src.load(j))
    assert sorted(held) == sorted(r for r in src.recordings if r.startswith("NMNIST/Train"))
    # Fold 0 of 5 is the hash split a Train-only root uses for validation.
    f0 = fold_source(src, 5, 0)
    np.testing.assert_array_equal(f0.split, hash_split(f0.recordings))
    with pytest.raises(ConfigError):
        fold_source(src, 5, 5)


def test_augment_shifts_and_drops_in_frame():
    rng = np.random.default_rng(2)
    n = 5000
    ev = make_events(np.arange(n, dtype=np.int64), rng.integers(0, 34, n), rng.integers(0, 34, n), rng.integers(0, 2, n))
    out = augment_events(ev, (34, 34), Augment(shift_px=0, drop_events=0.5), rng)
    assert 0.45 * n <= len(out) <= n and np.all(np.diff(out["t"]) >= 0)
    assert np.isin(out["t"], ev["t"]).all()
    for _ in range(5):
        out = augment_events(ev, (34, 34), Augment(shift_px=3), rng)
        assert out["x"].max() < 34 and out["y"].max() < 34
        src = ev[np.isin(ev["t"], out["t"])]
        dx = np.unique(out["x"].astype(int) - src["x"].astype(int))
        dy = np.unique(out["y"].astype(int) - src["y"].astype(int))
        assert len(dx) == len(dy) == 1 and abs(dx[0]) <= 3 and abs(dy[0]) <= 3
    assert augment_events(ev[:0], (34, 34), Augment(3, 0.2), rng).shape == (0,)


def test_cv_runs_eval_on_own_fold_and_table(tmp_path, capsys):
    rng = np.random.default_rng(3)
    root = tmp_path / "data"
    _write_bins(root, "Train", 4, rng)
    runs = tmp_path / "runs"
    cfg = json.dumps({"num_points": 64, "num_groups": 8, "neighbours": 4, "features": 32})
    for k in range(2):
        assert main(["train", "classify", "--model", "random-features", "--data", f"nmnist:{root}", "--out",
                     str(runs / f"random-features_f{k}"), "--folds", "2", "--fold", str(k), "--window-us", "400000",
                     "--step-us", "400000", "--shift-px", "2", "--drop-events", "0.2", "--model-config", cfg, "--json"]) == 0
        trained = json.loads(capsys.readouterr().out)
        info = json.loads((runs / f"random-features_f{k}" / "run.json").read_text())
        assert info["train"]["folds"] == 2 and info["train"]["fold"] == k and info["train"]["shift_px"] == 2
        # Without --data the run is scored on its own held-out fold, as during training.
        assert main(["eval", "classify", "--checkpoint", str(runs / f"random-features_f{k}"), "--json"]) == 0
        ev = json.loads(capsys.readouterr().out)
        assert ev["recordings"] == trained["test_recordings"] and ev["recording_acc"] == pytest.approx(trained["test_recording_acc"])
    doc = tmp_path / "doc.md"
    doc.write_text("# R\n\ntext\n")
    assert main(["bench", "classify-cv", "--runs", str(runs), "--doc", str(doc), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rows"][0]["folds"] == 2 and (runs / "cv.json").is_file()
    assert "| random-features |" in doc.read_text() and doc.read_text().startswith("# R\n\ntext")
    assert main(["bench", "classify-cv", "--runs", str(tmp_path / "none")]) == 2


def _test_only_root(tmp_path: Path, per_digit: int = 2) -> Path:
    """A fake held-out root: a few real Train recordings copied into the NMNIST/Test layout (test only)."""
    root = tmp_path / "heldout"
    for digit in range(10):
        files = sorted((REAL / str(digit)).glob("*.bin"))[-per_digit:]
        dest = root / "NMNIST" / "Test" / str(digit)
        dest.mkdir(parents=True)
        for f in files:
            shutil.copy(f, dest / f.name)
    return root


@pytest.mark.skipif(not REAL.is_dir() or not SHIPPED, reason="needs ../shared/data/nmnist-1k and models/nmnist_*")
@pytest.mark.parametrize("run", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_model_evaluates_on_a_test_only_root(run, tmp_path, capsys):
    root = _test_only_root(tmp_path)
    assert main(["eval", "classify", "--checkpoint", str(run), "--data", f"nmnist:{root}", "--part", "test", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["recordings"] == 20 and out["part"] == "test"
    assert out["recording_acc"] >= 0.5  # training recordings of a trained model: a smoke check, not a score
    size = sum(f.stat().st_size for f in run.iterdir())
    assert size < 2_000_000, f"{run}: {size} bytes"


@pytest.mark.slow
def test_int8_classifier_csim_on_nmnist_windows(tmp_path, capsys):
    """quantize --classifier on an N-MNIST fold run, then eval classify-csim: bit-exact, accuracy reported."""
    from edgevision.quant.classifier_run import quantize_classifier

    rng = np.random.default_rng(4)
    root = tmp_path / "data"
    _write_bins(root, "Train", 2, rng)
    run = tmp_path / "esda_f0"
    layers = [{"op": "conv3x3_subm", "out": 8, "act": "relu"}, {"op": "conv2x2_s2", "out": 8, "act": "relu"},
              {"op": "pool", "grid": [2, 2]}]
    assert main(["train", "classify", "--model", "esda", "--data", f"nmnist:{root}", "--out", str(run), "--epochs", "1",
                 "--batch-size", "4", "--window-us", "100000", "--step-us", "100000", "--model-config",
                 json.dumps({"downsample": 1, "time_bins": 2, "input_clip": 8.0, "layers": layers}), "--json"]) == 0
    capsys.readouterr()
    quantize_classifier(run, tmp_path / "q", calibrate_windows=16)
    assert main(["eval", "classify-csim", "--ir", str(tmp_path / "q"), "--checkpoint", str(run), "--limit", "6", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["bit_exact"] and out["windows"] == out["bit_exact_windows"] >= 6
    assert out["latency_ms_median"] > 0 and 0.0 <= out["recording_acc_int8_csim"] <= 1.0


def test_grid_random_features_and_mean_pooled_spikepoint_shapes():
    import torch

    from edgevision.recognition.models import build_model

    pts = torch.rand(3, 64, 3)
    rf = build_model("random-features", 10, {"num_points": 64, "num_groups": 16, "neighbours": 4, "features": 8, "grid": 3})
    assert rf.features(pts).shape == (3, 8 * (2 + 9)) and rf(pts).shape == (3, 10)
    sp = build_model("spikepoint", 10, {"num_points": 64, "num_groups": 8, "neighbours": 4, "timesteps": 2,
                                        "widths": [8, 8, 8, 8], "global_units": 1, "global_pool": "mean"})
    assert sp.scores(sp(pts)).shape == (3, 10)
    with pytest.raises(ValueError):
        build_model("spikepoint", 10, {"global_pool": "sum"})
