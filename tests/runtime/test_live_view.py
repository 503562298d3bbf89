"""Browser-playable video, the MJPEG live view over HTTP (127.0.0.1) and the Jupyter helper, all headless."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgevision.errors import ConfigError
from edgevision.runtime import render
from edgevision.runtime.host_model import config_input
from edgevision.runtime.backends import make_backend
from edgevision.runtime.live_view import JupyterView, LiveServer, show_video, video_html
from edgevision.runtime.render import FrameRenderer, VideoOutput, decoded_frames, get_palette
from edgevision.runtime.session import run_tracker
from edgevision.runtime.sources import ReplaySource
from edgevision.runtime.tracker import Prediction

SENSOR = (640, 480)
PUPIL_BGR = np.array(get_palette("metavision").pupil[::-1])


def _frames(n: int, blob_windows) -> list[tuple[np.ndarray, float]]:
    """Rendered frames of a pupil moving right by 20 px a frame, with its x."""
    r = FrameRenderer(SENSOR, get_palette("metavision"))
    out = []
    for i, w in enumerate(blob_windows(n)):
        pred = Prediction(i, w.t_end, 150.0 + 20 * i, 240.0, 0.1, 1.0, 1.0, w.events.shape[0])
        r.track(pred)
        out.append((r.draw(w, pred, {"backend": "test"}), pred.x))
    return out


def _marker_x(jpeg: bytes) -> float:
    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    near = np.abs(img.astype(int) - PUPIL_BGR).sum(axis=-1) < 60
    ys, xs = np.nonzero(near[200:280])  # the marker's row band (the trail is drawn there too: take the right end)
    return float(np.percentile(xs, 95))


def _codec_fourcc(path: Path) -> str:
    cap = cv2.VideoCapture(str(path))
    v = int(cap.get(cv2.CAP_PROP_FOURCC))
    cap.release()
    return "".join(chr((v >> 8 * i) & 0xFF) for i in range(4)).lower()


def test_video_is_h264_mp4_when_an_encoder_exists_else_webm(tmp_path, blob_windows, monkeypatch):
    frames = [f for f, _ in _frames(6, blob_windows)]
    if render.ffmpeg_h264() is None:
        pytest.skip("no ffmpeg with libx264 here (imageio-ffmpeg not installed)")
    v = VideoOutput(tmp_path / "a", SENSOR)
    for f in frames:
        v.write(f)
    path = v.close()
    assert path.suffix == ".mp4" and v.codec == "h264" and v.browser_playable
    assert _codec_fourcc(path) in ("avc1", "h264") and decoded_frames(path) == 6
    monkeypatch.setattr(render, "_FFMPEG", None)  # no ffmpeg: OpenCV's own encoders
    v = VideoOutput(tmp_path / "b", SENSOR)
    for f in frames:
        v.write(f)
    path = v.close()
    assert v.codec in ("avc1", "VP80") and v.browser_playable and decoded_frames(path) == 6
    v = VideoOutput(tmp_path / "c", SENSOR, codecs=("mp4v",))  # the old fallback, still there
    v.write(frames[0])
    assert v.close().suffix == ".mp4" and not v.browser_playable
    with pytest.raises(ConfigError, match="unknown video codec"):
        VideoOutput(tmp_path / "d", SENSOR, codecs=("theora",))
    assert not list(tmp_path.glob(".*tmp*"))


def test_video_of_odd_size_pads_for_h264(tmp_path, blob_windows):
    if render.ffmpeg_h264() is None:
        pytest.skip("no ffmpeg with libx264 here")
    v = VideoOutput(tmp_path / "odd", (347, 261))
    for _ in range(3):
        v.write(np.zeros((261, 347, 3), np.uint8))
    assert decoded_frames(v.close()) == 3


def _read_stream(url: str, frames: int, timeout: float = 20.0) -> list[bytes]:
    out = []
    with urllib.request.urlopen(url + "stream.mjpg", timeout=timeout) as resp:
        assert resp.headers["Content-Type"].startswith("multipart/x-mixed-replace")
        while len(out) < frames:
            line = resp.readline()
            if not line:
                break
            if line.lower().startswith(b"content-length:"):
                n = int(line.split(b":")[1])
                resp.readline()
                out.append(resp.read(n))
    return out


def test_live_server_streams_the_moving_pupil(blob_windows):
    server = LiveServer(0)
    try:
        assert server.httpd.server_address[0] == "127.0.0.1" and server.url.startswith("http://127.0.0.1:")
        page = urllib.request.urlopen(server.url, timeout=5).read().decode()
        assert 'src="stream.mjpg"' in page and "state.json" in page
        frames = _frames(12, blob_windows)
        got: list[bytes] = []
        reader = threading.Thread(target=lambda: got.extend(_read_stream(server.url, 5)))
        reader.start()
        time.sleep(0.3)
        for f, x in frames:
            server.publish(f, {"x": x, "t_us": 0})
            time.sleep(0.08)
        reader.join(10)
        assert len(got) == 5
        xs = [_marker_x(j) for j in got]
        assert all(b > a for a, b in zip(xs, xs[1:])), xs  # the marker moves right, frame after frame
        state = json.loads(urllib.request.urlopen(server.url + "state.json", timeout=5).read())
        assert state["x"] == frames[-1][1]
        assert _marker_x(urllib.request.urlopen(server.url + "frame.jpg", timeout=5).read()) == pytest.approx(frames[-1][1], abs=15)
    finally:
        server.close()
    with pytest.raises(ConfigError, match="loopback"):
        LiveServer(0, host="0.0.0.0")


def test_tracker_run_feeds_the_live_server(tiny, blob_windows):
    model, cfg, net = tiny
    backend = make_backend("int", net=net, input_clip=cfg.input.input_clip)
    server = LiveServer(0)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.extend(_read_stream(server.url, 3)))
    reader.start()
    time.sleep(0.2)
    try:
        summary = run_tracker(backend, model, config_input(cfg), ReplaySource(blob_windows(60), SENSOR, realtime=True), None,
                              live=False, views=[server])
        reader.join(10)
    finally:
        server.close()
    assert summary["windows"] + summary["dropped"] == 60
    assert 8 <= server.frames <= 15 and len(got) == 3  # 25 fps of sensor time: one frame per 4 windows (fewer on drops)
    assert cv2.imdecode(np.frombuffer(got[0], np.uint8), cv2.IMREAD_COLOR).shape == (480, 640, 3)


def test_jupyter_view_updates_one_output_in_place(blob_windows):
    class Handle:
        def __init__(self):
            self.updates = []

        def update(self, obj):
            self.updates.append(obj)

    class Image:
        def __init__(self, data, format, **kw):
            self.data, self.format = data, format

    h = Handle()
    view = JupyterView(fps=0, handle=h, image=Image)
    for f, x in _frames(4, blob_windows):
        view.publish(f, {"x": x})
    assert len(h.updates) == 4 and h.updates[0].format == "jpeg" and h.updates[0].data[:2] == b"\xff\xd8"
    slow = JupyterView(fps=1, handle=Handle(), image=Image)
    for f, x in _frames(4, blob_windows):
        slow.publish(f, {"x": x})
    assert len(slow.handle.updates) == 1 and slow.state["x"] == 210.0  # rate-limited, state still current


def test_video_html_embeds_browser_formats(tmp_path):
    (tmp_path / "v.webm").write_bytes(b"\x1a\x45\xdf\xa3data")
    html = video_html(str(tmp_path / "v.webm"))
    assert html.startswith("<video") and "data:video/webm;base64," in html
    assert isinstance(show_video(str(tmp_path / "v.webm")), (str, object))
    (tmp_path / "v.avi").write_bytes(b"x")
    with pytest.raises(ConfigError, match="browsers play"):
        video_html(str(tmp_path / "v.avi"))


def test_cli_serve_flag(tmp_path, blob_windows):
    from edgevision.events.formats import write_events

    write_events(tmp_path / "rec.aedat4", np.concatenate([w.events for w in blob_windows(30)]), SENSOR)
    base = [sys.executable, "-m", "edgevision", "track", "--source", f"file:{tmp_path / 'rec.aedat4'}"]
    p = subprocess.run(base + ["--backend", "int", "--serve", "0", "--json"], capture_output=True, text=True,
                       cwd=tmp_path, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "live view: http://127.0.0.1:" in p.stderr and json.loads(p.stdout)["live_view"].startswith("http://127.0.0.1:")
    bad = subprocess.run(base + ["--serve", "99999"], capture_output=True, text=True, cwd=tmp_path)
    assert bad.returncode == 2 and "port must be 0-65535" in bad.stderr


def test_board_notebook_runs_headless(tmp_path, monkeypatch):
    """The PYNQ notebook's code cells, executed in order with the simulated overlay and a stub IPython."""
    import types

    nb = json.loads((Path(__file__).resolve().parents[2] / "host" / "notebooks" / "eye_tracking.ipynb").read_text())
    updates: list = []

    class Handle:
        def update(self, obj):
            updates.append(obj)

    display_mod = types.ModuleType("IPython.display")
    display_mod.Image = lambda data, format, **kw: ("image", format, len(data))
    display_mod.HTML = lambda html: ("html", html)
    display_mod.display = lambda obj, display_id=False: Handle()
    ipy = types.ModuleType("IPython")
    ipy.display = display_mod
    monkeypatch.setitem(sys.modules, "IPython", ipy)
    monkeypatch.setitem(sys.modules, "IPython.display", display_mod)
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    scope: dict = {}
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            src = "".join(cell["source"]).replace('Path("runs/notebook")', repr(str(tmp_path / "nb")))
            exec(compile(src.replace("os.chdir(", "(") , "notebook", "exec"), scope)
    assert scope["summary"]["windows"] == 10 and scope["summary"]["dropped"] == 0
    assert updates and updates[0][:2] == ("image", "jpeg")
    shown = scope["show_video"](scope["summary"]["video"])
    assert shown[0] == "html" and "<video" in shown[1]
