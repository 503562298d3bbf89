"""Drawing and writing the tracker's output: event frames with pupil marker, trail, eye-closed indicator, HUD
and legend; an annotated video (H.264 MP4 or VP8 WebM, which browsers and Jupyter play; MPEG-4 Part 2 MP4 or
MJPG AVI only where neither encoder exists; verified by decoding) and a JSONL of predictions.

Palettes (RGB): ``metavision`` (the Metavision SDK dark theme, default), ``dv`` (DV's light theme), ``gray``.
A frame shows one window's events (10 ms accumulation); the video runs at 25 fps, one frame per 4 windows.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgevision.atomic import atomic_path
from edgevision.errors import ConfigError
from edgevision.runtime.sources import TrackWindow
from edgevision.runtime.tracker import Prediction


@dataclass(frozen=True)
class Palette:
    """Background, ON and OFF colours (RGB) plus the overlay colours."""

    background: tuple[int, int, int]
    on: tuple[int, int, int]
    off: tuple[int, int, int]
    pupil: tuple[int, int, int] = (255, 170, 0)
    label: tuple[int, int, int] = (80, 220, 100)
    text: tuple[int, int, int] = (235, 235, 235)


PALETTES = {
    "metavision": Palette((30, 37, 52), (255, 255, 255), (64, 126, 200)),
    "dv": Palette((255, 255, 255), (0, 0, 139), (90, 90, 90), text=(20, 20, 20)),
    "gray": Palette((128, 128, 128), (255, 255, 255), (0, 0, 0), text=(255, 255, 0)),
}


def get_palette(name: str) -> Palette:
    if name not in PALETTES:
        raise ConfigError(f"unknown palette {name!r}; choose one of {sorted(PALETTES)}")
    return PALETTES[name]


def _bgr(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    return (rgb[2], rgb[1], rgb[0])


class FrameRenderer:
    """Keeps the pupil trail and turns (window, prediction, HUD values) into a BGR frame."""

    def __init__(self, sensor_size: tuple[int, int], palette: Palette, trail: int = 25) -> None:
        self.size = (int(sensor_size[0]), int(sensor_size[1]))
        self.palette = palette
        self.trail: deque[tuple[int, int]] = deque(maxlen=trail)
        self.view: tuple[int, int, int, int] | None = None  # camera-px rectangle the model sees (a sensor map)

    def track(self, pred: Prediction) -> None:
        """Add a prediction to the trail (call for every window, drawn or not)."""
        self.trail.append((int(round(pred.x)), int(round(pred.y))))

    def draw(self, window: TrackWindow, pred: Prediction, hud: dict[str, str]) -> np.ndarray:
        import cv2

        w, h = self.size
        pal = self.palette
        img = np.empty((h, w, 3), np.uint8)
        img[:] = _bgr(pal.background)
        ev = window.events
        if ev.shape[0]:
            colours = np.array([_bgr(pal.off), _bgr(pal.on)], np.uint8)
            img[ev["y"], ev["x"]] = colours[ev["p"]]
        if self.view is not None:
            x0, y0, x1, y1 = self.view
            cv2.rectangle(img, (x0, y0), (max(x0, x1 - 1), max(y0, y1 - 1)), _bgr(pal.label), 1)
        if len(self.trail) > 1:
            pts = np.array(self.trail, np.int32).reshape(-1, 1, 2)
            cv2.polylines(img, [pts], False, _bgr(pal.pupil), 1, cv2.LINE_AA)
        if pred.label is not None:
            cv2.circle(img, (int(pred.label[0]), int(pred.label[1])), 9, _bgr(pal.label), 1, cv2.LINE_AA)
        centre = (int(round(pred.x)), int(round(pred.y)))
        cv2.drawMarker(img, centre, _bgr(pal.pupil), cv2.MARKER_CROSS, 18, 2, cv2.LINE_AA)
        cv2.circle(img, centre, 6, _bgr(pal.pupil), 2, cv2.LINE_AA)
        if pred.closed_prob > 0.5:
            cv2.rectangle(img, (w - 150, 8), (w - 8, 36), (40, 40, 220), -1)
            cv2.putText(img, "EYE CLOSED", (w - 142, 29), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2, cv2.LINE_AA)
        y = 22
        for key, value in hud.items():
            cv2.putText(img, f"{key}: {value}", (10, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, _bgr(pal.text), 1, cv2.LINE_AA)
            y += 20
        self._legend(img, pred.label is not None)
        return img

    def _legend(self, img: np.ndarray, labelled: bool) -> None:
        import cv2

        pal = self.palette
        items = [("ON", pal.on), ("OFF", pal.off), ("pupil", pal.pupil)] + ([("label", pal.label)] if labelled else [])
        x, y = 10, img.shape[0] - 12
        for name, colour in items:
            cv2.rectangle(img, (x, y - 10), (x + 12, y + 2), _bgr(colour), -1)
            cv2.rectangle(img, (x, y - 10), (x + 12, y + 2), _bgr(pal.text), 1)
            cv2.putText(img, name, (x + 17, y), cv2.FONT_HERSHEY_SIMPLEX, 0.45, _bgr(pal.text), 1, cv2.LINE_AA)
            x += 30 + 9 * len(name)


def hud_values(pred: Prediction, backend: str, fps: float, events_per_s: float, dropped: int, window_us: int
               ) -> dict[str, str]:
    """The HUD lines: backend, accumulation window, event rate, loop rate, latency, drops."""
    return {
        "backend": backend,
        "window": f"{window_us / 1000:g} ms",
        "events": f"{events_per_s / 1e6:.2f} Mev/s",
        "loop": f"{fps:.0f} windows/s",
        "latency": f"{pred.latency_ms:.2f} ms",
        "dropped": str(dropped),
    }


# Preference order: H.264 MP4 through an ffmpeg executable with libx264 (imageio-ffmpeg's bundled binary, else
# `ffmpeg` on PATH), OpenCV's own H.264 (avc1) MP4 when its FFmpeg has an encoder, VP8 WebM (OpenCV's pip wheels
# have libvpx; ~27 ms a 640x480 frame, against ~13 ms for libx264 ultrafast), all three played by browsers and
# Jupyter; then MPEG-4 Part 2 (mp4v) MP4 and MJPG AVI, which browsers do not play, as fallbacks only.
VIDEO_CODECS = ("h264", "avc1", "VP80", "mp4v", "MJPG")
_CONTAINER = {"h264": "mp4", "avc1": "mp4", "VP80": "webm", "mp4v": "mp4", "MJPG": "avi"}
BROWSER_PLAYABLE = frozenset({"h264", "avc1", "VP80"})


def ffmpeg_h264() -> str | None:
    """Path of an ffmpeg executable with the libx264 encoder, or None (looked up once)."""
    global _FFMPEG
    if _FFMPEG is False:
        import shutil
        import subprocess

        candidates = []
        try:
            import imageio_ffmpeg

            candidates.append(imageio_ffmpeg.get_ffmpeg_exe())
        except Exception:  # not installed, or no binary for this platform
            pass
        if shutil.which("ffmpeg"):
            candidates.append(shutil.which("ffmpeg"))
        _FFMPEG = None
        for exe in candidates:
            try:
                out = subprocess.run([exe, "-hide_banner", "-encoders"], capture_output=True, text=True, timeout=20).stdout
            except (OSError, subprocess.SubprocessError):
                continue
            if " libx264 " in out:
                _FFMPEG = exe
                break
    return _FFMPEG or None


_FFMPEG: str | None | bool = False


class _FFmpegWriter:
    """Raw BGR frames piped into ``ffmpeg -c:v libx264`` (ultrafast, yuv420p, faststart MP4: plays in browsers)."""

    def __init__(self, exe: str, path: Path, fps: float, size: tuple[int, int]) -> None:
        import subprocess

        w, h = size
        cmd = [exe, "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{w}x{h}",
               "-r", f"{fps:g}", "-i", "-", "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264", "-preset",
               "ultrafast", "-tune", "zerolatency", "-pix_fmt", "yuv420p", "-threads", "1", "-movflags", "+faststart",
               "-f", "mp4", str(path)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.path = path

    def write(self, frame: np.ndarray) -> None:
        try:
            self.proc.stdin.write(np.ascontiguousarray(frame).tobytes())
        except (BrokenPipeError, OSError):
            err = self.proc.stderr.read().decode(errors="replace").strip().splitlines() if self.proc.stderr else []
            raise ConfigError(f"{self.path}: the H.264 encoder (ffmpeg) stopped: {err[-1] if err else 'no message'}") from None

    def release(self) -> None:
        if self.proc.stdin and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        self.proc.wait()


class VideoOutput:
    """An annotated video written atomically, in the first codec of ``codecs`` (default ``VIDEO_CODECS``)
    that works here: each OpenCV codec is probed by writing two frames and decoding them back; ``codec`` says
    which one was taken, ``browser_playable`` whether browsers and Jupyter play it."""

    def __init__(self, path_stem: Path, size: tuple[int, int], fps: float = 25.0, codecs: tuple[str, ...] | None = None) -> None:
        import cv2

        self.size = size
        self.fps = fps
        self.frames = 0
        codecs = VIDEO_CODECS if codecs is None else codecs
        unknown = [c for c in codecs if c not in _CONTAINER]
        if unknown:
            raise ConfigError(f"unknown video codec(s) {unknown}; choose from {list(VIDEO_CODECS)}")
        exe = ffmpeg_h264() if "h264" in codecs else None
        choice = next((c for c in codecs if (c == "h264" and exe) or (c != "h264" and _codec_works(path_stem.parent, _CONTAINER[c], c))), None)
        if choice is None:
            raise ConfigError(f"{path_stem}: none of the video codecs {list(codecs)} works here (no ffmpeg with libx264, and "
                              "this OpenCV writes none of them); install imageio-ffmpeg or opencv-python-headless")
        self.codec = self.fourcc = choice
        self.browser_playable = choice in BROWSER_PLAYABLE
        self.path = path_stem.with_suffix(f".{_CONTAINER[choice]}")
        self._ctx = atomic_path(self.path)
        self.tmp = self._ctx.__enter__()
        if choice == "h264":
            self.writer: Any = _FFmpegWriter(exe, self.tmp, fps, size)
        else:
            self.writer = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter_fourcc(*choice), fps, size)

    def write(self, frame: np.ndarray) -> None:
        self.writer.write(frame)
        self.frames += 1

    def close(self) -> Path:
        """Finish the file and check that OpenCV decodes it back."""
        self.writer.release()
        if self.frames and decoded_frames(self.tmp) == 0:
            _abort(self._ctx)
            raise ConfigError(f"{self.path}: the written video does not decode ({self.codec}); try another OpenCV build")
        self._ctx.__exit__(None, None, None)
        return self.path

    def abort(self) -> None:
        self.writer.release()
        _abort(self._ctx)


def _codec_works(directory: Path, ext: str, fourcc: str) -> bool:
    """Whether OpenCV writes a 2-frame ``fourcc`` video in ``directory`` that it can decode again."""
    import tempfile

    import cv2

    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory, prefix=".codec-probe-") as tmp:
        path = str(Path(tmp) / f"probe.{ext}")
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*fourcc), 25.0, (64, 48))
        if not writer.isOpened():
            return False
        for k in range(2):
            writer.write(np.full((48, 64, 3), 60 * k, np.uint8))
        writer.release()
        return decoded_frames(path) == 2


def _abort(ctx: Any) -> None:
    """Leave an ``atomic_path`` context as if an error happened: the temporary file is removed."""
    err = RuntimeError("output aborted")
    ctx.__exit__(type(err), err, None)  # returns False (does not swallow), raises nothing itself


def decoded_frames(path: str | Path) -> int:
    """Frames OpenCV can decode from ``path`` (0 when it cannot open it)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    n = 0
    try:
        while cap.isOpened():
            ok, _ = cap.read()
            if not ok:
                break
            n += 1
    finally:
        cap.release()
    return n


class JsonlOutput:
    """Predictions, one JSON object a line, written atomically when closed."""

    def __init__(self, path: Path) -> None:
        self._ctx = atomic_path(path)
        self.path = path
        self._fh = open(self._ctx.__enter__(), "w")

    def write(self, pred: Prediction) -> None:
        self._fh.write(json.dumps(pred.record()) + "\n")

    def close(self) -> Path:
        self._fh.close()
        self._ctx.__exit__(None, None, None)
        return self.path

    def abort(self) -> None:
        self._fh.close()
        _abort(self._ctx)
