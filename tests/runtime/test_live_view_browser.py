"""The live view's page in a real browser: headless Chromium (Debian's ``chromium``, installed by
``tools/bootstrap.sh``) driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: no port, no
websocket library), one page kept open while frames arrive; screenshots decoded with OpenCV."""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import signal
import subprocess
import threading
import time

import cv2
import numpy as np
import pytest

from edgevision.runtime.backends import make_backend
from edgevision.runtime.live_view import LiveServer
from edgevision.runtime.session import run_tracker
from edgevision.runtime.sources import ReplaySource

from .test_live_view import PUPIL_BGR, SENSOR, _frames, _marker_x

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (tools/bootstrap.sh installs Debian's "
                                                          "when run as root with apt-get)")


class Browser:
    """Headless Chromium with one page, spoken to in DevTools protocol messages (JSON + NUL) on fds 3 and 4."""

    def __init__(self, profile: str) -> None:
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--disable-extensions", "--disable-background-networking", "--disable-component-update",
                "--mute-audio", "--window-size=1000,800", f"--user-data-dir={profile}", "--remote-debugging-pipe",
                "about:blank"]
        self.log = open(os.path.join(profile, "chromium.log"), "wb")
        # fds 3 and 4 are the protocol's; a new session, so that teardown can end the browser's whole process group
        self.proc = subprocess.Popen(["bash", "-c", f'exec "$0" "$@" 3<&{to_chrome_r} 4>&{from_chrome_w}', CHROMIUM, *args],
                                     pass_fds=(to_chrome_r, from_chrome_w), stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf = b""
        self._id = 0
        self.session: str | None = None
        target = self.call("Target.createTarget", {"url": "about:blank"}, browser=True)["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True}, browser=True)["sessionId"]
        self.call("Emulation.setDeviceMetricsOverride", {"width": 1000, "height": 800, "deviceScaleFactor": 1, "mobile": False})

    def call(self, method: str, params: dict | None = None, browser: bool = False, timeout: float = 15.0) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if self.session and not browser:
            msg["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self._buf:
                raw, self._buf = self._buf.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self._id:  # events (no id) and other replies are not waited for
                    if "error" in reply:
                        raise RuntimeError(f"{method}: {reply['error']}")
                    return reply["result"]
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise RuntimeError(f"chromium gave no reply to {method} (exit {self.proc.poll()}); see {self.log.name}")
            if select.select([self._from_chrome], [], [], min(left, 0.5))[0]:
                chunk = os.read(self._from_chrome, 1 << 20)
                if not chunk:
                    raise RuntimeError(f"chromium closed the pipe during {method}; see {self.log.name}")
                self._buf += chunk

    def js(self, expr: str):
        return self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True})["result"].get("value")

    def view_png(self) -> bytes:
        """A screenshot of the page's ``<img id=view>`` (the image inside its border, at 1:1)."""
        r = self.js("(() => {const v = document.getElementById('view'), b = v.getBoundingClientRect();"
                    " return [b.x + window.scrollX + v.clientLeft, b.y + window.scrollY + v.clientTop,"
                    " v.clientWidth, v.clientHeight];})()")  # inside the border
        clip = {"x": r[0], "y": r[1], "width": r[2], "height": r[3], "scale": 1}
        return base64.b64decode(self.call("Page.captureScreenshot", {"format": "png", "clip": clip})["data"])

    def wait_for(self, expr: str, timeout: float = 10.0):
        deadline = time.monotonic() + timeout
        while (v := self.js(expr)) in (None, False, 0, ""):
            if time.monotonic() > deadline:
                raise AssertionError(f"the page never got {expr}")
            time.sleep(0.05)
        return v

    def close(self) -> None:
        try:  # no reply is waited for: the browser may exit before it sends one
            os.write(self._to_chrome, json.dumps({"id": self._id + 1, "method": "Browser.close"}).encode() + b"\0")
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # renderer, GPU and zygote helpers that outlived the browser
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=5)
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:  # the helpers are reaped by init: wait until the group is empty
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        os.close(self._to_chrome)
        os.close(self._from_chrome)
        self.log.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    b = Browser(str(tmp_path_factory.mktemp("chromium")))
    try:
        yield b
    finally:
        pgid = b.proc.pid
        b.close()
        with pytest.raises(ProcessLookupError):  # nothing of the browser's process group is left
            os.killpg(pgid, 0)


