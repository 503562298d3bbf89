"""Synthetic gesture recognition set: 10 hand-like motions rendered with OpenCV, converted to events by a DVS
emulator, with per-subject style and per-recording variation; split by subject.

Layout of a set folder::

    meta.json                 classes, sensor_size, recordings [{id, label, subject, file, test}], settings
    events/<id>.npy           one EVENT_DTYPE array per recording
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Protocol

import cv2
import numpy as np
from tqdm import tqdm

from edgevision.atomic import atomic_path, write_text_atomic
from edgevision.errors import DatasetError
from edgevision.events.core import EVENT_DTYPE
from edgevision.recognition.recordings import Source
from edgevision.sim.dvs import DVSEmulator, DVSParams

CLASSES = [
    "swipe_left",
    "swipe_right",
    "swipe_up",
    "swipe_down",
    "circle_cw",
    "circle_ccw",
    "rotate",
    "zoom_in",
    "zoom_out",
    "wave",
]


@dataclass
class SynthConfig:
    size: int = 128
    duration_s: float = 1.0
    fps: int = 250
    subjects: int = 10
    test_fraction: float = 0.2  # of the subjects used (at least one)


class FrameEmulator(Protocol):
    """Turns a frame sequence (uint8 [F, H, W], timestamps in us) into an EVENT_DTYPE array."""
    def __call__(self, frames: np.ndarray, t_us: np.ndarray) -> np.ndarray: ...


@dataclass
class Style:
    """Per-recording rendering parameters (subject style plus recording jitter)."""

    speed: float
    size: float
    cx: float
    cy: float
    contrast: float
    phase: float
    texture_seed: int


def _texture(size: int, seed: int) -> np.ndarray:
    """Smooth random background texture in [0, 1]."""
    rng = np.random.default_rng(seed)
    small = rng.random((size // 8, size // 8)).astype(np.float32)
    return cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC).clip(0, 1)


def _pose(label: int, u: np.ndarray, st: Style) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Object centre (x, y), scale and angle per frame for class ``label`` at normalized times ``u``."""
    a = 0.32 * st.speed
    s = np.ones_like(u)
    ang = np.zeros_like(u)
    x, y = np.full_like(u, st.cx), np.full_like(u, st.cy)
    ramp = (u - 0.5) * 2 * a * min(st.speed, 1.4)
    name = CLASSES[label]
    if name == "swipe_left":
        x = st.cx - ramp
    elif name == "swipe_right":
        x = st.cx + ramp
    elif name == "swipe_up":
        y = st.cy - ramp
    elif name == "swipe_down":
        y = st.cy + ramp
    elif name in ("circle_cw", "circle_ccw"):
        sign = 1.0 if name == "circle_cw" else -1.0
        th = st.phase + sign * 2 * np.pi * st.speed * u
        x, y = st.cx + 0.22 * np.cos(th), st.cy + 0.22 * np.sin(th)
    elif name == "rotate":
        ang = st.phase + 360.0 * st.speed * u
    elif name == "zoom_in":
        s = 0.6 + 0.9 * u * st.speed
    elif name == "zoom_out":
        s = 1.5 - 0.9 * u * st.speed
    elif name == "wave":
        x = st.cx + 0.12 * np.sin(st.phase + 2 * np.pi * 3 * st.speed * u)
        ang = 25 * np.sin(st.phase + 2 * np.pi * 3 * st.speed * u)
    return x, y, s, ang


def render(label: int, st: Style, cfg: SynthConfig) -> tuple[np.ndarray, np.ndarray]:
    """Frames uint8 [F, H, W] and timestamps (us) of one recording: a textured hand-like shape (palm plus
    fingers) moving over a static textured background."""
    n = int(round(cfg.duration_s * cfg.fps))
    t_us = np.round(np.arange(n) * 1e6 / cfg.fps).astype(np.int64)
    u = np.arange(n) / max(n - 1, 1)
    xs, ys, ss, angs = _pose(label, u, st)
    size = cfg.size
    bg = (0.25 + 0.35 * _texture(size, st.texture_seed)) * 255
    hand_tex = 0.7 + 0.3 * _texture(size, st.texture_seed + 1)
    frames = np.empty((n, size, size), np.uint8)
    r = st.size * size
    for f in range(n):
        mask = np.zeros((size, size), np.uint8)
        cx, cy, sc = xs[f] * size, ys[f] * size, ss[f]
        rot = cv2.getRotationMatrix2D((cx, cy), angs[f], sc)
        palm = cv2.ellipse2Poly((int(cx), int(cy)), (int(r * 0.55), int(r * 0.7)), 0, 0, 360, 10)
        cv2.fillPoly(mask, [cv2.transform(palm[None].astype(np.float32), rot)[0].astype(np.int32)], 255)
        for k in range(4):
            fx = cx + (k - 1.5) * r * 0.3
            finger = np.array([[fx - r * 0.1, cy - r * 0.5], [fx + r * 0.1, cy - r * 0.5],
                               [fx + r * 0.1, cy - r * (1.2 + 0.1 * (k % 2))], [fx - r * 0.1, cy - r * (1.2 + 0.1 * (k % 2))]],
                              np.float32)
            cv2.fillPoly(mask, [cv2.transform(finger[None], rot)[0].astype(np.int32)], 255)
        m = mask.astype(np.float32) / 255.0
        img = bg * (1 - m) + 255 * st.contrast * hand_tex * m
        frames[f] = np.clip(img, 0, 255).astype(np.uint8)
    return frames, t_us


