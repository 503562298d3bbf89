"""The IR folder is the whole contract: ``track --model IR`` runs the int8 network with the front end and GRU
head it carries, with no float checkpoint beside it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgevision.cli import main
from edgevision.errors import ConfigError, IRError
from edgevision.ir.head import HEAD_FILE
from edgevision.ir.schema import load_ir, save_ir
from edgevision.runtime.head import load_head
from edgevision.runtime.session import load_model

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def ir_copy(tmp_path):
    """The shipped int8 IR (network.json, tensors.npz, head.npz) alone in a folder of its own."""
    out = tmp_path / "ir"
    out.mkdir()
    for name in ("network.json", "tensors.npz", HEAD_FILE):
        shutil.copy(ROOT / "models" / "eye_small_int8" / name, out / name)
    return out


@pytest.fixture()
def recording(tmp_path, blob_windows):
    from edgevision.events.formats import write_events

    path = tmp_path / "rec.aedat4"
    write_events(path, np.concatenate([w.events for w in blob_windows(12)]), (640, 480))
    return path


def _track(capsys, out: Path, *args: str) -> list[dict]:
    rc = main(["track", "--backend", "int", "--fast", "--headless", "--out", str(out), "--json", *args])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    summary = json.loads(cap.out)
    return [json.loads(line) for line in Path(summary["predictions"]).read_text().splitlines()]


def test_track_runs_the_ir_without_a_checkpoint(tmp_path, capsys, ir_copy, recording):
    from_ir = _track(capsys, tmp_path / "a", "--source", f"file:{recording}", "--model", str(ir_copy))
    assert len(from_ir) == 12 and all(np.isfinite([r["x"], r["y"]]).all() for r in from_ir)
    with_ckpt = _track(capsys, tmp_path / "b", "--source", f"file:{recording}", "--model", str(ir_copy),
                       "--checkpoint", str(ROOT / "models" / "eye_small.safetensors"))
    assert [(r["x"], r["y"], r["closed_prob"]) for r in from_ir] == [(r["x"], r["y"], r["closed_prob"]) for r in with_ckpt]


def test_the_ir_front_end_sets_the_window_length(tmp_path, capsys, ir_copy, recording):
    net = load_ir(ir_copy)
    net.input.slice_us = 20_000
    save_ir(net, ir_copy)
    rows = _track(capsys, tmp_path / "a", "--source", f"file:{recording}", "--model", str(ir_copy))
    assert len(rows) == 6 and np.diff([r["t_us"] for r in rows]).tolist() == [20_000] * 5
    with pytest.raises(ConfigError, match="input settings differ.*slice_us 10000 vs 20000"):
        load_model("int", ROOT / "models" / "eye_small.safetensors", ir_copy)
    rc = main(["track", "--backend", "int", "--model", str(ir_copy), "--headless", "--out", str(tmp_path / "s")])
    assert rc == 2 and "synthetic camera delivers 10 ms windows" in capsys.readouterr().err


def test_an_ir_without_its_head_asks_for_quantize_or_a_checkpoint(tmp_path, capsys, ir_copy, recording):
    (ir_copy / HEAD_FILE).unlink()
    rc = main(["track", "--backend", "int", "--source", f"file:{recording}", "--model", str(ir_copy), "--headless",
               "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "head.npz: missing" in err[0] and "edgevision quantize" in err[0]
    (ir_copy / HEAD_FILE).write_bytes(b"junk")
    with pytest.raises(IRError, match="head.npz: unreadable"):
        load_head(ir_copy)


def test_labels_need_the_label_period(tmp_path, recording):
    from edgevision.runtime.sources import FileSource

    (recording.parent / "label.txt").write_text("".join(f"({320 + i}, 240, 0)\n" for i in range(12)))
    assert FileSource(recording, realtime=False).labelled
    with pytest.raises(ConfigError, match="labels are 10 ms apart but the model slices 20000 us"):
        FileSource(recording, realtime=False, window_us=20_000)
