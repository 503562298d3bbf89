"""3-D eyeball: globe, corneal sphere with refraction into the iris plane, pupil, limbus, eyelid shell; labels.

Eye frame (mm): origin at the centre of rotation (the globe's centre), z the optical axis (out of the eye), y up.
Head frame: the eye frame at primary gaze. Gaze rotations follow Listing's law (no torsion about the line of sight).
The lids are two parts of one spherical shell around the globe, cut by planes through a near-horizontal axis
(through the eye's vertical midline, a few mm in front of the centre so that the canthi lie in front of the face):
the upper lid covers elevations above ``theta_u``, the lower lid below ``theta_l``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edgevision.sim.eyeball.camera import Camera


@dataclass(frozen=True)
class Anatomy:
    """One subject's eye and lids (lengths in mm, angles in radians)."""

    globe_r: float  # globe (sclera) radius
    apex_z: float  # corneal apex distance from the centre of rotation
    cornea_r: float  # anterior corneal radius of curvature
    n_aqueous: float  # refractive index behind the cornea (single-surface model)
    iris_z: float  # iris plane
    iris_r: float
    pupil_offset: tuple[float, float]  # pupil centre in the iris plane (x, y)
    lid_r: float  # eyelid shell radius (> apex_z)
    lid_axis: tuple[float, float, float]  # unit axis the lid planes rotate about (near +X) ...
    lid_axis_z: float  # ... through the point (0, 0, lid_axis_z)
    face_z: float  # the face plane Z = face_z; the shell shows only in front of it

    @property
    def cornea_z(self) -> float:
        """Corneal sphere centre on the optical axis."""
        return self.apex_z - self.cornea_r

    @property
    def limbus_z(self) -> float:
        """Plane of the circle where the corneal sphere meets the globe."""
        c = self.cornea_z
        return (self.globe_r**2 - self.cornea_r**2 + c * c) / (2.0 * c)

    @property
    def limbus_r(self) -> float:
        return float(np.sqrt(self.globe_r**2 - self.limbus_z**2))

    @property
    def lid_lever(self) -> float:
        """Largest distance of a lid margin from the lid axis (mm): lid motion in mm per radian."""
        return self.lid_r - self.lid_axis_z

    def margin_elevation(self, height: float) -> float:
        """Lid elevation whose margin passes ``height`` mm above the eye centre at x = 0 (on the shell)."""
        z = np.sqrt(self.lid_r**2 - height**2)
        return float(np.arctan2(height, z - self.lid_axis_z))

    def lid_frame(self) -> np.ndarray:
        """Rows: lid axis, lid 'up', lid 'forward' (elevation = atan2(p . up, p . forward))."""
        a = np.asarray(self.lid_axis, dtype=np.float64)
        fwd = np.array([0.0, 0.0, 1.0]) - a[2] * a
        fwd /= np.linalg.norm(fwd)
        return np.stack([a, np.cross(fwd, a), fwd])


def sample_anatomy(rng: np.random.Generator) -> Anatomy:
    """Draw an adult eye (ranges from schematic-eye literature, widened)."""
    globe_r = rng.uniform(11.4, 12.6)
    apex_z = globe_r + rng.uniform(1.1, 1.8)
    cornea_r = rng.uniform(7.3, 8.3)
    iris_z = apex_z - rng.uniform(2.8, 3.8)
    probe = Anatomy(globe_r, apex_z, cornea_r, 1.336, iris_z, 1.0, (0.0, 0.0), 0.0, (1.0, 0.0, 0.0), 0.0, 0.0)
    iris_z = min(iris_z, probe.limbus_z - 0.15)
    iris_r = probe.limbus_r * rng.uniform(0.9, 0.97)
    tilt, skew = np.radians(rng.uniform(-7, 7)), np.radians(rng.uniform(-10, 10))
    axis = (np.cos(tilt) * np.cos(skew), np.sin(tilt), -np.cos(tilt) * np.sin(skew))
    face_z = rng.uniform(3.5, 6.5)
    return Anatomy(
        globe_r=globe_r, apex_z=apex_z, cornea_r=cornea_r, n_aqueous=rng.uniform(1.332, 1.340), iris_z=iris_z,
        iris_r=iris_r, pupil_offset=(rng.uniform(-0.3, 0.3), rng.uniform(-0.2, 0.2)),
        lid_r=apex_z + rng.uniform(0.5, 1.1), lid_axis=axis, lid_axis_z=face_z + rng.uniform(0.3, 1.2), face_z=face_z,
    )


