"""Preview of a held-out-family recording: frames at label times (label cross) over their slot's events."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from edgevision.atomic import atomic_path
from edgevision.datasets import layouts
from edgevision.datasets.threeet import read_recording
from edgevision.errors import DatasetError
from edgevision.sim.eyeball.dataset import LABEL_US, labels_for, recording_world, state_at
from edgevision.sim.eyeball.motion import GRID_US

ON_BGR, OFF_BGR = (70, 70, 255), (255, 150, 70)


def _tile(frame: np.ndarray, events: np.ndarray, label: np.ndarray) -> np.ndarray:
    grey = (np.clip(frame, 0, 1) ** (1 / 2.2) * 255).astype(np.uint8)
    top = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
    bottom = np.zeros_like(top)
    for pol, colour in ((0, OFF_BGR), (1, ON_BGR)):
        sel = events[events["p"] == pol]
        bottom[sel["y"], sel["x"]] = colour
    colour = (255, 0, 255) if label[2] > 0.5 else (0, 255, 0)
    for img in (top, bottom):
        cv2.drawMarker(img, (int(round(float(label[0]))), int(round(float(label[1])))), colour, cv2.MARKER_CROSS, 20, 1)
    cv2.putText(bottom, f"{events.size} ev", (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 1)
    return np.vstack([top, bottom])


def preview_image(index: int, seconds: float, seed: int, events: np.ndarray, slots: int = 4) -> np.ndarray:
    """BGR image: ``slots`` columns (fixation, fastest motion, a blink if any, last), frame above events."""
    scene, m, ren, _ = recording_world(index, seconds, seed)
    n = int(m.t_us[-1] // LABEL_US)
    per = LABEL_US // GRID_US
    cut = np.searchsorted(events["t"], np.arange(n + 1) * LABEL_US)
    counts = np.diff(cut)
    pick = [int(np.argmin(counts[: max(n // 2, 1)])), int(np.argmax(counts))]
    blink = np.flatnonzero(m.closure[per::per][:n] > 0.5)
    pick += [int(blink[0])] if blink.size else []
    pick += [n - 1]
    pick = sorted(set(pick))[:slots]
    idx = np.array([(i + 1) * per for i in pick])
    labels = labels_for(scene, m, idx)
    tiles = [_tile(ren.frame(state_at(m, int(k))), events[cut[i] : cut[i + 1]], lab)
             for i, k, lab in zip(pick, idx, labels)]
    return np.hstack(tiles)


def write_preview(root: str | Path, seed: int) -> str:
    """Write ``<root>/preview.png`` for the first recording of a dataset from ``generate_family_dataset``."""
    root = Path(root)
    manifest = root / layouts.MANIFEST_FILE
    if not manifest.is_file():
        raise DatasetError(f"{manifest}: missing; generate the dataset first")
    rec = json.loads(manifest.read_text())["recordings"][0]
    events = read_recording(layouts.events_path(root, "test", rec["name"]))
    img = preview_image(int(rec["name"].split("_")[0]) - 1, rec["seconds"], seed, events)
    target = root / "preview.png"
    with atomic_path(target) as tmp:
        ok, buf = cv2.imencode(".png", img)
        tmp.write_bytes(buf.tobytes())
    return str(target)