def styles(recordings: int, cfg: SynthConfig, seed: int) -> list[tuple[int, int, Style]]:
    """(label, subject, style) of every recording; each subject has its own size/speed/contrast/texture bias."""
    rng = np.random.default_rng(seed)
    subj = [
        dict(speed=rng.uniform(0.8, 1.2), size=rng.uniform(0.12, 0.2), contrast=rng.uniform(0.7, 1.0), tex=int(rng.integers(1 << 30)))
        for _ in range(cfg.subjects)
    ]
    out = []
    for i in range(recordings):
        label, subject = i % len(CLASSES), (i // len(CLASSES)) % cfg.subjects
        s = subj[subject]
        out.append(
            (
                label,
                subject,
                Style(
                    speed=s["speed"] * rng.uniform(0.85, 1.15),
                    size=s["size"] * rng.uniform(0.9, 1.1),
                    cx=rng.uniform(0.38, 0.62),
                    cy=rng.uniform(0.42, 0.62),
                    contrast=s["contrast"],
                    phase=rng.uniform(0, 2 * np.pi),
                    texture_seed=s["tex"] + int(rng.integers(3)),
                ),
            )
        )
    return out


def dvs_emulator(width: int, height: int, seed: int) -> FrameEmulator:
    """The project's DVS emulator (v2e defaults: thresholds 0.2, 300 Hz photoreceptor, leak and shot noise)."""
    emu = DVSEmulator(DVSParams(width=width, height=height, seed=seed))

    def run(frames: np.ndarray, t_us: np.ndarray) -> np.ndarray:
        return np.concatenate([emu.step(f, int(t)) for f, t in zip(frames, t_us)])

    return run


def synthesize(
    out: str | Path,
    recordings: int,
    seed: int,
    emulator_factory: Callable[[int, int, int], FrameEmulator] = dvs_emulator,
    cfg: SynthConfig = SynthConfig(),
    progress: bool = True,
) -> dict:
    """Render and emulate ``recordings`` recordings into ``out``; ``emulator_factory(width, height, seed)``
    returns a fresh emulator per recording. Returns a summary."""
    out = Path(out)
    per_subject = len(CLASSES)
    if recordings < 2 * per_subject:
        raise DatasetError(f"--recordings must be >= {2 * per_subject} (two subjects) for a split by subject, got {recordings}")
    if (out / "meta.json").exists():
        raise DatasetError(f"{out}: already holds a synthetic set (meta.json); choose another --out or delete it")
    (out / "events").mkdir(parents=True, exist_ok=True)
    used = min(cfg.subjects, -(-recordings // per_subject))
    test_from = used - max(1, round(used * cfg.test_fraction))
    rows, total = [], 0
    for i, (label, subject, st) in enumerate(tqdm(styles(recordings, cfg, seed), desc="synth-gesture", disable=not progress)):
        frames, t_us = render(label, st, cfg)
        ev = emulator_factory(cfg.size, cfg.size, seed * 100_003 + i)(frames, t_us)
        if ev.dtype != EVENT_DTYPE:
            raise DatasetError(f"emulator returned dtype {ev.dtype}, expected EVENT_DTYPE")
        rid = f"s{subject:02d}_{CLASSES[label]}_{i:05d}"
        with atomic_path(out / "events" / f"{rid}.npy") as tmp:
            np.save(tmp, ev)
        rows.append(dict(id=rid, label=label, subject=f"s{subject:02d}", file=f"events/{rid}.npy", test=subject >= test_from, events=int(len(ev))))
        total += len(ev)
    meta = dict(
        format="edgevision-synth-gesture/1",
        classes=CLASSES,
        sensor_size=[cfg.size, cfg.size],
        seed=seed,
        settings=asdict(cfg),
        recordings=rows,
    )
    write_text_atomic(out / "meta.json", json.dumps(meta, indent=1))
    return dict(out=str(out), recordings=recordings, events=total, test_recordings=sum(r["test"] for r in rows))


def open_synthetic(path: str | Path) -> Source:
    """Open a synthetic gesture set folder as a :class:`Source` (split by subject, from meta.json)."""
    path = Path(path)
    meta_path = path / "meta.json"
    if not meta_path.is_file():
        raise DatasetError(f"{path}: no meta.json; make a set with `edgevision data synth-gesture --out {path}`")
    try:
        meta = json.loads(meta_path.read_text())
        rows = meta["recordings"]
        files = [path / r["file"] for r in rows]
        src = Source(
            "synthetic",
            tuple(meta["sensor_size"]),
            list(meta["classes"]),
            np.asarray([r["label"] for r in rows], np.int64),
            [r["id"] for r in rows],
            [r["subject"] for r in rows],
            np.asarray([r["test"] for r in rows], bool),
            lambda k: _load(files[k]),
        )
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{meta_path}: malformed ({exc!r}); regenerate the set") from None
    return src


def _load(file: Path) -> np.ndarray:
    try:
        ev = np.load(file)
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{file}: cannot read events ({exc}); regenerate the set") from None
    if ev.dtype != EVENT_DTYPE:
        raise DatasetError(f"{file}: dtype {ev.dtype} is not EVENT_DTYPE; regenerate the set")
    return ev
