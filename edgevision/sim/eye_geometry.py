"""Synthetic subjects and head-mounted camera geometry: gaze -> pupil/iris ellipses, glints, eyelids, closed flag.

Camera frame: x right, y down, z forward (pinhole, focal ``focal_px``). The camera sits below and to the
side of the eye, so the eye's straight-ahead gaze is tilted away from the optical axis by ``cam_pitch_deg``
(upwards) and ``cam_yaw_deg``; the pupil and iris discs are foreshortened by the cosine between their normal
(the gaze) and the viewing ray. Image roll and offset of the camera are a final 2-D rigid transform.
Eyelids are curves in the image between two fixed eye corners; the upper lid moves towards the lower
lid when the eye closes and follows vertical gaze.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WIDTH, HEIGHT = 640, 480


@dataclass(frozen=True)
class EyeSubject:
    """Anatomy, camera placement and appearance of one synthetic subject (sizes in mm, levels 0-255)."""

    seed: int
    eye_z_mm: float
    focal_px: float
    cam_pitch_deg: float
    cam_yaw_deg: float
    roll_deg: float
    offset_px: tuple[float, float]
    iris_radius_mm: float
    pupil_radius_mm: float
    lid_width: float  # half-width of the eye opening, in iris radii
    lid_upper: float  # upper lid apex height above the corner line, in iris radii
    lid_lower: float  # lower lid depth below the corner line, in iris radii
    lid_skew: float  # apex shift towards one corner
    lid_tilt: float  # corner line slope
    lid_centre_dy: float  # lid centre below the primary-gaze iris centre, in iris radii
    skin_level: float
    sclera_level: float
    iris_level: float
    pupil_level: float
    illumination: float  # global gain of the IR illumination
    n_leds: int
    dvs_threshold: float
    dvs_noise_scale: float


def sample_subject(seed: int) -> EyeSubject:
    """Draw a subject deterministically from ``seed``."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xE7E]))
    return EyeSubject(
        seed=seed,
        eye_z_mm=rng.uniform(30.0, 38.0),
        focal_px=rng.uniform(480.0, 560.0),
        cam_pitch_deg=rng.uniform(20.0, 35.0),
        cam_yaw_deg=rng.uniform(-15.0, 15.0),
        roll_deg=rng.uniform(-12.0, 12.0),
        offset_px=(rng.uniform(-40, 40), rng.uniform(-25, 35)),
        iris_radius_mm=rng.uniform(5.6, 6.4),
        pupil_radius_mm=rng.uniform(1.5, 2.6),
        lid_width=rng.uniform(1.6, 1.95),
        lid_upper=rng.uniform(0.95, 1.25),
        lid_lower=rng.uniform(0.55, 0.85),
        lid_skew=rng.uniform(-0.2, 0.2),
        lid_tilt=rng.uniform(-0.12, 0.12),
        lid_centre_dy=rng.uniform(0.0, 0.25),
        skin_level=rng.uniform(120.0, 175.0),
        sclera_level=rng.uniform(175.0, 215.0),
        iris_level=rng.uniform(75.0, 130.0),
        pupil_level=rng.uniform(8.0, 28.0),
        illumination=rng.uniform(0.8, 1.1),
        n_leds=int(rng.integers(2, 5)),
        dvs_threshold=rng.uniform(0.2, 0.3),
        dvs_noise_scale=rng.uniform(0.5, 2.0),
    )


EYE_RADIUS_MM = 12.0  # rotation centre to pupil plane is about 10.5 mm; cornea centre at 5.6 mm, radius 7.8 mm
PUPIL_PLANE_MM = 10.5
CORNEA_CENTRE_MM = 5.6
CORNEA_RADIUS_MM = 7.8


