"""Preview of a generated dataset: rendered frames with the slot's events (ON/OFF colours) and labels overlaid."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edgevision.atomic import atomic_path
from edgevision.datasets import layouts
from edgevision.errors import DatasetError
from edgevision.sim.eye_dataset import (DATASET_RATE, LABEL_PERIOD_US, labels_at, merge_chunks, recording_scene,
                                        render_schedule)

ON_RGB = (255, 70, 70)
OFF_RGB = (70, 150, 255)


def overlay(frame: np.ndarray, events: np.ndarray, label: np.ndarray) -> np.ndarray:
    """RGB image: dimmed grey frame, ON/OFF events of the slot, label cross (green open, magenta closed)."""
    rgb = np.repeat((frame.astype(np.float32) * 0.6).astype(np.uint8)[..., None], 3, axis=2)
    for pol, colour in ((0, OFF_RGB), (1, ON_RGB)):
        sel = events[events["p"] == pol]
        rgb[sel["y"], sel["x"]] = colour
    x, y = int(round(float(label[0]))), int(round(float(label[1])))
    colour = (255, 0, 255) if label[2] > 0.5 else (0, 255, 0)
    cv2.drawMarker(rgb, (x, y), colour, cv2.MARKER_CROSS, 24, 2)
    return rgb


def preview_clip(
    subject_id: int, session: int, seconds: float, seed: int, clip_s: float = 1.0, domain: str = "train"
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(frame, events, label) per 10 ms slot of the first ``clip_s`` of a recording, as the generator renders it."""
    scene, m = recording_scene(subject_id, session, seconds, seed, domain=domain)
    st = scene.state(m)
    per_slot = LABEL_PERIOD_US // m.grid_us
    n_slots = min(int(round(clip_s * 100)), (m.t_us.shape[0] - 1) // per_slot)
    labels = labels_at(st, m.grid_us, n_slots)
    sched = render_schedule(st, m.grid_us, DATASET_RATE)
    out = []
    pos = 0
    for slot in range(n_slots):
        chunks = []
        frame = None
        while pos < sched.shape[0] and sched[pos] <= (slot + 1) * per_slot:
            k = int(sched[pos])
            chunks.append(scene.step(st, k, int(m.t_us[k])))
            frame = scene.last_frame
            pos += 1
        out.append((frame, merge_chunks(chunks), labels[slot]))
    return out


def write_preview(root: str | Path, seed: int, clip_s: float = 1.0, domain: str = "train") -> dict[str, Any]:
    """Write ``<root>/preview.png`` (6 slots) and ``preview.gif`` (half-size, every 2nd slot) of the first train recording."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    root = Path(root)
    manifest = root / layouts.MANIFEST_FILE
    if not manifest.is_file():
        raise DatasetError(f"{manifest}: missing; generate the dataset before its preview")
    recs = json.loads(manifest.read_text())["recordings"]
    rec = next((r for r in recs if r["split"] == "train"), recs[0])
    subject, session = (int(v) for v in rec["name"].split("_"))
    clip = preview_clip(subject, session, rec["seconds"], seed, clip_s, domain)
    images = [overlay(*c) for c in clip]
    counts = np.array([c[1].shape[0] for c in clip])
    picks = np.unique(np.linspace(1, len(clip) - 1, 6).astype(int))
    picks[np.argmin(np.abs(picks - np.argmax(counts)))] = int(np.argmax(counts))  # include the busiest slot
    fig, axes = plt.subplots(2, 3, figsize=(15, 9))
    for ax, i in zip(axes.flat, sorted(set(picks.tolist()))):
        ax.imshow(images[i])
        x, y, closed = clip[i][2]
        ax.set_title(f"{rec['name']} t={(i + 1) * 10} ms: {counts[i]} events, label ({x:.0f}, {y:.0f}, {int(closed)})", fontsize=9)
        ax.axis("off")
    fig.suptitle("rendered IR frame (dimmed) + events of the 10 ms slot: ON red, OFF blue; label cross green (open) / magenta (closed)")
    fig.tight_layout()
    png = root / "preview.png"
    with atomic_path(png) as tmp:
        fig.savefig(tmp, dpi=80, format="png")
        tmp.chmod(0o644)
    plt.close(fig)
    gif = root / "preview.gif"
    frames = [Image.fromarray(img[::2, ::2]) for img in images[::2]]
    with atomic_path(gif) as tmp:
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:], duration=40, loop=0)
        tmp.chmod(0o644)
    return {"png": str(png), "gif": str(gif), "recording": rec["name"], "slots": len(clip)}
