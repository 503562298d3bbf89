"""Synthetic subjects and head-mounted camera geometry: gaze -> pupil/iris ellipses, glints, eyelids, closed flag.

Camera frame: x right, y down, z forward (pinhole, focal ``focal_px``). The eye's straight-ahead gaze is tilted
away from the optical axis by ``cam_pitch_deg`` (> 0: camera below the eye looking up, < 0: above, 0: straight
on) and ``cam_yaw_deg``; the pupil and iris discs are foreshortened by the cosine between their normal (the gaze)
and the viewing ray. Image roll and offset of the camera are a final 2-D rigid transform, and a slow camera
slippage (pixels, per time sample) shifts the whole eye. Eyelids are curves in the image between two fixed eye
corners; the upper lid moves towards the lower lid when the eye closes and follows vertical gaze (downward
gaze lowers it over the top of the pupil). Every randomized quantity comes from :mod:`edgevision.sim.eye_domain`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgevision.sim.eye_domain import Domain, parse_domain

WIDTH, HEIGHT = 640, 480


@dataclass(frozen=True)
class EyeSubject:
    """Anatomy and appearance of one subject plus the camera, illumination and sensor of one recording
    (sizes in mm, levels 0-255; see :data:`edgevision.sim.eye_domain.FACTORS` for meanings and ranges)."""

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
    lid_gaze_coupling: float
    skin_level: float
    sclera_level: float
    iris_level: float
    iris_texture: float
    iris_limbus: float
    pupil_level: float
    lash_count: int
    lash_length: float
    lash_level: float
    brow_height: float | None  # None: no eyebrow in view
    skin_folds: int
    makeup: float
    focus_blur: float
    vignetting: float
    illumination: float  # global gain of the IR illumination
    n_leds: int
    led_ring_mm: float
    led_angle_deg: float
    led_falloff: float
    led_spot: tuple[float, float]
    ambient: float
    ambient_drift: float
    flicker: float
    flicker_hz: float
    dvs_threshold_on: float
    dvs_threshold_off: float
    dvs_mismatch: float
    dvs_refractory_us: int
    dvs_cutoff_hz: float
    dvs_leak_hz: float
    dvs_shot_hz: float
    dvs_hot_fraction: float
    dvs_hot_hz: float
    sensor_scale: float  # 1: native 640x480; < 1: a lower-resolution sensor, events mapped to 640x480


def sample_subject(seed: int, domain: str | Domain = "train", recording_seed: int | None = None) -> EyeSubject:
    """Draw a subject deterministically: anatomy from ``seed``, camera/illumination/sensor from ``recording_seed``
    (``seed`` when None), each factor from ``domain`` (see :func:`edgevision.sim.eye_domain.parse_domain`)."""
    d = parse_domain(domain)
    a = d.sampler(seed, "subject")
    r = d.sampler(seed if recording_seed is None else recording_seed, "recording")
    thr, ratio = r("dvs_threshold"), r("dvs_on_off_ratio")
    return EyeSubject(
        seed=seed,
        eye_z_mm=r("eye_distance"),
        focal_px=r("focal"),
        cam_pitch_deg=r("camera_pitch"),
        cam_yaw_deg=r("camera_yaw"),
        roll_deg=r("camera_roll"),
        offset_px=(r("offset_x"), r("offset_y")),
        iris_radius_mm=a("iris_radius"),
        pupil_radius_mm=a("pupil_radius"),
        lid_width=a("lid_width"),
        lid_upper=a("lid_upper"),
        lid_lower=a("lid_lower"),
        lid_skew=a("lid_skew"),
        lid_tilt=a("lid_tilt"),
        lid_centre_dy=a("lid_centre_dy"),
        lid_gaze_coupling=a("lid_gaze_coupling"),
        skin_level=a("skin_level"),
        sclera_level=a("sclera_level"),
        iris_level=a("iris_level"),
        iris_texture=a("iris_texture"),
        iris_limbus=a("iris_limbus"),
        pupil_level=a("pupil_level"),
        lash_count=int(a("lash_count")),
        lash_length=a("lash_length"),
        lash_level=a("lash_level"),
        brow_height=a("brow_height") if a("brow") < 0.6 else None,
        skin_folds=int(a("skin_folds")),
        makeup=a("makeup"),
        focus_blur=r("focus_blur"),
        vignetting=r("vignetting"),
        illumination=r("illumination"),
        n_leds=int(r("led_count")),
        led_ring_mm=r("led_ring_mm"),
        led_angle_deg=r("led_angle"),
        led_falloff=r("led_falloff"),
        led_spot=(r("led_spot_x"), r("led_spot_y")),
        ambient=r("ambient"),
        ambient_drift=r("ambient_drift"),
        flicker=r("flicker"),
        flicker_hz=r("flicker_hz"),
        dvs_threshold_on=thr * np.sqrt(ratio),
        dvs_threshold_off=thr / np.sqrt(ratio),
        dvs_mismatch=r("dvs_mismatch"),
        dvs_refractory_us=int(round(r("dvs_refractory_us"))),
        dvs_cutoff_hz=r("dvs_cutoff_hz"),
        dvs_leak_hz=r("dvs_leak_hz"),
        dvs_shot_hz=r("dvs_shot_hz"),
        dvs_hot_fraction=r("dvs_hot_fraction"),
        dvs_hot_hz=r("dvs_hot_hz"),
        sensor_scale=r("sensor_scale") if r("sensor_lowres") < 0.3 or d.factor == "sensor_scale" else 1.0,
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
    slip: np.ndarray  # [T, 2] camera slippage in final image pixels (already in the positions above)
    ambient: np.ndarray  # [T] additive ambient light level (grey)


class EyeCamera:
    """Projects gaze to image geometry for one subject."""

    def __init__(self, s: EyeSubject) -> None:
        self.s = s
        self.centre = np.array([0.0, 0.0, s.eye_z_mm])
        self.r_cam = _rot_x(-np.radians(s.cam_pitch_deg)) @ _rot_y(np.radians(s.cam_yaw_deg))
        self.pp = np.array([WIDTH / 2, HEIGHT / 2])
        # LEDs on an elliptical ring around the lens, in camera coordinates (mm).
        ang = np.linspace(0, 2 * np.pi, s.n_leds, endpoint=False) + np.radians(s.led_angle_deg)
        r = s.led_ring_mm
        self.leds = np.stack([r * np.cos(ang), 0.7 * r * np.sin(ang), np.zeros_like(ang)], axis=1)
        # Ambient drift: three slow sinusoids with random phases (a function of absolute time, so streams
        # rendered block by block stay continuous); flicker: one sinusoid of depth ``flicker``.
        rng = np.random.default_rng(np.random.SeedSequence([s.seed, 0xA3B]))
        self._drift_hz = rng.uniform(0.05, 0.5, 3)
        self._drift_phase = rng.uniform(0, 2 * np.pi, 4)
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

    def ambient(self, t_us: np.ndarray) -> np.ndarray:
        """Ambient light level (grey, additive) at absolute times ``t_us``."""
        s = self.s
        t = np.asarray(t_us, np.float64)[:, None] * 1e-6
        drift = np.sin(2 * np.pi * self._drift_hz * t + self._drift_phase[:3]).sum(axis=1) / np.sqrt(1.5)
        flicker = np.sin(2 * np.pi * s.flicker_hz * t[:, 0] + self._drift_phase[3])
        return s.ambient * np.clip(1 + s.ambient_drift * drift, 0, None) * (1 + s.flicker * flicker)

    def state(
        self,
        yaw: np.ndarray,
        pitch: np.ndarray,
        pupil_scale: np.ndarray,
        lid_open: np.ndarray,
        slip: np.ndarray | None = None,
        t_us: np.ndarray | None = None,
    ) -> EyeState:
        """Geometry of every time sample; ``slip`` [T, 2] camera slippage in pixels, ``t_us`` absolute times
        (ambient light); zeros when None."""
        s = self.s
        slip = np.zeros((len(yaw), 2)) if slip is None else np.asarray(slip, np.float64)
        t_us = np.zeros(len(yaw)) if t_us is None else t_us
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
        glints = self.to_image(self._project_raw(gl3)) + slip[:, None]
        visible = np.sum(nrm * g[:, None], axis=2) > np.cos(np.radians(45))
        open_eff = np.clip(lid_open * np.clip(1 + s.lid_gaze_coupling * pitch, 0.45, 1.2), 0, 1.2)
        # Closed: pupil centre outside the opening between the lids (evaluated in shifted raw coordinates).
        praw = pxy + self.shift
        u = (praw[:, 0] - self.lid_centre_raw[0]) / (s.lid_width * self.iris_px)
        up, lo = self.lid_curves(open_eff, np.clip(u, -1, 1)[:, None])
        closed = (np.abs(u) >= 1) | (praw[:, 1] < up[:, 0]) | (praw[:, 1] > lo[:, 0])
        return EyeState(
            pupil_xy=self.to_image(pxy) + slip,
            pupil_axes=paxes,
            iris_xy=self.to_image(ixy) + slip,
            iris_axes=iaxes,
            angle_deg=angle,
            glints=glints,
            glint_visible=visible,
            lid_open=open_eff,
            closed=closed.astype(np.float32),
            slip=slip,
            ambient=self.ambient(t_us),
        )