def _rot_x(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _rot_y(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


@dataclass
class EyeState:
    """Per-time geometry in final image pixels (arrays over time)."""

    pupil_xy: np.ndarray  # [T, 2]
    pupil_axes: np.ndarray  # [T, 2] semi-axes (major, minor)
    iris_xy: np.ndarray
    iris_axes: np.ndarray
    angle_deg: np.ndarray  # [T] direction of the major axis
    glints: np.ndarray  # [T, K, 2]
    glint_visible: np.ndarray  # [T, K]
    lid_open: np.ndarray  # [T] effective opening (gaze-coupled)
    closed: np.ndarray  # [T] 1 while the lids cover the pupil centre


class EyeCamera:
    """Projects gaze to image geometry for one subject."""

    def __init__(self, s: EyeSubject) -> None:
        self.s = s
        self.centre = np.array([0.0, 0.0, s.eye_z_mm])
        self.r_cam = _rot_x(-np.radians(s.cam_pitch_deg)) @ _rot_y(np.radians(s.cam_yaw_deg))
        self.pp = np.array([WIDTH / 2, HEIGHT / 2])
        # LEDs around the lens, in camera coordinates (mm).
        ang = np.linspace(0, 2 * np.pi, s.n_leds, endpoint=False) + np.radians(30)
        self.leds = np.stack([9 * np.cos(ang), 6 * np.sin(ang), np.zeros_like(ang)], axis=1)
        r = np.radians(s.roll_deg)
        self.roll = np.array([[np.cos(r), -np.sin(r)], [np.sin(r), np.cos(r)]])
        # Place the primary-gaze iris at the image centre plus the subject's offset.
        c0 = self._project_raw(self.centre + PUPIL_PLANE_MM * self.gaze(np.zeros(1), np.zeros(1)))[0]
        self.shift = self.pp + np.asarray(s.offset_px) - c0
        self.iris_px = s.iris_radius_mm * s.focal_px / (s.eye_z_mm - PUPIL_PLANE_MM * 0.8)
        self.lid_centre_raw = c0 + self.shift + np.array([0.0, s.lid_centre_dy * self.iris_px])

    def gaze(self, yaw_deg: np.ndarray, pitch_deg: np.ndarray) -> np.ndarray:
        """Unit gaze vectors [T, 3] in camera coordinates."""
        y, p = np.radians(yaw_deg), np.radians(pitch_deg)
        d = np.stack([np.sin(y) * np.cos(p), -np.sin(p), -np.cos(y) * np.cos(p)], axis=1)
        return d @ self.r_cam.T

    def _project_raw(self, pts: np.ndarray) -> np.ndarray:
        return self.s.focal_px * pts[..., :2] / pts[..., 2:3] + self.pp

    def to_image(self, raw: np.ndarray) -> np.ndarray:
        """Raw (un-rolled, un-shifted) pixel coordinates -> final image coordinates."""
        return (raw + self.shift - self.pp) @ self.roll.T + self.pp

    def raw_to_final_shifted(self, pts: np.ndarray) -> np.ndarray:
        """Already shifted raw coordinates (lid curves) -> final image coordinates."""
        return (pts - self.pp) @ self.roll.T + self.pp

    def _disc(self, g: np.ndarray, radius_mm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        centre3 = self.centre + PUPIL_PLANE_MM * g
        xy = self._project_raw(centre3)
        view = centre3 / np.linalg.norm(centre3, axis=1, keepdims=True)
        cos = np.abs(np.sum(g * view, axis=1))
        major = radius_mm * self.s.focal_px / centre3[:, 2]
        return xy, np.stack([major, major * np.maximum(cos, 0.05)], axis=1), centre3

    def lid_curves(self, open_eff: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Upper and lower lid y (shifted raw coordinates) at lid-frame positions u in [-1, 1]; [T, U] each."""
        s, r = self.s, self.iris_px
        base = self.lid_centre_raw[1] + s.lid_tilt * u * s.lid_width * r
        bump = np.clip(1 - u * u, 0, None)
        lower = base + s.lid_lower * r * bump**0.9
        upper_open = base - s.lid_upper * r * bump**0.8 * (1 + s.lid_skew * u)
        upper = lower + (upper_open - lower) * open_eff[..., None]
        return upper, np.broadcast_to(lower, upper.shape)

    def state(self, yaw: np.ndarray, pitch: np.ndarray, pupil_scale: np.ndarray, lid_open: np.ndarray) -> EyeState:
        """Geometry of every time sample."""
        s = self.s
        g = self.gaze(yaw, pitch)
        pxy, paxes, p3 = self._disc(g, s.pupil_radius_mm * pupil_scale)
        ixy, iaxes, _ = self._disc(g, np.full(g.shape[0], s.iris_radius_mm))
        tip = self._project_raw(p3 + g) - pxy
        minor_dir = np.degrees(np.arctan2(tip[:, 1], tip[:, 0]))
        angle = minor_dir + 90.0 + s.roll_deg
        # Corneal reflections: the sphere's normal bisects the directions to the LED and to the camera.
        cc = self.centre + CORNEA_CENTRE_MM * g  # [T, 3]
        to_cam = -cc / np.linalg.norm(cc, axis=1, keepdims=True)
        to_led = self.leds[None] - cc[:, None]
        to_led /= np.linalg.norm(to_led, axis=2, keepdims=True)
        nrm = to_led + to_cam[:, None]
        nrm /= np.linalg.norm(nrm, axis=2, keepdims=True)
        gl3 = cc[:, None] + CORNEA_RADIUS_MM * nrm
        glints = self.to_image(self._project_raw(gl3))
        visible = np.sum(nrm * g[:, None], axis=2) > np.cos(np.radians(45))
        open_eff = np.clip(lid_open * np.clip(1 + 0.015 * pitch, 0.6, 1.2), 0, 1.2)
        # Closed: pupil centre outside the opening between the lids (evaluated in shifted raw coordinates).
        praw = pxy + self.shift
        u = (praw[:, 0] - self.lid_centre_raw[0]) / (s.lid_width * self.iris_px)
        up, lo = self.lid_curves(open_eff, np.clip(u, -1, 1)[:, None])
        closed = (np.abs(u) >= 1) | (praw[:, 1] < up[:, 0]) | (praw[:, 1] > lo[:, 0])
        return EyeState(
            pupil_xy=self.to_image(pxy),
            pupil_axes=paxes,
            iris_xy=self.to_image(ixy),
            iris_axes=iaxes,
            angle_deg=angle,
            glints=glints,
            glint_visible=visible,
            lid_open=open_eff,
            closed=closed.astype(np.float32),
        )
