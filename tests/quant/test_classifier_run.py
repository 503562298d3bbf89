"""`edgevision quantize --classifier`: a trained ESDA run folder -> IR with int32 logits + accuracy report."""

import json

import numpy as np

from edgevision.cli import main
from edgevision.ir.schema import load_ir
from edgevision.quant.reference import run_network
from edgevision.recognition.synth import SynthConfig, synthesize
from edgevision.recognition.train import TrainSettings, train_classifier

SMALL_ESDA = {"layers": [{"op": "conv3x3_subm", "out": 8}, {"op": "conv2x2_s2", "out": 16}, {"op": "pool", "grid": [1, 1]}]}


def test_quantize_classifier_run_from_the_cli(tmp_path, capsys):
    data = tmp_path / "set"
    synthesize(data, 20, seed=3, cfg=SynthConfig(size=64, fps=100), progress=False)
    run = tmp_path / "run"
    train_classifier("esda", str(data), run, settings=TrainSettings(epochs=1, batch_size=4), model_overrides=SMALL_ESDA,
                     progress=False)
    out = tmp_path / "q"
    rc = main(["quantize", "--checkpoint", str(run), "--classifier", "--out", str(out), "--calibrate", "16", "--json"])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    rep = json.loads(cap.out)
    assert rep == json.loads((out / "quant_report.json").read_text())
    assert rep["test_windows"] > 0 and 0.0 <= rep["window_acc_int8"] <= 1.0
    assert rep["argmax_agreement"] >= 0.8  # 8-bit noise flips only near-ties
    net = load_ir(out)
    fc = net.layer(net.output)
    assert fc.op == "fc" and fc.attrs["out_ch"] == len(net.meta["classes"])
    mc = net.meta["model_config"]
    assert (net.input.sensor_size, net.input.downsample, net.input.time_bins, net.input.input_clip, net.input.slice_us) == (
        tuple(net.meta["sensor_size"]), mc["downsample"], mc["time_bins"], mc["input_clip"], net.meta["window"]["window_us"])
    rng = np.random.default_rng(0)
    n = 40
    flat = np.sort(rng.choice(net.input.height * net.input.width, n, replace=False))
    coords = np.stack([flat // net.input.width, flat % net.input.width], 1).astype(np.int32)
    assert run_network(net, coords, rng.integers(0, 5, (n, net.input.channels)).astype(np.int8)).dtype == np.int32


def test_classifier_flag_needs_a_classifier_run(tmp_path, capsys):
    rc = main(["quantize", "--checkpoint", str(tmp_path), "--classifier", "--out", str(tmp_path / "q")])
    assert rc == 2 and "run folder" in capsys.readouterr().err