@pytest.fixture
def no_threads_left():
    """Fails the test if a thread it started (server, stream handlers, tracker) outlives it by more than 3 s."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 3.0
    new = lambda: [t.name for t in threading.enumerate()  # noqa: E731 - tqdm's monitor is process-wide, by design
                   if t not in before and t.is_alive() and t.name != "tqdm_monitor"]
    while (left := new()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, left


def _open(browser: Browser, url: str) -> None:
    browser.call("Page.navigate", {"url": url})
    browser.wait_for("document.readyState !== 'loading' && !!document.getElementById('view')")


def _marker_when(browser: Browser, want_x: float, timeout: float = 10.0) -> tuple[float, np.ndarray]:
    """The marker's x in screenshots of the open page, once it is within 15 px of ``want_x``."""
    deadline = time.monotonic() + timeout
    seen = []
    while True:
        png = browser.view_png()
        img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
        near = np.abs(img.astype(int) - PUPIL_BGR).sum(axis=-1) < 60
        x = _marker_x(png) if img.shape[:2] == (480, 640) and near[200:280].any() else float("nan")
        seen.append(x)
        if abs(x - want_x) <= 15:
            return x, img
        if time.monotonic() > deadline:
            raise AssertionError(f"the page never showed the marker near x={want_x}: saw {seen[-10:]}")
        time.sleep(0.1)


def test_page_shows_the_pupil_marker_moving(browser, blob_windows, no_threads_left):
    """The page stays open; frames of a pupil moving right 20 px a frame arrive; two screenshots apart show the
    marker further right, and the HUD follows ``state.json``."""
    frames = _frames(12, blob_windows)
    server = LiveServer(0)
    try:
        _open(browser, server.url)
        for f, x in frames[:4]:
            server.publish(f, {"x": x, "windows_per_s": 100.0, "latency_ms": 1.5, "dropped": 0})
            time.sleep(0.05)
        x1, img1 = _marker_when(browser, frames[3][1])
        assert browser.wait_for("document.getElementById('view').naturalWidth") == 640
        assert "x: 210.00" in browser.wait_for("(t => t.includes('x: 210') && t)(document.getElementById('hud').textContent)")
        for f, x in frames[4:]:
            server.publish(f, {"x": x, "windows_per_s": 100.0, "latency_ms": 1.5, "dropped": 0})
            time.sleep(0.05)
        x2, img2 = _marker_when(browser, frames[-1][1])
        assert x2 - x1 > 120, (x1, x2)  # 8 frames of 20 px to the right, in the same page (no reload)
        assert "x: 370.00" in browser.wait_for("(t => t.includes('x: 370') && t)(document.getElementById('hud').textContent)")
        bg = np.array((52, 37, 30))  # the rendered frame: the metavision background around the events and marker
        assert (np.abs(img2.astype(int) - bg).sum(axis=-1) < 30).mean() > 0.5
    finally:
        server.close()
    assert browser.wait_for("(t => t === 'stream ended' && t)(document.getElementById('hud').textContent)") == "stream ended"


def test_page_follows_a_tracker_run(browser, tiny, blob_windows, no_threads_left):
    """A real tracker run (integer backend, real-time replay) feeds the server while the page is open: the frames
    change under the open page and the HUD shows the run's rate, latency and drops."""
    from edgevision.runtime.host_model import config_input

    model, cfg, net = tiny
    backend = make_backend("int", net=net, input_clip=cfg.input.input_clip)
    server = LiveServer(0)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            run_tracker(backend, model, config_input(cfg), ReplaySource(blob_windows(250), SENSOR, realtime=True), None,
                        live=False, views=[server])
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test
            errors.append(exc)

    tracker = threading.Thread(target=run, name="tracker-run")
    try:
        _open(browser, server.url)
        tracker.start()
        browser.wait_for("document.getElementById('view').naturalWidth")
        hud = browser.wait_for("(t => t.includes('latency_ms') && t)(document.getElementById('hud').textContent)")
        assert all(k in hud for k in ("windows_per_s: ", "latency_ms: ", "dropped: ", "x: ", "backend: int")), hud
        shot = lambda: cv2.imdecode(np.frombuffer(browser.view_png(), np.uint8), cv2.IMREAD_COLOR)  # noqa: E731
        first = shot()
        assert first.shape == (480, 640, 3)
        assert (np.abs(first.astype(int) - PUPIL_BGR).sum(axis=-1) < 60).any()  # pupil colour (marker, trail, legend)
        changed = 0.0
        while changed <= 0.002 and tracker.is_alive():  # a later frame: the blob has moved along its circle
            time.sleep(0.1)
            second = shot()
            changed = (np.abs(first.astype(int) - second.astype(int)).sum(axis=-1) > 60).mean()
        assert changed > 0.002, "the open page never showed a new frame while the tracker ran"
        tracker.join(15)
        assert not tracker.is_alive() and not errors, errors
    finally:
        server.close()
        tracker.join(15)
    assert server.frames >= 20
