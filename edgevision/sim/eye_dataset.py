"""Synthetic near-eye event recordings: eye motion -> rendered frames -> DVS emulator -> events + 100 Hz labels.

Label convention (:data:`LABEL_CONVENTION`, also in datasets/README.md): label i is the centre of the full pupil
ellipse (the whole pupil disk, also where the lids hide part of it) at the end of its 10 ms slot,
``(i + 1) * 10 ms``, in 640x480 sensor pixels with pixel centres at integer coordinates (OpenCV's drawing
convention), plus the closed flag (1 while the lids cover the pupil centre). It holds for every sensor
resolution: a lower-resolution sensor's events are mapped back to 640x480 coordinates.

Frames are rendered at an adaptive rate: a new frame whenever the pupil, iris or lid has moved by
``max_px`` pixels since the last one, at least every ``dt_max_us`` and at every label boundary (the
emulator interpolates event times linearly between frames, so this matches a fixed >= 1 kHz rate
during saccades and blinks while skipping redundant frames during fixations).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import cv2
import numpy as np

from edgevision.datasets.layouts import LABEL_PERIOD_US
from edgevision.events.core import EVENT_DTYPE
from edgevision.sim.dvs import DVSEmulator, DVSParams
from edgevision.sim.eye_domain import Domain
from edgevision.sim.eye_geometry import HEIGHT, WIDTH, EyeCamera, EyeState, EyeSubject, sample_subject
from edgevision.sim.eye_motion import SLIP_LIMIT_SD, EyeMotion, MotionParams, generate_motion, sample_motion_params
from edgevision.sim.eye_render import EyeRenderer

LABEL_CONVENTION = (
    "label = centre of the full pupil ellipse (the whole pupil disk, also where lids hide part of it) at the end "
    "of its 10 ms slot, in 640x480 sensor pixels, pixel centres at integer coordinates (OpenCV drawing "
    "convention); closed = 1 while the lids cover the pupil centre"
)


@dataclass(frozen=True)
class RenderRate:
    """Adaptive frame schedule: a frame per ``max_px`` of motion, at least every ``dt_max_us``."""

    max_px: float = 1.0
    dt_max_us: int = 10_000


DATASET_RATE = RenderRate(1.5, 10_000)
LIVE_RATE = RenderRate(4.0, 10_000)


def subject_dvs_params(subject: EyeSubject, seed: int) -> DVSParams:
    """The recording's sensor (its own resolution when ``sensor_scale < 1``; rates are per pixel of it)."""
    w = int(round(WIDTH * subject.sensor_scale))
    h = int(round(HEIGHT * subject.sensor_scale))
    return DVSParams(
        width=w,
        height=h,
        threshold_on=subject.dvs_threshold_on,
        threshold_off=subject.dvs_threshold_off,
        threshold_sigma=subject.dvs_mismatch,
        cutoff_hz=subject.dvs_cutoff_hz,
        leak_rate_hz=subject.dvs_leak_hz,
        shot_noise_rate_hz=subject.dvs_shot_hz,
        refractory_us=subject.dvs_refractory_us,
        hot_pixel_fraction=subject.dvs_hot_fraction,
        hot_pixel_rate_hz=subject.dvs_hot_hz,
        seed=seed,
    )


