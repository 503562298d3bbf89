"""The board path runs without torch: a fresh venv holding only the lean core dependencies of pyproject.toml.

The venv is real (``python -m venv --without-pip``); its site-packages gets a ``.pth`` pointing at a folder of
symlinks to exactly the core distributions (and what they require) from this interpreter's site-packages, plus
the source tree. torch, hls4ml, pynq are not there: the simulated overlay stands in for the board and, without
hls4ml's headers, computes with the NumPy integer reference, as on a board without the FPGA extra.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _core_requirements() -> list[str]:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]


def _name(req: str) -> str:
    return re.split(r"[\s\[<>=!~;]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _closure(reqs: list[str]) -> set[str]:
    """Distribution names of ``reqs`` and everything they require (markers without extras)."""
    from packaging.requirements import Requirement

    seen: set[str] = set()
    todo = [_name(r) for r in reqs]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for r in metadata.requires(name) or []:
            req = Requirement(r)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(_name(r))
    return seen


def _link_distributions(names: set[str], dest: Path) -> None:
    site = Path(sysconfig.get_paths()["purelib"])
    dest.mkdir()
    for name in names:
        dist = metadata.distribution(name)
        tops = {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
        for top in tops:
            src = site / top
            if src.exists() and not (dest / top).exists() and not top.endswith(".pth") and top != "__pycache__":
                (dest / top).symlink_to(src)


@pytest.fixture(scope="module")
def board_venv(tmp_path_factory):
    base = tmp_path_factory.mktemp("board")
    names = _closure(_core_requirements())
    assert "torch" not in names and "hls4ml" not in names and "pynq" not in names
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    _link_distributions(names, base / "deps")
    Path(purelib, "edgevision_board_test.pth").write_text(f"{base / 'deps'}\n{ROOT}\n")
    return py, base


def _run(py: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.run([str(py), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


@pytest.mark.slow
def test_board_path_runs_in_a_venv_without_torch(board_venv, blob_windows):
    from edgevision.events.formats import write_events

    py, base = board_venv
    probe = _run(py, "-c", "import importlib.util as u; print([m for m in ('torch', 'hls4ml', 'pynq', 'edgevision') "
                 "if u.find_spec(m)])", cwd=base)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "['edgevision']"
    events = np.concatenate([w.events for w in blob_windows(25)])
    write_events(base / "rec.aedat4", events, (640, 480))

    # the board app, simulated overlay in place of the board
    app = _run(py, str(ROOT / "host" / "eye_tracker_app.py"), "--board", "sim", "--fast", "--source",
               f"file:{base / 'rec.aedat4'}", "--out", str(base / "app"), cwd=base)
    assert app.returncode == 0, app.stderr[-3000:]
    assert '"self_test": "pass"' in app.stderr
    summary = json.loads(app.stdout.strip().splitlines()[-1])
    assert summary["windows"] == 25 and summary["dropped"] == 0 and summary["backend"] == "csim"
    rows = [json.loads(line) for line in (base / "app" / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 25 and all(np.isfinite([r["x"], r["y"]]).all() for r in rows)

    # the CLI: int backend, headless, with video
    cli = _run(py, "-m", "edgevision", "track", "--source", f"file:{base / 'rec.aedat4'}", "--backend", "int", "--fast",
               "--headless", "--out", str(base / "cli"), "--json", cwd=base)
    assert cli.returncode == 0, cli.stderr[-3000:]
    out = json.loads(cli.stdout)
    assert out["windows"] == 25 and Path(out["video"]).is_file()
    # same integer network, same NumPy head: identical predictions on both paths
    cli_rows = [json.loads(line) for line in Path(out["predictions"]).read_text().splitlines()]
    assert [(r["x"], r["y"]) for r in cli_rows] == [(r["x"], r["y"]) for r in rows]

    # the overlay self-test, simulated
    flash = _run(py, "-m", "edgevision", "flash", "--board", "sim", "--json", cwd=base)
    assert flash.returncode == 0 and json.loads(flash.stdout)["self_test"] == "pass", flash.stderr[-2000:]

    # a torch backend says what is missing in one line (exit 2)
    bad = _run(py, "-m", "edgevision", "track", "--source", f"file:{base / 'rec.aedat4'}", "--backend", "torch",
               "--headless", "--out", str(base / "bad"), cwd=base)
    assert bad.returncode == 2, bad.stderr[-2000:]
    assert "torch" in bad.stderr and "Traceback" not in bad.stderr


def test_host_model_loads_without_torch_and_matches_the_torch_head():
    """The NumPy checkpoint reader gives the same GRU head as copying it from the torch model."""
    import torch

    from edgevision.nn import checkpoint
    from edgevision.runtime.head import GRUHead
    from edgevision.runtime.host_model import CHECKPOINT_SCHEMA, CHECKPOINT_VERSION, load_host_model

    assert (CHECKPOINT_SCHEMA, CHECKPOINT_VERSION) == (checkpoint.CHECKPOINT_SCHEMA, checkpoint.CHECKPOINT_VERSION)
    path = ROOT / "models" / "eye_small.safetensors"
    host = load_host_model(path)
    model, cfg = checkpoint.load_eye_tracker(path)
    ref = GRUHead.from_model(model)
    for a in ("w_ih_t", "w_hh_t", "b_ih", "b_hh", "w_out", "b_out"):
        assert np.array_equal(getattr(host.head, a), getattr(ref, a)), a
    assert host.cfg == cfg and host.feature_dim == model.backbone.feature_dim
    assert torch is not None


def test_host_model_errors(tmp_path):
    from edgevision.errors import CheckpointError
    from edgevision.runtime.host_model import load_host_model

    with pytest.raises(CheckpointError, match="not found"):
        load_host_model(tmp_path / "none.safetensors")
    (tmp_path / "m.safetensors").write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="m.json: missing"):
        load_host_model(tmp_path / "m.safetensors")
    doc = json.loads((ROOT / "models" / "eye_small.json").read_text())
    (tmp_path / "m.json").write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="unreadable weights"):
        load_host_model(tmp_path / "m.safetensors")
    from safetensors.numpy import save_file

    save_file({"gru.weight_ih_l0": np.zeros((3, 4), np.float32)}, str(tmp_path / "m.safetensors"))
    with pytest.raises(CheckpointError, match="no GRU/head weights"):
        load_host_model(tmp_path / "m.safetensors")
    hid = doc["config"]["gru"]["hidden"]
    w = {"gru.weight_ih_l0": (3 * hid, 8), "gru.weight_hh_l0": (3 * hid, hid + 1), "gru.bias_ih_l0": (3 * hid,),
         "gru.bias_hh_l0": (3 * hid,), "head.weight": (3, hid), "head.bias": (3,)}
    save_file({k: np.zeros(s, np.float32) for k, s in w.items()}, str(tmp_path / "m.safetensors"))
    with pytest.raises(CheckpointError, match="gru.weight_hh_l0"):
        load_host_model(tmp_path / "m.safetensors")
    doc["weights_sha256"] = "0" * 64  # a JSON of other weights (a kill between the two files of a pair)
    (tmp_path / "m.json").write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="sha256 differs"):
        load_host_model(tmp_path / "m.safetensors")
