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


# ---- table: subcommand x kind of bad value -> exit 2, one line naming the argument or file, nothing written ----

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
TABLE = [
    # (id, argv (EMPTY: the empty-split dataset, TINYCFG: a tiny config, TRUNC: a truncated .raw), needle)
    ("info-missing", ["events", "info", "nofile.npy"], "nofile.npy"),
    ("info-dir", ["events", "info", "."], "."),
    ("info-unknown-format", ["events", "info", "TRUNC", "--format", "mp4"], "mp4"),
    ("info-bad-sensor", ["events", "info", "TRUNC", "--sensor", "0x5"], "--sensor"),
    ("info-not-events", ["events", "info", "TINYCFG"], "tiny.yaml"),
    ("info-truncated-strict", ["events", "info", "TRUNC", "--strict"], "truncated"),
    ("convert-missing", ["events", "convert", "nofile.npy", "o.npy"], "nofile.npy"),
    ("convert-unwritable", ["events", "convert", "TRUNC", "/proc/nodir/o.npy"], "/proc/nodir/o.npy"),
    ("convert-out-of-range", ["events", "convert", "TRUNC", "o.npz", "--sensor", "2x2"], "outside the sensor"),
    ("convert-unknown-format", ["events", "convert", "TRUNC", "o.raw", "--out-format", "evt4"], "evt4"),
    ("convert-too-big-for-format", ["events", "convert", "TRUNC", "o.raw", "--sensor", "4096x10"], "width"),
    ("bench-events-zero", ["bench", "events", "--events", "0"], "--events"),
    ("bench-events-missing-source", ["bench", "events", "--source", "nofile.npy"], "nofile.npy"),
    ("bench-events-unwritable", ["bench", "events", "--events", "1000", "--repeats", "1", "--output", "/proc/nodir/o.json"], "--output"),
    ("fuzz-unknown-format", ["bench", "events-fuzz", "--formats", "mp4"], "--formats"),
    ("fuzz-zero", ["bench", "events-fuzz", "--files", "0"], "--files"),
    ("train-missing-config", ["train", "eye", "--config", "no.yaml", "--data", "EMPTY", "--out", "run"], "no.yaml"),
    ("train-missing-data", ["train", "eye", "--config", "TINYCFG", "--data", "nodata", "--out", "run"], "nodata"),
    ("train-epochs", ["train", "eye", "--config", "TINYCFG", "--data", "EMPTY", "--out", "run", "--epochs", "0"], "--epochs"),
    ("train-device", ["train", "eye", "--config", "TINYCFG", "--data", "EMPTY", "--out", "run", "--device", "foo"], "--device"),
    ("eval-missing-checkpoint", ["eval", "eye", "--checkpoint", "no.safetensors", "--data", "EMPTY"], "no.safetensors"),
    ("eval-missing-data", ["eval", "eye", "--checkpoint", CKPT, "--data", "nodata"], "nodata"),
    ("eval-empty-split", ["eval", "eye", "--checkpoint", CKPT, "--data", "EMPTY"], "no recordings"),
    ("eval-device", ["eval", "eye", "--checkpoint", CKPT, "--data", "EMPTY", "--device", "cuda:x"], "--device"),
    ("bench-eye-windows", ["bench", "eye", "--checkpoint", CKPT, "--data", "EMPTY", "--windows", "0"], "--windows"),
    ("bench-eye-missing-data", ["bench", "eye", "--checkpoint", CKPT, "--data", "nodata", "--windows", "1"], "nodata"),
    ("estimate-missing-model", ["estimate", "--model", "nomodel", "--board", "zcu102"], "nomodel"),
    ("estimate-windows", ["estimate", "--model", IR, "--board", "zcu102", "--windows", "-5"], "--windows"),
    ("estimate-fraction", ["estimate", "--model", IR, "--board", "zcu102", "--fraction", "5"], "--fraction"),
    ("estimate-density", ["estimate", "--model", IR, "--board", "zcu102", "--density", "0"], "--density"),
    ("estimate-missing-data", ["estimate", "--model", IR, "--board", "zcu102", "--data", "nodata"], "nodata"),
    ("estimate-empty-split", ["estimate", "--model", IR, "--board", "zcu102", "--data", "EMPTY"], "test"),
    ("csim-windows", ["csim", "--model", IR, "--windows", "0"], "--windows"),
    ("csim-missing-model", ["csim", "--model", "nomodel"], "nomodel"),
    ("hls-unwritable", ["export", "hls", "--model", IR, "--board", "zcu102", "--out", "/proc/nodir"], "--out"),
    ("hls-fraction", ["export", "hls", "--model", IR, "--board", "zcu102", "--out", "proj", "--fraction", "1.5"], "--fraction"),
    ("quiet-info-missing", ["-q", "events", "info", "nofile.npy"], "nofile.npy"),  # -q keeps the error line
    ("verbose-convert-missing", ["-v", "events", "convert", "nofile.npy", "o.npy"], "nofile.npy"),
]
# argparse's own errors print a usage block before the error line: one line needs an ArgumentParser.error
# override in edgevision/cli/__init__.py (shared file); kept here as the expected behaviour
ARGPARSE = [
    ("info-no-path", ["events", "info"], "path"),
    ("train-epochs-not-int", ["train", "eye", "--config", "TINYCFG", "--data", "EMPTY", "--out", "run", "--epochs", "abc"], "--epochs"),
    ("eval-unknown-split", ["eval", "eye", "--checkpoint", CKPT, "--data", "EMPTY", "--split", "dev"], "--split"),
    ("estimate-unknown-board", ["estimate", "--model", IR, "--board", "nosuch"], "--board"),
    ("quiet-and-verbose", ["-q", "-v", "events", "info", "x.npy"], "--quiet"),
    ("quiet-unknown-flag", ["-q", "events", "info", "x.npy", "--loud"], "--loud"),
    ("version-after-command", ["events", "info", "x.npy", "--version"], "--version"),
]


