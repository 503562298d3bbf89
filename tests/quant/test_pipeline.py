import json

import numpy as np
import pytest

from edgevision.cli import main
from edgevision.ir.schema import load_ir
from edgevision.quant.reference import quantize_input, run_network


def _run(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_quantize_command_writes_ir_and_report(tmp_path, capsys, eye_dataset):
    root, ckpt = eye_dataset
    out = tmp_path / "q"
    rep = _run(capsys, ["quantize", "--checkpoint", str(ckpt), "--data", str(root), "--out", str(out),
                        "--calibrate", "64", "--gru-bits", "8", "--cache", str(tmp_path / "cache"), "--json"])
    for k in ("p10_float", "p10_int8", "p10_drop_pp", "mean_distance_float", "mean_distance_int8",
              "p5_float", "p5_int8", "p3_float", "p3_int8", "p10_int8_gru8"):
        assert isinstance(rep[k], float), k
    assert rep["p10_drop_pp"] == pytest.approx(100 * (rep["p10_float"] - rep["p10_int8"]))
    net = load_ir(out)
    assert json.loads((out / "quant_report.json").read_text())["p10_int8"] == rep["p10_int8"]
    assert net.layers[-1].op == "pool" and net.meta["feature_scale"] > 0
    assert all(l.attrs.get("w_bits", 8) == 8 for l in net.layers)
    # the IR is the whole contract: front end typed in the input spec, GRU head beside it (NumPy)
    from edgevision.nn.checkpoint import load_eye_tracker
    from edgevision.runtime.head import GRUHead, load_head
    from edgevision.runtime.host_model import config_input

    model, cfg = load_eye_tracker(ckpt)
    assert vars(net.input) == {**vars(config_input(cfg)), "scale": net.input.scale}
    head, ref = load_head(out), GRUHead.from_model(model)
    assert all(np.array_equal(getattr(head, a), getattr(ref, a)) for a in ("w_ih_t", "w_hh_t", "b_ih", "b_hh", "w_out", "b_out"))


@pytest.mark.slow
def test_mixed_precision_meets_budget_and_plots(tmp_path, capsys, eye_dataset):
    root, ckpt = eye_dataset
    out = tmp_path / "mp"
    rep = _run(capsys, ["quantize", "--checkpoint", str(ckpt), "--data", str(root), "--out", str(out),
                        "--calibrate", "32", "--mixed-precision", "--budget-kb", "36", "--cache", str(tmp_path / "c"), "--json"])
    mp = rep["mixed_precision"]  # 36 KiB: about two thirds of the shipped backbone's 53.4 KiB at int8
    assert mp["chosen_kb"] <= 36 < mp["full_int8_kb"]
    sizes = [p["size_kb"] for p in mp["points"]]
    assert sizes == sorted(sizes, reverse=True) and len(sizes) > 5
    assert (out / "mixed_precision.png").stat().st_size > 5000
    net = load_ir(out)
    bits = {l.name: l.attrs["w_bits"] for l in net.layers if "w_bits" in l.attrs}
    assert bits == mp["chosen_w_bits"] and min(bits.values()) < 8
    lay = next(l for l in net.layers if l.attrs.get("w_bits") == 4)
    assert abs(lay.tensors["weight"]).max() <= 7


def test_quantize_reports_missing_checkpoint(tmp_path, capsys):
    code = main(["quantize", "--checkpoint", str(tmp_path / "none.safetensors"), "--data", str(tmp_path), "--out", str(tmp_path / "q")])
    assert code == 2 and "not found" in capsys.readouterr().err


def test_qat_step_keeps_the_eval_model_bit_exact(eye_dataset, eye_cfg, sim_windows, tmp_path):
    import numpy as np
    import torch

    from edgevision.nn.checkpoint import load_eye_tracker
    from edgevision.nn.eye_data import load_split
    from edgevision.nn.inputs import collate_tokens
    from edgevision.quant.calibrate import calibrate
    from edgevision.quant.eye import QuantEyeTracker
    from edgevision.quant.pipeline import qat_finetune, sample_windows
    from edgevision.ir.schema import front_end
    from edgevision.quant.qbackbone import export_ir

    root, ckpt = eye_dataset
    model, cfg = load_eye_tracker(ckpt)
    cfg.train.seq_len, cfg.train.stride, cfg.train.batch_size = 10, 5, 2
    train = load_split(root, "train", cfg, tmp_path / "cache")
    qm = QuantEyeTracker(model, cfg)
    calibrate(qm.backbone, sample_windows(train, 32))
    before = {k: v.detach().clone() for k, v in qm.backbone.log_scale.items()}
    losses = qat_finetune(qm, train, cfg, epochs=1, lr=1e-3, max_steps=2)
    assert len(losses) == 1 and np.isfinite(losses[0])
    assert any(not torch.equal(before[k], v) for k, v in qm.backbone.log_scale.items())  # LSQ scales moved
    x = collate_tokens(sim_windows[:6], cfg.input.input_clip)
    got = qm.backbone(x).numpy()
    net = export_ir(qm.backbone, front_end(cfg.sensor_size, cfg.to_dict()["input"]))
    for i, t in enumerate(sim_windows[:6]):
        ref = run_network(net, t.coords, quantize_input(t.feats, net.input))
        np.testing.assert_array_equal(got[i], (ref.astype(np.float64) * net.layer("pool").attrs["scale"]).astype(np.float32))
