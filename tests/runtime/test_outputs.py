"""Headless outputs: the annotated video decodes, the JSONL parses, the summary is complete; demo end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgevision.runtime.host_model import config_input
from edgevision.runtime.backends import make_backend
from edgevision.runtime.render import PALETTES, FrameRenderer, decoded_frames, get_palette
from edgevision.runtime.session import resolve, run_tracker
from edgevision.runtime.sources import ReplaySource
from edgevision.runtime.tracker import Prediction

SENSOR = (640, 480)
ROOT = Path(__file__).resolve().parents[2]


def test_headless_run_writes_decodable_video_and_jsonl(tmp_path, tiny, blob_windows):
    model, cfg, net = tiny
    backend = make_backend("int", model=model, net=net, input_clip=15.0)
    summary = run_tracker(backend, model, config_input(cfg), ReplaySource(blob_windows(40), SENSOR, realtime=False), tmp_path, live=False)
    assert summary["windows"] == 40
    assert decoded_frames(summary["video"]) == 10  # 25 fps: one frame per 4 windows of 10 ms
    rows = [json.loads(line) for line in Path(summary["predictions"]).read_text().splitlines()]
    assert len(rows) == 40
    assert {"t_us", "x", "y", "closed_prob", "latency_ms", "label"} <= set(rows[0])
    assert rows[1]["t_us"] - rows[0]["t_us"] == 10_000
    saved = json.loads((tmp_path / "summary.json").read_text())
    for key in ("windows", "dropped", "latency_p50_ms", "latency_p99_ms", "backend", "p5", "p10", "mean_distance"):
        assert key in saved
    assert not list(tmp_path.glob(".*tmp*"))  # atomic writes left no temporaries


def test_frame_shows_events_in_palette_colours_and_closed_indicator(blob_windows):
    w = blob_windows(1)[0]
    pal = get_palette("metavision")
    r = FrameRenderer(SENSOR, pal)
    pred = Prediction(0, w.t_end, 100.0, 100.0, 0.9, 1.0, 1.0, w.events.shape[0], w.label)
    r.track(pred)
    img = r.draw(w, pred, {"backend": "test"})
    assert img.shape == (480, 640, 3)
    on = w.events[w.events["p"] == 1][0]
    assert tuple(img[on["y"], on["x"]]) in {pal.on[::-1], pal.off[::-1]}  # BGR
    assert tuple(img[479 - 40, 639 - 40]) == pal.background[::-1]
    assert (img[10:35, 640 - 150 : 640 - 8] == (40, 40, 220)).all(axis=-1).any()  # EYE CLOSED box
    assert set(PALETTES) >= {"metavision", "dv"}


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["engine", "csim"])
def test_demo_end_to_end(tmp_path, capsys, backend):
    """The default demo is paced in real time (drops counted, every window accounted for); ``csim`` replays
    losslessly."""
    from edgevision.cli import main

    if not (resolve("models/eye_small.safetensors").is_file() and resolve("models/eye_small_int8").is_dir()):
        pytest.skip("shipped checkpoint models/eye_small.safetensors / IR models/eye_small_int8 not present")
    args = ["demo", "--out", str(tmp_path), "--seconds", "1", "--json"]
    assert main(args + (["--backend", backend] if backend != "engine" else [])) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["backend"] == backend and out["paced"] is (backend != "csim")
    assert out["windows"] + out["dropped"] == 100 and out["windows"] > 0
    if backend == "csim":
        assert out["dropped"] == 0
    assert {"p5", "p10", "mean_distance", "latency_p99_ms", "stages_p50_ms"} <= set(out)
    assert decoded_frames(out["video"]) > 0


def test_track_cli_headless_on_the_synthetic_camera(tmp_path, tiny, capsys):
    from edgevision.cli import main
    from edgevision.ir.schema import save_ir
    from edgevision.nn.checkpoint import save_checkpoint

    model, cfg, net = tiny
    save_checkpoint(tmp_path / "eye.safetensors", model, cfg)
    save_ir(net, tmp_path / "ir")
    args = ["track", "--source", "synthetic", "--backend", "int", "--checkpoint", str(tmp_path / "eye.safetensors"),
            "--model", str(tmp_path / "ir"), "--headless", "--out", str(tmp_path / "run"), "--seconds", "0.2", "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["windows"] + out["dropped"] == 20 and out["source"] == "synthetic"
    assert {"latency_p50_ms", "latency_p99_ms", "p5", "p10", "mean_distance"} <= set(out)
    assert len((tmp_path / "run" / "predictions.jsonl").read_text().splitlines()) == out["windows"]
    assert main(["track", "--headless", "--seconds", "1"]) == 2  # --headless without --out: one-line error


def test_failed_run_leaves_no_partial_outputs(tmp_path, tiny, blob_windows):
    from edgevision.errors import BackendError

    class Failing:
        name, feature_dim = "failing", 64

        def infer(self, tokens):
            raise BackendError("accelerator timeout")

    model, cfg, _ = tiny
    with pytest.raises(BackendError):
        run_tracker(Failing(), model, config_input(cfg), ReplaySource(blob_windows(3), SENSOR, realtime=False), tmp_path, live=False)
    assert list(tmp_path.iterdir()) == []


def test_a_failing_writer_stops_the_run_and_leaves_no_partial_outputs(tmp_path, tiny, blob_windows, monkeypatch):
    """Outputs are written on their own thread; its error ends the run early and is raised, nothing half-written."""
    from edgevision.runtime import render

    def full_disk(self, frame):
        raise OSError("No space left on device")

    monkeypatch.setattr(render.VideoOutput, "write", full_disk)
    model, cfg, _ = tiny
    backend = make_backend("torch", model=model, input_clip=cfg.input.input_clip)
    with pytest.raises(OSError, match="No space left"):
        run_tracker(backend, model, config_input(cfg), ReplaySource(blob_windows(40), SENSOR, realtime=False), tmp_path, live=False)
    assert list(tmp_path.iterdir()) == []


def test_a_slow_writer_skips_video_frames_but_keeps_every_prediction(tmp_path, tiny, blob_windows, monkeypatch):
    import time

    from edgevision.runtime import render

    write = render.VideoOutput.write

    def slow(self, frame):  # 100 frames take 5 s; 400 windows are tracked in well under that
        time.sleep(0.05)
        write(self, frame)

    monkeypatch.setattr(render.VideoOutput, "write", slow)
    model, cfg, _ = tiny
    backend = make_backend("torch", model=model, input_clip=cfg.input.input_clip)
    summary = run_tracker(backend, model, config_input(cfg), ReplaySource(blob_windows(400), SENSOR, realtime=False), tmp_path, live=False)
    lines = (tmp_path / "predictions.jsonl").read_text().splitlines()
    assert summary["windows"] == 400 and len(lines) == 400
    assert 0 < decoded_frames(summary["video"]) < 400 * 10 // 40  # 100 frames at 25 fps without skipping
