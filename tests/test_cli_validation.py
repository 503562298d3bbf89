"""Bad values on the command line are refused with exit 2 and one line on stderr naming the argument (no
traceback, no output, nothing trained or written)."""

import json

import numpy as np
import pytest
import torch

from edgevision.cli import main
from edgevision.datasets.writer import write_manifest, write_recording, write_split_lists
from edgevision.events.core import make_events

TINY = {
    "input": {"time_bins": 1},
    "backbone": {"layers": [{"op": "conv3x3_subm", "out": 8}, {"op": "conv2x2_s2", "out": 8}, {"op": "pool", "grid": [3, 4]}]},
    "gru": {"hidden": 8},
    "train": {"epochs": 1, "batch_size": 4, "seq_len": 10, "stride": 10},
}
IR = "models/eye_small_int8"
CKPT = "models/eye_small.safetensors"


@pytest.fixture(scope="module")
def empty_test_split(tmp_path_factory):
    """A valid 3ET+ root whose test split lists no recording."""
    root = tmp_path_factory.mktemp("emptysplit")
    n = 40
    t = np.repeat(np.arange(n), 50) * 10_000 + np.tile(np.arange(50) * 100, n)
    rng = np.random.default_rng(0)
    ev = make_events(t, rng.integers(0, 640, t.size), rng.integers(0, 480, t.size), rng.integers(0, 2, t.size))
    labels = np.stack([np.full(n, 320.0), np.full(n, 240.0), np.zeros(n)], axis=1).astype(np.float32)
    files = write_recording(root, "train", "tr0", ev, labels)
    files.update(write_recording(root, "train", "tr1", ev, labels))
    files.update(write_split_lists(root, {"train": ["tr0", "tr1"], "val": [], "test": []}))
    write_manifest(root, files, {"generator": "tests/test_cli_validation"})
    return root


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory):
    path = tmp_path_factory.mktemp("cfg") / "tiny.yaml"
    path.write_text(json.dumps(TINY))
    return path


def _refused(capsys, argv, *needles):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert code == 2, (code, out, err)
    assert out == "" and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgevision: error:"), err
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize("epochs", ["-1", "0"])
def test_train_eye_refuses_non_positive_epochs(capsys, tmp_path, empty_test_split, tiny_config, epochs):
    # was: exit 0, nothing trained
    out = tmp_path / "run"
    _refused(capsys, ["train", "eye", "--config", tiny_config, "--data", empty_test_split, "--out", out, "--epochs", epochs], "--epochs")
    assert not out.exists()


@pytest.mark.parametrize("device", ["foo", "cuda:x", "tpu"] + ([] if torch.cuda.is_available() else ["cuda", "cuda:0"]))
def test_train_and_eval_refuse_unusable_devices(capsys, tmp_path, empty_test_split, tiny_config, device):
    # was: a traceback from torch
    out = tmp_path / "run"
    _refused(capsys, ["train", "eye", "--config", tiny_config, "--data", empty_test_split, "--out", out, "--device", device], "--device")
    assert not out.exists()
    _refused(capsys, ["eval", "eye", "--checkpoint", CKPT, "--data", empty_test_split, "--device", device], "--device")


def test_eval_eye_refuses_an_empty_split(capsys, empty_test_split):
    # was: ValueError: need at least one array to concatenate
    _refused(capsys, ["eval", "eye", "--checkpoint", CKPT, "--data", empty_test_split, "--split", "test"], "test", "no recordings")


@pytest.mark.parametrize(
    "tail,needle",
    [
        (["--windows", "-5"], "--windows"),
        (["--windows", "0"], "--windows"),
        (["--fraction", "5"], "--fraction"),
        (["--fraction", "0"], "--fraction"),
        (["--fraction", "nan"], "--fraction"),
        (["--density", "-0.1"], "--density"),
        (["--density", "2"], "--density"),
    ],
)
def test_fpga_estimate_refuses_out_of_range_values(capsys, tail, needle):
    # was: accepted silently
    _refused(capsys, ["estimate", "--model", IR, "--board", "zcu102", *tail], needle)


def test_export_hls_refuses_out_of_range_values_and_writes_nothing(capsys, tmp_path):
    out = tmp_path / "proj"
    _refused(capsys, ["export", "hls", "--model", IR, "--board", "zcu102", "--out", out, "--fraction", "1.5"], "--fraction")
    assert not out.exists()