def listing_rotation(yaw: float, pitch: float) -> np.ndarray:
    """Eye-to-head rotation for gaze (yaw right, pitch up; radians) by Listing's law."""
    g = np.array([np.sin(yaw) * np.cos(pitch), np.sin(pitch), np.cos(yaw) * np.cos(pitch)])
    axis = np.array([-g[1], g[0], 0.0])
    s = float(np.linalg.norm(axis))
    if s < 1e-12:
        return np.eye(3)
    axis /= s
    c = g[2]
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + s * k + (1 - c) * (k @ k)


def sphere_hit(o: np.ndarray, d: np.ndarray, centre: np.ndarray, radius: float) -> np.ndarray:
    """Distance along unit rays ``o + t d`` (d: (3, ...)) to the first hit of a sphere; NaN where they miss."""
    oc = [o[i] - centre[i] for i in range(3)]
    b = d[0] * oc[0] + d[1] * oc[1] + d[2] * oc[2]
    disc = b * b - (oc[0] ** 2 + oc[1] ** 2 + oc[2] ** 2 - radius**2)
    with np.errstate(invalid="ignore"):
        return -b - np.sqrt(disc)


def _mat(rot: np.ndarray, i: int, j: int, ndim: int) -> np.ndarray:
    """Entry (i, j) of a rotation or of a batch of rotations (B, 3, 3), shaped to broadcast against (B, ...)."""
    if rot.ndim == 2:
        return rot[i, j]
    return rot[:, i, j].reshape((-1,) + (1,) * (ndim - 1))


