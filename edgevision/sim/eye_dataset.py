"""Synthetic near-eye event recordings: eye motion -> rendered frames -> DVS emulator -> events + 100 Hz labels.

Frames are rendered at an adaptive rate: a new frame whenever the pupil, iris or lid has moved by
``max_px`` pixels since the last one, at least every ``dt_max_us`` and at every label boundary (the
emulator interpolates event times linearly between frames, so this matches a fixed >= 1 kHz rate
during saccades and blinks while skipping redundant frames during fixations).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from edgevision.datasets.layouts import LABEL_PERIOD_US
from edgevision.events.core import EVENT_DTYPE
from edgevision.sim.dvs import DVSEmulator, DVSParams
from edgevision.sim.eye_geometry import EyeCamera, EyeState, EyeSubject, sample_subject
from edgevision.sim.eye_motion import EyeMotion, MotionParams, generate_motion
from edgevision.sim.eye_render import EyeRenderer


@dataclass(frozen=True)
class RenderRate:
    """Adaptive frame schedule: a frame per ``max_px`` of motion, at least every ``dt_max_us``."""

    max_px: float = 1.0
    dt_max_us: int = 10_000


DATASET_RATE = RenderRate(1.5, 10_000)
LIVE_RATE = RenderRate(4.0, 10_000)


def subject_dvs_params(subject: EyeSubject, seed: int) -> DVSParams:
    """The subject's sensor: v2e defaults with per-subject threshold and noise level."""
    base = DVSParams()
    return base.replace(
        threshold_on=subject.dvs_threshold,
        threshold_off=subject.dvs_threshold,
        leak_rate_hz=base.leak_rate_hz * subject.dvs_noise_scale,
        shot_noise_rate_hz=base.shot_noise_rate_hz * subject.dvs_noise_scale,
        seed=seed,
    )


