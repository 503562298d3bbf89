"""Live views for headless machines: a small HTTP server (MJPEG) for any browser, and a Jupyter display.

Both take what the tracker's output sink draws (one annotated BGR frame per 40 ms of sensor time: events,
pupil marker and trail, HUD) through ``publish(frame, state)``; ``state`` is the JSON-able HUD and pupil of
that frame.

:class:`LiveServer` listens on 127.0.0.1 only (a PYNQ board is reached through ``ssh -L PORT:127.0.0.1:PORT``
or Jupyter's proxy) and serves ``/`` (a page: the stream and a text HUD), ``/stream.mjpg``
(``multipart/x-mixed-replace`` JPEG stream, which ``<img>`` plays in every browser), ``/frame.jpg`` (the
latest frame) and ``/state.json``. :class:`JupyterView` updates one notebook output in place (the frames go
through the kernel's own channel: no port to open on the board).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

from edgevision.errors import BackendError, ConfigError

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>edgevision live</title>
<style>body{background:#1e2534;color:#ebebeb;font:14px sans-serif;margin:16px}img{border:1px solid #555;max-width:100%}
#hud{font-family:monospace;white-space:pre;margin-top:8px}</style></head>
<body><h3>edgevision: live eye tracking</h3>
<img id="view" src="stream.mjpg" alt="live view">
<div id="hud">waiting for the first window...</div>
<script>
async function poll(){try{const r=await fetch('state.json',{cache:'no-store'});const s=await r.json();
document.getElementById('hud').textContent=Object.entries(s).map(([k,v])=>k+': '+(typeof v==='number'?v.toFixed(2):v)).join('\\n');}
catch(e){document.getElementById('hud').textContent='stream ended';}setTimeout(poll,250);}
poll();
</script></body></html>
"""


def encode_jpeg(frame: np.ndarray, quality: int = 80) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise BackendError("OpenCV could not encode a JPEG frame")
    return buf.tobytes()


class LiveServer:
    """MJPEG + state over HTTP on ``127.0.0.1:port`` (``port`` 0: any free port; see :attr:`url`)."""

    def __init__(self, port: int = 8090, host: str = "127.0.0.1") -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ConfigError(f"the live view listens on the loopback interface only, not {host!r}; tunnel with ssh -L")
        if not 0 <= int(port) <= 65535:
            raise ConfigError(f"--serve port must be 0-65535, got {port}")
        self._cond = threading.Condition()
        self._jpeg: bytes | None = None
        self._state: dict[str, Any] = {}
        self._seq = 0
        self.closed = False
        self.frames = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # no access log on stderr
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                path = self.path.split("?")[0]
                if path in ("/", "/index.html"):
                    self._send(PAGE.encode(), "text/html; charset=utf-8")
                elif path == "/state.json":
                    with server._cond:
                        body = json.dumps(server._state).encode()
                    self._send(body, "application/json")
                elif path == "/frame.jpg":
                    with server._cond:
                        jpeg = server._jpeg
                    if jpeg is None:
                        self.send_error(503, "no frame yet")
                    else:
                        self._send(jpeg, "image/jpeg")
                elif path == "/stream.mjpg":
                    self._stream()
                else:
                    self.send_error(404)

            def _send(self, body: bytes, ctype: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def _stream(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                seen = -1
                try:
                    while True:
                        with server._cond:
                            server._cond.wait_for(lambda: server._seq != seen or server.closed, timeout=1.0)
                            if server.closed:
                                return
                            if server._seq == seen or server._jpeg is None:
                                continue
                            seen, jpeg = server._seq, server._jpeg
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                                         + str(len(jpeg)).encode() + b"\r\n\r\n" + jpeg + b"\r\n")
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    return

        try:
            self.httpd = ThreadingHTTPServer((host, int(port)), Handler)
        except OSError as exc:
            raise ConfigError(f"cannot serve the live view on {host}:{port} ({exc.strerror or exc}); pick another --serve port") from None
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self.url = f"http://{host}:{self.port}/"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True,
                                        name="edgevision-live-view")
        self._thread.start()

    def publish(self, frame: np.ndarray, state: dict[str, Any]) -> None:
        jpeg = encode_jpeg(frame)
        with self._cond:
            self._jpeg, self._state = jpeg, dict(state)
            self._seq += 1
            self.frames += 1
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()
        self.httpd.shutdown()
        self.httpd.server_close()


class JupyterView:
    """Shows the live frames in one notebook output, updated in place (at most ``fps`` updates a second).

    ``handle``: an IPython display handle (default: a new one, ``IPython.display.display(..., display_id=True)``);
    ``image``: the ``IPython.display.Image`` class (injectable for tests)."""

    def __init__(self, fps: float = 10.0, handle: Any = None, image: Any = None, width: int | None = None) -> None:
        if handle is None or image is None:
            try:
                from IPython.display import HTML, Image, display
            except ImportError:
                raise BackendError("the Jupyter view needs IPython (run it in a notebook; pip install ipython)") from None
            image = image or Image
            handle = handle or display(HTML("<i>waiting for the first window...</i>"), display_id=True)
        self.handle, self.image, self.width = handle, image, width
        self.period = 1.0 / fps if fps > 0 else 0.0
        self._last = 0.0
        self.frames = 0
        self.state: dict[str, Any] = {}

    def publish(self, frame: np.ndarray, state: dict[str, Any]) -> None:
        now = time.perf_counter()
        self.state = dict(state)
        if self.frames and now - self._last < self.period:
            return
        self._last = now
        kw = {"width": self.width} if self.width else {}
        self.handle.update(self.image(data=encode_jpeg(frame), format="jpeg", **kw))
        self.frames += 1

    def close(self) -> None:
        pass


def video_html(path: str, width: int = 640) -> str:
    """An HTML ``<video>`` with the file embedded (base64): plays inline in Jupyter, wherever the kernel runs."""
    import base64
    from pathlib import Path

    p = Path(path)
    mime = {".mp4": "video/mp4", ".webm": "video/webm"}.get(p.suffix.lower())
    if mime is None:
        raise ConfigError(f"{p}: browsers play MP4 (H.264) or WebM, not {p.suffix}; this OpenCV has no such encoder")
    data = base64.b64encode(p.read_bytes()).decode()
    return f'<video width="{width}" controls autoplay loop muted><source src="data:{mime};base64,{data}" type="{mime}"></video>'


def show_video(path: str, width: int = 640) -> Any:
    """Display a tracker video inline in Jupyter (an ``IPython.display.HTML``), or return the HTML string
    outside IPython."""
    html = video_html(path, width)
    try:
        from IPython.display import HTML
    except ImportError:
        return html
    return HTML(html)