def trace_iris(
    o: np.ndarray, d: np.ndarray, anat: Anatomy, rot: np.ndarray, refract: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Refract rays at the cornea into the iris plane: eye-frame (x, y) there and the cap margin.

    ``rot`` is one eye rotation or a batch (B, 3, 3) broadcasting against ``d``'s (B, ...) trailing shape. The cap
    margin is ``z - limbus_z`` of the corneal hit in the eye frame (> 0 on the cornea); ``-1e3`` where the ray
    misses the corneal sphere. ``refract=False`` traces straight (a cornea of index 1), for tests.
    """
    nd = d.ndim - 1
    c = [_mat(rot, i, 2, nd) * anat.cornea_z for i in range(3)]
    t = sphere_hit(o, d, c, anat.cornea_r)
    miss = ~np.isfinite(t)
    t = np.where(miss, 0.0, t)
    p = [o[i] + t * d[i] for i in range(3)]
    if refract:
        n = [(p[i] - c[i]) / anat.cornea_r for i in range(3)]
        eta = 1.0 / anat.n_aqueous
        cosi = -(d[0] * n[0] + d[1] * n[1] + d[2] * n[2])
        k = np.maximum(1.0 - eta * eta * (1.0 - cosi * cosi), 0.0)
        w = eta * cosi - np.sqrt(k)
        d = [eta * d[i] + w * n[i] for i in range(3)]
    pe = [sum(_mat(rot, i, j, nd) * p[i] for i in range(3)) for j in range(3)]
    de = [sum(_mat(rot, i, j, nd) * d[i] for i in range(3)) for j in range(3)]
    dz = np.where(de[2] < -1e-6, de[2], -1e-6)
    s = (anat.iris_z - pe[2]) / dz
    x, y = pe[0] + s * de[0], pe[1] + s * de[1]
    far = 1e3
    x = np.where(miss, far, x)
    y = np.where(miss, far, y)
    cap = np.where(miss, -far, pe[2] - anat.limbus_z)
    return x, y, cap


def shell_coords(
    o: np.ndarray, d: np.ndarray, anat: Anatomy
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list]:
    """Rays against the lid shell: elevation (rad), coordinate along the lid axis and distance from it (mm),
    'visible' mask, hit points. Visible means the ray meets the shell in front of the face plane (elsewhere it sees
    the face)."""
    t = sphere_hit(o, d, np.zeros(3), anat.lid_r)
    ok = np.isfinite(t)
    t = np.where(ok, t, 0.0)
    p = [o[i] + t * d[i] for i in range(3)]
    ok &= p[2] >= anat.face_z
    fr = anat.lid_frame()
    q = [p[0], p[1], p[2] - anat.lid_axis_z]
    comp = [fr[k, 0] * q[0] + fr[k, 1] * q[1] + fr[k, 2] * q[2] for k in range(3)]
    return np.arctan2(comp[1], comp[2]), comp[0], np.hypot(comp[1], comp[2]), ok, p


def lid_closed_at(cam: Camera, anat: Anatomy, uv: np.ndarray, theta_u: np.ndarray, theta_l: np.ndarray) -> np.ndarray:
    """Whether the lids (or the face) hide image points ``uv`` (N, 2) for lid angles (N,)."""
    d = cam.rays(uv[:, 0], uv[:, 1], dtype=np.float64)
    elev, _, _, ok, _ = shell_coords(cam.origin, d, anat)
    return ~ok | (elev >= theta_u) | (elev <= theta_l)


def pupil_boundary(
    cam: Camera, anat: Anatomy, rots: np.ndarray, pupil_r: np.ndarray, n_points: int = 48, refract: bool = True
) -> np.ndarray:
    """Image points (B, n_points, 2) of the pupil rim as seen through the cornea (Newton on the traced rays).

    Points the cornea cannot show (the ray would leave the corneal cap) are NaN.
    """
    rots = np.asarray(rots, dtype=np.float64).reshape(-1, 3, 3)
    b = rots.shape[0]
    ang = np.linspace(0.0, 2 * np.pi, n_points, endpoint=False)
    r = np.asarray(pupil_r, dtype=np.float64).reshape(-1, 1)
    gx = anat.pupil_offset[0] + r * np.cos(ang)
    gy = anat.pupil_offset[1] + r * np.sin(ang)
    eye_pts = np.stack([gx, gy, np.full_like(gx, anat.iris_z)], axis=-1)
    uv = cam.project(np.einsum("bij,bkj->bki", rots, eye_pts))

    def trace(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return trace_iris(cam.origin, cam.rays(u, v, dtype=np.float64), anat, rots, refract)

    h = 1e-3
    for _ in range(8):
        x0, y0, _ = trace(uv[..., 0], uv[..., 1])
        xu, yu, _ = trace(uv[..., 0] + h, uv[..., 1])
        xv, yv, _ = trace(uv[..., 0], uv[..., 1] + h)
        j11, j12, j21, j22 = (xu - x0) / h, (xv - x0) / h, (yu - y0) / h, (yv - y0) / h
        det = j11 * j22 - j12 * j21
        ex, ey = gx - x0, gy - y0
        with np.errstate(divide="ignore", invalid="ignore"):
            du = (j22 * ex - j12 * ey) / det
            dv = (-j21 * ex + j11 * ey) / det
        uv = uv + np.clip(np.stack([du, dv], axis=-1), -20.0, 20.0)
    x, y, cap = trace(uv[..., 0], uv[..., 1])
    bad = (np.hypot(x - gx, y - gy) > 1e-4) | (cap <= 0)
    uv[bad] = np.nan
    return uv


def ellipse_centre(points: np.ndarray) -> tuple[float, float]:
    """Centre of the least-squares ellipse through image points (N, 2) (NaN rows ignored)."""
    pts = points[np.all(np.isfinite(points), axis=1)]
    if pts.shape[0] < 6:
        return float("nan"), float("nan")
    (cx, cy), _, _ = cv2.fitEllipse(pts.astype(np.float32))
    return float(cx), float(cy)


def glint_points(
    anat: Anatomy, rot: np.ndarray, leds: np.ndarray, cam_origin: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Corneal reflections of point LEDs (K, 3): head-frame points (K, 3) and whether each lies on the corneal cap."""
    c = rot[:, 2] * anat.cornea_z
    to_cam = cam_origin - c
    n = (leds - c) / np.linalg.norm(leds - c, axis=1, keepdims=True) + to_cam / np.linalg.norm(to_cam)
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    for _ in range(6):  # the reflection law for near sources: n bisects the directions to the LED and the camera
        p = c + anat.cornea_r * n
        a, b = leds - p, cam_origin - p
        n = a / np.linalg.norm(a, axis=1, keepdims=True) + b / np.linalg.norm(b, axis=1, keepdims=True)
        n /= np.linalg.norm(n, axis=1, keepdims=True)
    p = c + anat.cornea_r * n
    on_cap = (p @ rot[:, 2]) > anat.limbus_z + 0.2
    return p, on_cap
