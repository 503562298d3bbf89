"""`bench sparse`'s classifier part: real-density windows of a synthetic gesture set, random or trained ESDA weights."""

import numpy as np
import pytest

from edgevision.bench.sparse import classifier_net, gesture_windows, time_windows
from edgevision.errors import ConfigError
from edgevision.recognition.synth import SynthConfig, synthesize
from edgevision.recognition.train import TrainSettings, train_classifier

SMALL_ESDA = {"layers": [{"op": "conv3x3_subm", "out": 8}, {"op": "conv2x2_s2", "out": 16}, {"op": "pool", "grid": [1, 1]}]}


def _check_windows(wins, grid, channels, clip):
    h, w = grid
    for coords, feats in wins:
        assert coords.dtype == np.int32 and feats.shape == (len(coords), channels)
        assert 0 < len(coords) < h * w
        assert coords[:, 0].min() >= 0 and coords[:, 0].max() < h and coords[:, 1].min() >= 0 and coords[:, 1].max() < w
        flat = coords[:, 0].astype(np.int64) * w + coords[:, 1]
        assert np.all(np.diff(flat) > 0)  # unique, raster order: what the engine takes
        assert feats.max() <= clip and feats.min() >= 0 and feats.sum() > 0


def test_rendered_gesture_windows_time_on_the_default_classifier():
    net = classifier_net()
    assert net.grid == (64, 64) and "random init" in net.weights
    assert not net.backbone.training
    bn = [m for m in net.backbone.modules() if m.__class__.__name__ == "BatchNorm1d"]
    assert bn and all(float(m.running_var.min()) >= 0.5 and float(m.running_mean.abs().max()) > 0 for m in bn)
    wins, source = gesture_windows(net, 2)
    assert len(wins) == 2 and "rendered" in source
    _check_windows(wins, net.grid, net.backbone.in_channels, net.model_cfg.input_clip)
    res = time_windows(net.backbone, net.grid, wins, repeats=1)
    assert res["windows"] == 2 and 0.0 < res["density"] < 1.0
    assert res["latency_ms"] > 0 and res["spconv_ms"] > 0 and res["dense_ms"] > 0 and res["macs"] > 0
    assert res["max_abs_diff_vs_spconv"] < 1e-3 and res["max_abs_diff_vs_torch"] < 1e-3


def test_set_folder_and_trained_run(tmp_path):
    data = tmp_path / "set"
    synthesize(data, 20, seed=3, cfg=SynthConfig(size=64, fps=100), progress=False)
    run = tmp_path / "run"
    train_classifier("esda", str(data), run, settings=TrainSettings(epochs=1, batch_size=4), model_overrides=SMALL_ESDA,
                     progress=False)
    net = classifier_net(run)
    assert net.grid == (32, 32) and str(run) in net.weights and net.sensor_size == (64, 64)
    wins, source = gesture_windows(net, 2, data)
    assert len(wins) == 2 and str(data) in source
    _check_windows(wins, net.grid, net.backbone.in_channels, net.model_cfg.input_clip)
    res = time_windows(net.backbone, net.grid, wins, repeats=1)
    assert res["max_abs_diff_vs_spconv"] < 1e-3
    with pytest.raises(ConfigError, match="sensor"):
        gesture_windows(classifier_net(), 2, data)  # a 64x64 set for the default 128x128 classifier
    rendered, source = gesture_windows(net, 2)  # no set given: rendered at the run's 64x64 sensor
    assert "rendered" in source
    _check_windows(rendered, net.grid, net.backbone.in_channels, net.model_cfg.input_clip)


def test_classifier_run_must_be_a_run(tmp_path):
    from edgevision.errors import CheckpointError

    with pytest.raises(CheckpointError, match="run.json"):
        classifier_net(tmp_path)


def test_cli_bench_sparse_rejects_a_missing_gesture_set(tmp_path, capsys):
    from edgevision.cli import main

    assert main(["bench", "sparse", "--gesture-data", str(tmp_path / "nope")]) == 2
    assert "meta.json" in capsys.readouterr().err