@pytest.fixture
def table_env(tmp_path, monkeypatch, empty_test_split, tiny_config):
    from edgevision.events.formats import write_events

    work = tmp_path / "work"
    work.mkdir()
    src = tmp_path / "in" / "trunc.raw"
    write_events(src, make_events(np.arange(1, 101) * 10, np.arange(100) % 8, np.zeros(100), np.ones(100)), (8, 8))
    src.write_bytes(src.read_bytes()[:-1])
    monkeypatch.chdir(work)
    subst = {"EMPTY": str(empty_test_split), "TINYCFG": str(tiny_config), "TRUNC": str(src), CKPT: str(ROOT / CKPT),
             IR: str(ROOT / IR)}  # fmt: skip
    return work, lambda argv: [subst.get(a, a) for a in argv]


def _row(capfd, table_env, argv, needle):
    work, resolve = table_env
    code = main(resolve(argv))
    out, err = capfd.readouterr()
    lines = [line for line in err.replace("\r", "\n").splitlines() if line.strip() and "warning" not in line]
    assert code == 2 and out == "", (code, out, err)
    assert "Traceback" not in err and len(lines) == 1 and lines[0].startswith("edgevision: error:"), err
    assert needle in lines[0], lines[0]
    assert list(work.iterdir()) == [], "partial output left behind"


@pytest.mark.parametrize("argv,needle", [r[1:] for r in TABLE], ids=[r[0] for r in TABLE])
def test_table_of_bad_values(capfd, table_env, argv, needle):
    _row(capfd, table_env, argv, needle)


@pytest.mark.parametrize("argv,needle", [r[1:] for r in ARGPARSE], ids=[r[0] for r in ARGPARSE])
def test_table_of_argparse_errors(capfd, table_env, argv, needle):
    work, resolve = table_env
    with pytest.raises(SystemExit) as info:
        main(resolve(argv))
    out, err = capfd.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert info.value.code == 2 and out == "", (info.value.code, out, err)
    assert len(lines) == 1 and lines[0].startswith("edgevision: error:") and needle in lines[0], err
    assert list(work.iterdir()) == [], "partial output left behind"


def test_version_row(capfd, table_env):
    """``--version``: one line ``edgevision X.Y.Z`` on stdout, exit 0, nothing written (also with -q)."""
    from importlib.metadata import version

    work, resolve = table_env
    for argv in (["--version"], ["-q", "--version"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        out, err = capfd.readouterr()
        assert info.value.code == 0 and err == "" and out == f"edgevision {version('edgevision')}\n", (out, err)
    assert list(work.iterdir()) == []
