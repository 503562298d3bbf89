"""One recording's fixed world: anatomy, camera, IR LEDs, reflectances and texture maps."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edgevision.sim.eyeball import textures
from edgevision.sim.eyeball.camera import Camera, look_at
from edgevision.sim.eyeball.geometry import Anatomy, listing_rotation, sample_anatomy

TEX_RES_MM = 0.05  # skin and lid textures
LID_PAD_MM = 10.0  # lid textures start this far over the eye (where the lashes hang)
SCLERA_EXTENT = 1.3


@dataclass(frozen=True)
class Look:
    """Reflectances (linear, near-IR), lid/lash shape and illumination."""

    pupil: float
    iris: float
    sclera: float
    skin: float
    lash: float
    canthus: float
    limbus_width_mm: float
    lid_shadow: float  # darkening of the eye just below the upper lid margin
    lid_shadow_mm: float
    crease_u: float  # elevation (rad) of the upper-lid crease: the lid skin between margin and crease stretches
    crease_l: float
    lash_len_u: float  # mm
    lash_len_l: float
    leds: np.ndarray  # (K, 3) head-frame positions, mm
    led_power: np.ndarray  # (K,)
    ambient: float
    glint_peak: float
    glint_sigma_px: float
    vignetting: float
    saturation: float


@dataclass(frozen=True)
class Scene:
    anat: Anatomy
    cam: Camera
    look: Look
    gaze_limits: tuple[float, float, float, float]  # yaw min/max, pitch min/max (rad)
    lid_rest: tuple[float, float]  # theta_u, theta_l at primary gaze (rad)
    lid_follow: tuple[float, float]  # d theta / d pitch of the upper and lower lids
    iris_tex: np.ndarray
    sclera_tex: np.ndarray
    lid_u: np.ndarray  # (rows, cols, 2): skin, lash alpha; rows from LID_PAD_MM over the eye to the far lid skin
    lid_l: np.ndarray
    face_tex: np.ndarray  # face plane, rows from y = +FACE_HALF down, cols from x = -FACE_HALF
    tarsal_mm: tuple[float, float]  # rest margin-to-crease distance of each lid


FACE_HALF = 70.0
MAX_VIEW_DEG = 50.0  # largest angle between the line of sight and the direction to the camera


def gaze_dir(yaw: np.ndarray, pitch: np.ndarray) -> np.ndarray:
    return np.stack([np.sin(yaw) * np.cos(pitch), np.sin(pitch), np.cos(yaw) * np.cos(pitch)], axis=-1)


def _lid_texture(rng: np.random.Generator, half_w: float, tarsal: float, rows_mm: float, margin_dark: float,
                 crease_dark: float) -> np.ndarray:
    shape = (int(rows_mm / TEX_RES_MM), int(2 * half_w / TEX_RES_MM))
    tex = textures.skin_texture(rng, shape, rng.uniform(0.06, 0.16))
    mu = (np.arange(shape[0], dtype=np.float32) + 0.5)[:, None] * TEX_RES_MM
    tex *= 1.0 - margin_dark * np.exp(-((mu / 0.35) ** 2))
    crease = np.exp(-(((mu - tarsal) / 0.45) ** 2))
    tex *= 1.0 - crease_dark * crease + 0.08 * np.exp(-(((mu - tarsal + 0.9) / 0.6) ** 2))
    return tex.astype(np.float32)


def _lid_with_lashes(skin: np.ndarray, lash: np.ndarray, extent: tuple[float, float]) -> np.ndarray:
    """Stack a lid's skin (rows from its margin) and lash alpha (drawn at half the texel, rows over ``extent`` mm)."""
    pad = int(round(LID_PAD_MM / TEX_RES_MM))
    out = np.zeros((pad + skin.shape[0], skin.shape[1], 2), np.float32)
    out[:pad, :, 0] = skin[0]
    out[pad:, :, 0] = skin
    small = cv2.resize(lash, (skin.shape[1], lash.shape[0] // 2), interpolation=cv2.INTER_AREA)
    r0 = pad + int(round(extent[0] / TEX_RES_MM))
    out[r0 : r0 + small.shape[0], :, 1] = small[: out.shape[0] - r0]
    return out


def _face_texture(rng: np.random.Generator, brow_y: float, brow_dark: float) -> np.ndarray:
    n = int(2 * FACE_HALF / 0.1)
    res = 2 * FACE_HALF / n
    tex = textures.skin_texture(rng, (n, n), rng.uniform(0.05, 0.14))
    y = FACE_HALF - (np.arange(n) + 0.5) * res
    x = -FACE_HALF + (np.arange(n) + 0.5) * res
    arch = brow_y + 4.0 * (1 - (x / 30.0) ** 2)
    above = y[:, None] - arch[None, :]
    tex *= 1.0 - 0.3 * np.clip(above / 8.0 + 0.6, 0, 1) * rng.uniform(0.4, 1.0)  # brow shadow
    hair = np.zeros((n, n), np.float32)
    for _ in range(int(rng.integers(200, 500))):
        x0 = rng.uniform(-28, 28)
        y0 = brow_y + 4.0 * (1 - (x0 / 30.0) ** 2) + rng.uniform(0, 5)
        ang = np.radians(rng.normal(15 if x0 > 0 else 165, 12))
        ln = rng.uniform(3, 7)
        p0 = ((x0 + FACE_HALF) / res, (FACE_HALF - y0) / res)
        p1 = (p0[0] + ln * np.cos(ang) / res, p0[1] - ln * np.sin(ang) / res)
        cv2.line(hair, (int(p0[0] * 16), int(p0[1] * 16)), (int(p1[0] * 16), int(p1[1] * 16)), 1.0, 1, cv2.LINE_AA, 4)
    tex *= 1.0 - brow_dark * np.clip(cv2.GaussianBlur(hair, (0, 0), 0.8), 0, 1)
    return tex.astype(np.float32)


def sample_scene(rng: np.random.Generator) -> Scene:
    """Draw a subject, a camera pose and the illumination (resampled until the eye stays in view)."""
    anat = sample_anatomy(rng)
    apex = np.array([0.0, 0.0, anat.apex_z])
    for _ in range(100):
        yaw_c, pitch_c = rng.uniform(-32, 32), rng.uniform(-38, 8)
        dist = rng.uniform(25.0, 45.0)
        px_per_mm = rng.uniform(10.0, 18.0)
        aim = np.array([rng.uniform(-5, 5), rng.uniform(-4, 4), 0.0])
        cam = look_at(apex, yaw_c, pitch_c, rng.uniform(-25, 25), dist, aim, f=px_per_mm * dist)
        lim = (np.radians(rng.uniform(-27, -18)), np.radians(rng.uniform(18, 27)),
               np.radians(rng.uniform(-22, -14)), np.radians(rng.uniform(12, 20)))
        yy, pp = np.meshgrid(np.linspace(lim[0], lim[1], 7), np.linspace(lim[2], lim[3], 7))
        cdir = cam.origin / np.linalg.norm(cam.origin)
        ok_dirs = gaze_dir(yy, pp) @ cdir > np.cos(np.radians(MAX_VIEW_DEG))
        pts = np.array([listing_rotation(a, b) @ apex for a, b in zip(yy[ok_dirs], pp[ok_dirs])])
        if pts.shape[0] < 12:
            continue
        uv = cam.project(pts)
        if np.all(np.isfinite(uv)) and uv[:, 0].min() > 60 and uv[:, 0].max() < 580 and uv[:, 1].min() > 50 \
                and uv[:, 1].max() < 430:
            break
    n_led = int(rng.integers(1, 5))
    ang = rng.uniform(0, 2 * np.pi, n_led)
    rad = rng.uniform(5.0, 14.0, n_led)
    leds = cam.origin + (np.cos(ang)[:, None] * cam.rot[0] + np.sin(ang)[:, None] * cam.rot[1]) * rad[:, None]
    leds = leds - cam.rot[2] * rng.uniform(0, 4)
    power = rng.uniform(0.5, 1.5, n_led)
    d0 = np.linalg.norm(leds - apex, axis=1)
    power = power / power.sum() * rng.uniform(0.75, 1.0)
    y_u, y_l = rng.uniform(3.0, 6.0), rng.uniform(-7.5, -4.5)
    theta_u, theta_l = anat.margin_elevation(y_u), anat.margin_elevation(y_l)
    rho_u = np.hypot(y_u, np.sqrt(anat.lid_r**2 - y_u**2) - anat.lid_axis_z)
    rho_l = np.hypot(y_l, np.sqrt(anat.lid_r**2 - y_l**2) - anat.lid_axis_z)
    # lids follow vertical gaze: the upper margin moves 60-100 % as far as the corneal apex, the lower 15-45 %
    follow = (rng.uniform(0.6, 1.0) * anat.apex_z / rho_u, rng.uniform(0.15, 0.45) * anat.apex_z / rho_l)
    crease_u = theta_u + follow[0] * lim[3] + rng.uniform(4.0, 8.0) / rho_u
    crease_l = theta_l + follow[1] * lim[2] - rng.uniform(3.0, 6.0) / rho_l
    look = Look(
        pupil=rng.uniform(0.02, 0.07), iris=rng.uniform(0.22, 0.5), sclera=rng.uniform(0.6, 0.88),
        skin=rng.uniform(0.45, 0.75), lash=rng.uniform(0.05, 0.15), canthus=rng.uniform(0.15, 0.35),
        limbus_width_mm=rng.uniform(0.3, 0.8), lid_shadow=rng.uniform(0.15, 0.45), lid_shadow_mm=rng.uniform(0.6, 2.0),
        crease_u=float(crease_u), crease_l=float(crease_l), lash_len_u=rng.uniform(5.0, 9.5),
        lash_len_l=rng.uniform(1.5, 4.0), leds=leds, led_power=power * d0**2, ambient=rng.uniform(0.03, 0.2),
        glint_peak=rng.uniform(2.0, 6.0), glint_sigma_px=rng.uniform(0.7, 1.4), vignetting=rng.uniform(0.0, 0.5),
        saturation=rng.uniform(1.0, 1.4),
    )
    half = anat.lid_r
    lash_dir = -1.0 if pitch_c < 0 else 1.0
    ext_u = (-10.0, 3.0) if lash_dir < 0 else (-3.0, 10.0)
    tarsal = (float(rho_u * (crease_u - theta_u)), float(rho_l * (theta_l - crease_l)))
    return Scene(
        anat=anat, cam=cam, look=look, gaze_limits=lim, lid_rest=(float(theta_u), float(theta_l)), lid_follow=follow,
        iris_tex=textures.iris_texture(rng, contrast=rng.uniform(0.2, 0.45)),
        sclera_tex=textures.sclera_texture(rng, extent=SCLERA_EXTENT, contrast=rng.uniform(0.05, 0.18)),
        lid_u=_lid_with_lashes(
            _lid_texture(rng, half, tarsal[0], 40.0, rng.uniform(0.3, 0.6), rng.uniform(0.2, 0.5)),
            textures.lash_texture(rng, half, ext_u, int(rng.integers(60, 130)),
                                  (look.lash_len_u * 0.6, look.lash_len_u), lash_dir, TEX_RES_MM / 2), ext_u),
        lid_l=_lid_with_lashes(
            _lid_texture(rng, half, tarsal[1], 30.0, rng.uniform(0.2, 0.5), rng.uniform(0.1, 0.3)),
            textures.lash_texture(rng, half, (-3.0, 5.0), int(rng.integers(20, 60)),
                                  (look.lash_len_l * 0.5, look.lash_len_l), 1.0, TEX_RES_MM / 2), (-3.0, 5.0)),
        face_tex=_face_texture(rng, rng.uniform(12.0, 20.0), rng.uniform(0.4, 0.8)), tarsal_mm=tarsal,
    )