def render_schedule(st: EyeState, grid_us: int, rate: RenderRate, slot_us: int = LABEL_PERIOD_US) -> np.ndarray:
    """Indices of the trajectory samples to render (always the first, the last and every slot boundary)."""
    motion = np.concatenate(
        [
            np.linalg.norm(np.diff(st.pupil_xy, axis=0), axis=1)[:, None],
            np.linalg.norm(np.diff(st.iris_xy, axis=0), axis=1)[:, None],
            np.abs(np.diff(st.pupil_axes[:, 0]))[:, None],
            np.abs(np.diff(st.lid_open))[:, None] * 150.0,  # lid travel in pixels, roughly
        ],
        axis=1,
    ).max(axis=1)
    progress = np.concatenate([[0.0], np.cumsum(motion)]) / rate.max_px
    progress += np.arange(progress.shape[0]) * (grid_us / rate.dt_max_us)
    step = np.floor(progress).astype(np.int64)
    keep = np.flatnonzero(np.diff(step) > 0) + 1
    slots = np.arange(0, progress.shape[0], slot_us // grid_us)
    return np.unique(np.concatenate([[0, progress.shape[0] - 1], keep, slots]))


class EyeScene:
    """One subject's camera, renderer and sensor."""

    def __init__(self, subject: EyeSubject, dvs_seed: int) -> None:
        self.subject = subject
        self.camera = EyeCamera(subject)
        self.renderer = EyeRenderer(self.camera)
        self.dvs = DVSEmulator(subject_dvs_params(subject, dvs_seed))
        self.last_frame: np.ndarray | None = None
        self.gaze: tuple[float, float] | None = None  # where a live stream left the eye (yaw, pitch)

    def state(self, m: EyeMotion) -> EyeState:
        return self.camera.state(m.yaw, m.pitch, m.pupil_scale, m.lid_open)

    def step(self, st: EyeState, k: int, t_us: int) -> np.ndarray:
        """Render sample ``k`` and feed it to the sensor at ``t_us``: a full-sensor update at label boundaries
        (leak events of the static background catch up there), only the eye region in between."""
        region = None if t_us % LABEL_PERIOD_US == 0 else self.renderer.region
        self.last_frame = self.renderer.render(st, k)
        return self.dvs.step(self.last_frame, t_us, region)


def labels_at(st: EyeState, grid_us: int, n_labels: int, period_us: int = LABEL_PERIOD_US) -> np.ndarray:
    """Label i = rendered pupil centre and closed flag at the end of slot i, ``(i + 1) * period``; [L, 3]."""
    idx = (np.arange(1, n_labels + 1) * period_us) // grid_us
    return np.concatenate([st.pupil_xy[idx], st.closed[idx, None]], axis=1).astype(np.float32)


@dataclass
class Recording:
    name: str
    subject: int
    events: np.ndarray
    labels: np.ndarray
    frames: int


def recording_scene(
    subject_id: int, session: int, seconds: float, seed: int, motion: MotionParams = MotionParams()
) -> tuple[EyeScene, EyeMotion]:
    """The scene and full trajectory of recording ``<subject>_<session>``; deterministic for (seed, subject, session)."""
    ss = np.random.SeedSequence([seed, subject_id, session])
    motion_seed, dvs_seed = ss.generate_state(2)
    subject = sample_subject(int(np.random.SeedSequence([seed, subject_id]).generate_state(1)[0]))
    scene = EyeScene(subject, int(dvs_seed))
    return scene, generate_motion(seconds, np.random.default_rng(int(motion_seed)), motion)


def simulate_recording(
    subject_id: int,
    session: int,
    seconds: float,
    seed: int,
    rate: RenderRate = DATASET_RATE,
    motion: MotionParams = MotionParams(),
) -> Recording:
    """Render one recording ``<subject>_<session>`` of ``seconds``; deterministic for (seed, subject, session)."""
    scene, m = recording_scene(subject_id, session, seconds, seed, motion)
    st = scene.state(m)
    chunks = [scene.step(st, int(k), int(m.t_us[k])) for k in render_schedule(st, m.grid_us, rate)]
    events = np.concatenate(chunks) if chunks else np.empty(0, EVENT_DTYPE)
    n_labels = int(m.t_us[-1] // LABEL_PERIOD_US)
    return Recording(f"{subject_id}_{session}", subject_id, events, labels_at(st, m.grid_us, n_labels), len(chunks))


def stream_scene(
    scene: EyeScene, seconds: float | None, rng: np.random.Generator, rate: RenderRate = LIVE_RATE, block_s: float = 10.0
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(events, label_row)`` per 10 ms slot, rendering live in blocks of ``block_s`` of motion."""
    left = None if seconds is None else int(round(seconds * 1e6 / LABEL_PERIOD_US))
    block = int(round(block_s * 1e6 / LABEL_PERIOD_US))
    t_offset = scene.dvs.t_us or 0  # continue the sensor's clock (and the gaze) when streamed again
    while left is None or left > 0:
        n_slots = block if left is None else min(block, left)
        m = generate_motion(n_slots * LABEL_PERIOD_US * 1e-6, rng, start=scene.gaze)
        scene.gaze = (float(m.yaw[-1]), float(m.pitch[-1]))
        st = scene.state(m)
        sched = render_schedule(st, m.grid_us, rate)
        per_slot = LABEL_PERIOD_US // m.grid_us
        labels = labels_at(st, m.grid_us, n_slots)
        pos = 0 if scene.dvs.t_us is None else 1  # later blocks start where the previous one ended
        for slot in range(n_slots):
            end = (slot + 1) * per_slot
            chunks = []
            while pos < sched.shape[0] and sched[pos] <= end:
                k = int(sched[pos])
                chunks.append(scene.step(st, k, t_offset + int(m.t_us[k])))
                pos += 1
            yield (np.concatenate(chunks) if chunks else np.empty(0, EVENT_DTYPE)), labels[slot]
        t_offset += int(m.t_us[-1])
        if left is not None:
            left -= n_slots
