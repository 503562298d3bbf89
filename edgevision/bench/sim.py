"""``edgevision bench sim``: DVS emulator and near-eye renderer speed on 640x480 frames, one CPU thread.

Frames are rendered near-eye images at 1 kHz (rendered before timing). The emulator processes every full
frame (no changed-region hint). ``realtime_ratio_1khz`` = emulated frames per second / 1000: above 1 the
emulator keeps up with a 1 kHz frame source. The torch backend is timed too (on CUDA when present). The live synthetic camera's ratio (render + emulate, its
adaptive frame rate) is measured on the same machine in the same run.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from edgevision.atomic import write_text_atomic
from edgevision.sim.dvs import DVSEmulator
from edgevision.sim.dvs_torch import TorchDVSEmulator
from edgevision.sim.eye_camera import SyntheticEyeCamera
from edgevision.sim.eye_dataset import EyeScene
from edgevision.sim.eye_geometry import sample_subject
from edgevision.sim.eye_motion import generate_motion


def bench_sim(frames: int = 300, out: str | None = None, live_seconds: float = 2.0) -> dict[str, Any]:
    """Time the emulator, the renderer and the live camera; returns medians and ratios (and writes JSON)."""
    torch.set_num_threads(1)
    scene = EyeScene(sample_subject(0), 0)
    m = generate_motion(frames / 1000.0 + 0.01, np.random.default_rng(0))
    st = scene.state(m)
    step = 1000 // m.grid_us
    idx = np.arange(0, frames * step, step)
    render_s = []
    images = []
    for k in idx:
        t0 = time.perf_counter()
        images.append(scene.renderer.render(st, int(k)))
        render_s.append(time.perf_counter() - t0)
    emu = DVSEmulator()
    emu.step(images[0], 0)
    emu.step(images[1], 1000)  # compiles the kernels
    emu_s = []
    n_events = 0
    for i, img in enumerate(images[2:], start=2):
        t0 = time.perf_counter()
        n_events += emu.step(img, i * 1000).shape[0]
        emu_s.append(time.perf_counter() - t0)

    temu = TorchDVSEmulator()
    temu.step(images[0], 0)
    temu.step(images[1], 1000)
    torch_s = []
    for i, img in enumerate(images[2:], start=2):
        t0 = time.perf_counter()
        temu.step(img, i * 1000)
        if temu.device.type == "cuda":
            torch.cuda.synchronize()
        torch_s.append(time.perf_counter() - t0)
    cam = SyntheticEyeCamera(seed=0)
    for _ in cam.stream(0.02):
        pass
    t0 = time.perf_counter()
    for _ in cam.stream(live_seconds):
        pass
    live_wall = time.perf_counter() - t0
    emu_ms = float(np.median(emu_s) * 1e3)
    result = {
        "frames": len(emu_s),
        "sensor": "640x480",
        "threads": 1,
        "dvs_ms_per_frame_median": emu_ms,
        "dvs_frames_per_s": 1e3 / emu_ms,
        "realtime_ratio_1khz": (1e3 / emu_ms) / 1000.0,
        "dvs_events_per_frame": n_events / len(emu_s),
        "torch_device": str(temu.device),
        "torch_dvs_ms_per_frame_median": float(np.median(torch_s) * 1e3),
        "torch_realtime_ratio_1khz": 1.0 / float(np.median(torch_s) * 1e3),
        "render_ms_per_frame_median": float(np.median(render_s) * 1e3),
        "render_and_dvs_frames_per_s": 1e3 / (emu_ms + float(np.median(render_s) * 1e3)),
        "live_camera_realtime_ratio": live_seconds / live_wall,
        "machine": platform.processor() or platform.machine(),
    }
    if out:
        write_text_atomic(Path(out), json.dumps(result, indent=1))
        result["json"] = str(out)
    return result