def _box_kernel(width: float) -> np.ndarray:
    """Symmetric 1-D kernel: the overlap of each pixel with a box of ``width`` pixels centred on the middle one."""
    half = int(np.ceil(width / 2 - 0.5))
    edges = np.arange(-half, half + 2) - 0.5
    overlap = np.clip(np.minimum(edges[1:], width / 2) - np.maximum(edges[:-1], -width / 2), 0, None)
    return (overlap / overlap.sum()).astype(np.float32)


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
    """One recording's subject, camera, renderer, sensor and motion statistics.

    A sensor smaller than 640x480 sees the frame downscaled (each sensor pixel the mean of its footprint: a
    separable box filter of the footprint's width, then bilinear sampling at the sensor pixels' centres); each of
    its events is mapped to a 640x480 pixel drawn uniformly inside the pixel's footprint, so labels keep their
    640x480 convention.
    """

    def __init__(self, subject: EyeSubject, dvs_seed: int, motion: MotionParams | None = None) -> None:
        self.subject = subject
        self.motion = motion if motion is not None else sample_motion_params(subject.seed)
        self.camera = EyeCamera(subject)
        self.renderer = EyeRenderer(self.camera, margin_px=SLIP_LIMIT_SD * self.motion.slippage_px)
        self.dvs = DVSEmulator(subject_dvs_params(subject, dvs_seed))
        self._map_rng = np.random.default_rng(np.random.SeedSequence([dvs_seed, 0x3A9]))
        self.last_frame: np.ndarray | None = None
        self.gaze: tuple[float, float] | None = None  # where a live stream left the eye (yaw, pitch)
        self.slip: np.ndarray | None = None  # ... and the camera slippage

    def state(self, m: EyeMotion, t_offset_us: int = 0) -> EyeState:
        return self.camera.state(m.yaw, m.pitch, m.pupil_scale, m.lid_open, m.slip, m.t_us + t_offset_us)

    def step(self, st: EyeState, k: int, t_us: int) -> np.ndarray:
        """Render sample ``k`` and feed it to the sensor at ``t_us``: a full-sensor update at label boundaries
        (leak events of the static background catch up there), only the eye region in between."""
        region = None if t_us % LABEL_PERIOD_US == 0 else self.renderer.region
        self.last_frame = self.renderer.render(st, k)
        p = self.dvs.params
        if (p.width, p.height) == (WIDTH, HEIGHT):
            return self.dvs.step(self.last_frame, t_us, region)
        kx, ky = _box_kernel(WIDTH / p.width), _box_kernel(HEIGHT / p.height)
        footprint_mean = cv2.sepFilter2D(self.last_frame, -1, kx, ky, borderType=cv2.BORDER_REPLICATE)
        small = cv2.resize(footprint_mean, (p.width, p.height), interpolation=cv2.INTER_LINEAR)
        if region is not None:
            sx, sy = p.width / WIDTH, p.height / HEIGHT
            y0, y1, x0, x1 = region
            region = (int(y0 * sy) - 1, int(np.ceil(y1 * sy)) + 1, int(x0 * sx) - 1, int(np.ceil(x1 * sx)) + 1)
        ev = self.dvs.step(small, t_us, region)
        if ev.shape[0]:
            jitter = self._map_rng.random((2, ev.shape[0]))
            ev["x"] = np.minimum(((ev["x"] + jitter[0]) * (WIDTH / p.width)).astype(np.int64), WIDTH - 1)
            ev["y"] = np.minimum(((ev["y"] + jitter[1]) * (HEIGHT / p.height)).astype(np.int64), HEIGHT - 1)
        return ev


def merge_chunks(chunks: list[np.ndarray]) -> np.ndarray:
    """Events of consecutive steps in time order: a full step also emits the (region-skipped) outer pixels'
    events since the previous full step, so steps overlap in time and are merged with a stable sort."""
    if not chunks:
        return np.empty(0, EVENT_DTYPE)
    ev = np.concatenate(chunks)
    return ev[np.argsort(ev["t"], kind="stable")]


def labels_at(st: EyeState, grid_us: int, n_labels: int, period_us: int = LABEL_PERIOD_US) -> np.ndarray:
    """Labels [L, 3] (x, y, closed) of :data:`LABEL_CONVENTION`: row i at the end of slot i, ``(i + 1) * period``."""
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
    subject_id: int,
    session: int,
    seconds: float,
    seed: int,
    motion: MotionParams | None = None,
    domain: str | Domain = "train",
) -> tuple[EyeScene, EyeMotion]:
    """The scene and full trajectory of recording ``<subject>_<session>``; deterministic for (seed, subject,
    session, domain). Anatomy is the subject's; camera, illumination, sensor and motion statistics (unless
    ``motion`` is given) are the recording's, all drawn from ``domain``."""
    ss = np.random.SeedSequence([seed, subject_id, session])
    motion_seed, dvs_seed, rec_seed = (int(v) for v in ss.generate_state(3))
    subject = sample_subject(int(np.random.SeedSequence([seed, subject_id]).generate_state(1)[0]), domain, rec_seed)
    params = motion if motion is not None else sample_motion_params(rec_seed, domain)
    scene = EyeScene(subject, dvs_seed, params)
    return scene, generate_motion(seconds, np.random.default_rng(motion_seed), params)


def simulate_recording(
    subject_id: int,
    session: int,
    seconds: float,
    seed: int,
    rate: RenderRate = DATASET_RATE,
    motion: MotionParams | None = None,
    domain: str | Domain = "train",
) -> Recording:
    """Render one recording ``<subject>_<session>`` of ``seconds``; deterministic for (seed, subject, session,
    domain)."""
    scene, m = recording_scene(subject_id, session, seconds, seed, motion, domain)
    st = scene.state(m)
    chunks = [scene.step(st, int(k), int(m.t_us[k])) for k in render_schedule(st, m.grid_us, rate)]
    events = merge_chunks(chunks)
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
        m = generate_motion(n_slots * LABEL_PERIOD_US * 1e-6, rng, scene.motion, scene.gaze, scene.slip)
        scene.gaze, scene.slip = (float(m.yaw[-1]), float(m.pitch[-1])), m.slip[-1].copy()
        st = scene.state(m, t_offset)
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
            yield merge_chunks(chunks), labels[slot]
        t_offset += int(m.t_us[-1])
        if left is not None:
            left -= n_slots
