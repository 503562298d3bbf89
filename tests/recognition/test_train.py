import json

import numpy as np
import pytest

from edgevision.cli import main
from edgevision.errors import CheckpointError
from edgevision.recognition.train import TrainSettings, evaluate_run, load_run, train_classifier

SMALL_ESDA = {"layers": [{"op": "conv3x3_subm", "out": 8}, {"op": "conv2x2_s2", "out": 16}, {"op": "pool", "grid": [1, 1]}]}


def test_run_folder_resume_and_eval(tiny_set, tmp_path):
    run = tmp_path / "run"
    first = train_classifier(
        "esda", str(tiny_set), run, settings=TrainSettings(epochs=1, batch_size=4), model_overrides=SMALL_ESDA, progress=False
    )
    assert first["epochs_done"] == 1
    for name in ("run.json", "model.safetensors", "model.json", "optimizer.safetensors", "log.csv", "curves.png", "confusion.png"):
        assert (run / name).is_file(), name
    before, _, _ = load_run(run)
    with pytest.raises(CheckpointError, match="--resume"):
        train_classifier("esda", str(tiny_set), run, progress=False)
    # A killed run continues after its last saved epoch with its own settings.
    resumed = train_classifier("esda", str(tiny_set), run, settings=TrainSettings(epochs=2), resume=True, progress=False)
    assert resumed["epochs_done"] == 2
    rows = (run / "log.csv").read_text().strip().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2"]
    assert json.loads((run / "run.json").read_text())["train"]["batch_size"] == 4
    after, _, _ = load_run(run)
    assert any(not np.array_equal(a.numpy(), b.numpy()) for a, b in zip(before.state_dict().values(), after.state_dict().values()))
    ev = evaluate_run(run)
    assert ev["windows"] >= ev["recordings"] == 10 and 0.0 <= ev["window_acc"] <= 1.0
    assert np.asarray(ev["confusion"]).sum() == ev["windows"]


def test_cli_train_and_eval_random_features(tiny_set, tmp_path, capsys):
    run = tmp_path / "rf"
    cfg = json.dumps({"num_points": 128, "num_groups": 16, "neighbours": 8, "features": 64})
    assert main(["train", "classify", "--model", "random-features", "--data", str(tiny_set), "--out", str(run),
                 "--model-config", cfg, "--json"]) == 0
    trained = json.loads(capsys.readouterr().out)
    assert main(["eval", "classify", "--checkpoint", str(run / "model.safetensors"), "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["window_acc"] == pytest.approx(trained["test_window_acc"])
    assert main(["eval", "classify", "--checkpoint", str(tmp_path / "none")]) == 2
    assert main(["train", "classify", "--model", "pointnet", "--data", str(tiny_set), "--out", str(tmp_path / "p"),
                 "--model-config", "[1]"]) == 2


def test_device_flag(tiny_set, tmp_path, capsys):
    """--device reaches the model and its batches (cpu here; the code path is the same for cuda); a device this
    torch cannot use is refused with exit 2 before a run folder is made."""
    import torch

    from edgevision.nn.tensor import SparseTensor
    from edgevision.recognition.train import to_device

    st = SparseTensor(torch.ones(2, 3), torch.zeros(2, 3, dtype=torch.int32), (4, 4), 1)
    moved = to_device(st, "cpu")
    assert isinstance(moved, SparseTensor) and moved.shape == (4, 4) and moved.batch_size == 1
    assert to_device(torch.zeros(2, 5, 3), torch.device("cpu")).device.type == "cpu"
    run = tmp_path / "rf"
    cfg = json.dumps({"num_points": 64, "num_groups": 8, "neighbours": 4, "features": 16, "grid": 2})
    assert main(["train", "classify", "--arch", "random-features", "--data", str(tiny_set), "--out", str(run),
                 "--model-config", cfg, "--device", "cpu", "--json"]) == 0
    capsys.readouterr()
    assert main(["eval", "classify", "--checkpoint", str(run), "--device", "cpu", "--json"]) == 0
    assert main(["train", "classify", "--arch", "esda", "--data", str(tiny_set), "--out", str(tmp_path / "x"),
                 "--device", "tpu"]) == 2
    if not torch.cuda.is_available():
        assert main(["eval", "classify", "--checkpoint", str(run), "--device", "cuda"]) == 2
    assert not (tmp_path / "x").exists()
