"""Recordings of the held-out 'eyeball' family in the 3ET+ layout (all in the test split, true labels included).

Label convention (3ET+): label i is the centre of the full pupil ellipse as imaged through the cornea (the whole
pupil rim, also where the lids hide it) at the end of slot i, t = (i + 1) * 10 ms, in 640x480 sensor pixels with
pixel centres at integer coordinates; closed = 1 when the lids cover that centre.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import cv2
import numpy as np
from tqdm import tqdm

from edgevision.datasets import layouts, writer
from edgevision.errors import ConfigError
from edgevision.events.core import EVENT_DTYPE
from edgevision.sim.eyeball.camera import HEIGHT, WIDTH
from edgevision.sim.eyeball.geometry import ellipse_centre, lid_closed_at, listing_rotation, pupil_boundary
from edgevision.sim.eyeball.motion import GRID_US, Motion, frame_schedule, generate_motion
from edgevision.sim.eyeball.render import EyeState, Renderer
from edgevision.sim.eyeball.scene import Scene, sample_scene
from edgevision.sim.eyeball.sensor import PixelArray, noise_events, sample_sensor

GENERATOR = "edgevision.sim.eyeball"
LABEL_US = layouts.LABEL_PERIOD_US


@dataclass(frozen=True)
class Recording:
    name: str
    events: np.ndarray  # EVENT_DTYPE, sorted by t
    labels: np.ndarray  # float32 [L, 3] (x, y, closed)
    frames: int
    phase: np.ndarray  # per label: motion phase at the label time (0 fixation, 1 saccade, 2 pursuit)
    info: dict[str, Any]


def state_at(m: Motion, k: int) -> EyeState:
    rot = listing_rotation(m.yaw[k], m.pitch[k])
    return EyeState(rot, float(m.pupil_r[k]), float(m.theta_u[k]), float(m.theta_l[k]))


def labels_for(scene: Scene, m: Motion, idx: np.ndarray) -> np.ndarray:
    """Labels (x, y, closed) float32 at grid indices ``idx``."""
    rots = np.stack([listing_rotation(m.yaw[k], m.pitch[k]) for k in idx])
    rims = pupil_boundary(scene.cam, scene.anat, rots, m.pupil_r[idx])
    xy = np.array([ellipse_centre(r) for r in rims])
    closed = lid_closed_at(scene.cam, scene.anat, xy, m.theta_u[idx], m.theta_l[idx])
    return np.column_stack([xy, closed]).astype(np.float32)


def recording_world(index: int, seconds: float, seed: int) -> tuple[Scene, Motion, Renderer, np.random.Generator]:
    """The deterministic scene, motion and renderer of recording ``index`` of a family seeded ``seed``."""
    rng = np.random.default_rng([seed, index, 0x3E7E])
    scene = sample_scene(rng)
    m = generate_motion(scene, seconds, rng)
    lash = max(scene.look.lash_len_u, scene.look.lash_len_l) / scene.anat.lid_lever
    elev = (min(scene.look.crease_l, m.theta_l.min() - lash) - 0.03,
            max(scene.look.crease_u, m.theta_u.max() + lash) + 0.03)
    eye = (float(m.theta_l.min()) - 0.03, float(m.theta_u.max()) + 0.03)
    return scene, m, Renderer(scene, elev, eye), rng


@contextlib.contextmanager
def _one_cv2_thread() -> Iterator[None]:
    """OpenCV on one thread: its per-call threading only costs on these small images (and with jobs in parallel)."""
    prev = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(prev)


def simulate_recording(index: int, seconds: float, seed: int) -> Recording:
    """Render, sense and label one recording (recording ``index``, name ``'<index + 1>_1'``), on one core."""
    if seconds < 0.05:
        raise ConfigError(f"seconds must be >= 0.05, got {seconds}")
    with _one_cv2_thread():
        return _simulate(index, seconds, seed)


def _simulate(index: int, seconds: float, seed: int) -> Recording:
    scene, m, ren, rng = recording_world(index, seconds, seed)
    sp = sample_sensor(rng)
    sched = frame_schedule(scene, m)
    roi = ren.roi
    pixels = PixelArray(sp, ren.render_roi(state_at(m, 0)), (roi.rows.start, roi.cols.start), rng)
    chunks = []
    for a, b in zip(sched[:-1], sched[1:]):
        chunks.append(pixels.step(ren.render_roi(state_at(m, b)), int(m.t_us[a]), int(m.t_us[b])))
    t, x, y, p = (np.concatenate(c) for c in zip(*chunks))
    sig = np.empty(t.size, EVENT_DTYPE)
    sig["t"], sig["x"], sig["y"], sig["p"] = t, x, y, p
    ev = np.concatenate([sig, noise_events(sp, int(m.t_us[-1]), (WIDTH, HEIGHT), rng)])
    ev = ev[np.argsort(ev["t"], kind="stable")]
    n_labels = int(m.t_us[-1] // LABEL_US)
    idx = (np.arange(1, n_labels + 1) * (LABEL_US // GRID_US)).astype(np.int64)
    info = {"sensor": {k: float(v) for k, v in vars(sp).items()},
            "roi": [int(v) for v in (roi.rows.start, roi.rows.stop, roi.cols.start, roi.cols.stop)],
            "camera_distance_mm": float(np.linalg.norm(scene.cam.origin - [0, 0, scene.anat.apex_z])),
            "leds": int(scene.look.leds.shape[0])}
    return Recording(f"{index + 1}_1", ev, labels_for(scene, m, idx), int(sched.size), m.phase[idx], info)


def _job(args: tuple[str, int, float, int, str | None]) -> dict[str, Any]:
    out, index, seconds, seed, compression = args
    start = time.process_time()
    rec = simulate_recording(index, seconds, seed)
    cpu = time.process_time() - start
    files = writer.write_recording(out, "test", rec.name, rec.events, rec.labels, compression=compression)
    n = rec.labels.shape[0]
    return {
        "name": rec.name, "split": "test", "events": int(rec.events.shape[0]), "frames": rec.frames,
        "seconds": n * LABEL_US * 1e-6, "on_fraction": float(rec.events["p"].mean()) if rec.events.size else 0.0,
        "closed_fraction": float(rec.labels[:, 2].mean()) if n else 0.0,
        "saccade_fraction": float(np.mean(rec.phase == 1)) if n else 0.0, "cpu_s": cpu, **rec.info, "files": files,
    }


def generate_family_dataset(
    out: str | Path, recordings: int, seconds: float, seed: int, jobs: int = 1, *, compression: str | None = "lzf",
    command: str = "",
) -> dict:
    """Write ``recordings`` held-out-family recordings of ``seconds`` each to ``out`` (3ET+ layout, split 'test').

    Deterministic for a seed whatever ``jobs`` (parallel processes); ``manifest.json`` is written last.
    """
    if recordings < 1:
        raise ConfigError(f"recordings must be >= 1, got {recordings}")
    if seconds < 0.05:
        raise ConfigError(f"seconds must be >= 0.05, got {seconds}")
    out = Path(out)
    manifest = out / layouts.MANIFEST_FILE
    if manifest.exists():
        manifest.unlink()  # incomplete until the new manifest is written
    tasks = [(str(out), i, float(seconds), int(seed), compression) for i in range(recordings)]
    start = time.perf_counter()
    results = []
    with tqdm(total=len(tasks), desc="synth-eye eyeball", unit="rec", file=sys.stderr) as bar:
        if jobs > 1:
            with multiprocessing.get_context("spawn").Pool(min(jobs, len(tasks))) as pool:
                for r in pool.imap(_job, tasks):
                    results.append(r)
                    bar.update()
        else:
            for task in tasks:
                results.append(_job(task))
                bar.update()
    names = {s: [] for s in layouts.SPLITS}
    names["test"] = [r["name"] for r in results]
    files: dict[str, str] = {}
    for r in results:
        files.update(r.pop("files"))
    files.update(writer.write_split_lists(out, names))
    total_events = sum(r["events"] for r in results)
    total_s = sum(r["seconds"] for r in results)
    cpu = sum(r["cpu_s"] for r in results)
    summary = {
        "out": str(out), "renderer": "eyeball", "recordings": len(results),
        "splits": {s: len(v) for s, v in names.items()}, "events": total_events, "seconds": round(total_s, 6),
        "event_rate_hz": total_events / total_s if total_s else 0.0,
        "on_fraction": float(np.mean([r["on_fraction"] for r in results])),
        "blink_fraction": float(np.mean([r["closed_fraction"] for r in results])),
        "frames": sum(r["frames"] for r in results), "wall_s": time.perf_counter() - start,
        "cpu_s_per_recorded_s": cpu / total_s if total_s else 0.0,
    }
    writer.write_manifest(out, files, {"generator": GENERATOR, "renderer": "eyeball", "seed": seed, "command": command,
                                       "summary": summary, "recordings": results})
    return summary
