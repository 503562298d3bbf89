"""Per-pixel ray casting of the eye scene into linear near-IR irradiance (640x480, float32).

Everything head-fixed is intersected once per recording (lid shell, globe, face plane, shading); per frame only
the eye's rotation, the pupil and the lid angles change. Edges are anti-aliased analytically: each edge is the
zero of a smooth per-pixel function (lid elevation, pupil radius, corneal cap), and the pixel's coverage is that
function over its image-space gradient, clipped to [0, 1] (exact for straight edges, so edges move smoothly).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edgevision.sim.eyeball.geometry import glint_points, shell_coords, sphere_hit, trace_iris
from edgevision.sim.eyeball.scene import FACE_HALF, LID_PAD_MM, SCLERA_EXTENT, TEX_RES_MM, Look, Scene


@dataclass(frozen=True)
class EyeState:
    """What changes between frames: eye rotation (eye -> head), pupil radius (mm), lid elevations (rad)."""

    rot: np.ndarray
    pupil_r: float
    theta_u: float
    theta_l: float


def irradiance(look: Look, p: list[np.ndarray], n: list[np.ndarray]) -> np.ndarray:
    """Ambient plus Lambertian point LEDs with inverse-square fall-off at points p with unit normals n."""
    e = np.full(np.shape(p[0]), look.ambient, np.float32)
    for led, power in zip(look.leds, look.led_power):
        v = [np.float32(led[i]) - p[i] for i in range(3)]
        d2 = v[0] * v[0] + v[1] * v[1] + v[2] * v[2]
        cos = (n[0] * v[0] + n[1] * v[1] + n[2] * v[2]) / np.sqrt(d2)
        e += np.float32(power) * np.maximum(cos, 0) / d2
    return e


def _grad(a: np.ndarray) -> np.ndarray:
    """Image-space gradient magnitude (per pixel), floored to avoid division by zero."""
    gy, gx = np.gradient(a)
    return np.maximum(np.hypot(gx, gy), 1e-6)


def _coverage(f: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Fraction of a pixel where the smooth function f (gradient magnitude g) is positive."""
    return np.clip(f / g + 0.5, 0.0, 1.0)


BLEND_MM = 4.0
FEATHER_PX = 14.0
LID_TOL_PX = 0.2  # the lid layer is recomputed once a margin has moved this far in the image


class _Block:
    """Static per-pixel maps of an image rectangle ``rows x cols`` (contiguous copies)."""

    def __init__(self, maps: dict[str, np.ndarray], rows: slice, cols: slice) -> None:
        self.rows, self.cols = rows, cols
        for k, v in maps.items():
            setattr(self, k, np.ascontiguousarray(v[..., rows, cols]))
        self.shape = self.elev.shape


class Renderer:
    """Ray caster of one scene. ``elev_range`` (rad) bounds where lids, lashes and lid skin can move this recording."""

    def __init__(self, scene: Scene, elev_range: tuple[float, float], eye_range: tuple[float, float]) -> None:
        self.scene = scene
        a, cam, look = scene.anat, scene.cam, scene.look
        v, u = np.mgrid[0 : cam.height, 0 : cam.width].astype(np.float32)
        d = cam.rays(u, v)
        o = cam.origin
        elev, xs, rho, ok, ps = shell_coords(o, d, a)
        elev = elev.astype(np.float32)
        maps: dict[str, np.ndarray] = {"d": d, "elev": elev, "rho": rho.astype(np.float32)}
        maps["g_elev"] = _grad(np.where(ok, elev, 0).astype(np.float32))
        # shading normals bend from the shell's to the face plane's over the last BLEND_MM before the junction
        w = np.clip((ps[2] - a.face_z) / BLEND_MM, 0.0, 1.0)
        n = [w * ps[0] / a.lid_r, w * ps[1] / a.lid_r, w * ps[2] / a.lid_r + (1 - w)]
        norm = np.sqrt(n[0] ** 2 + n[1] ** 2 + n[2] ** 2)
        maps["shade_lid"] = irradiance(look, [v.astype(np.float32) for v in ps],
                                       [(v / norm).astype(np.float32) for v in n])
        maps["lid_x"] = ((xs + a.lid_r) / TEX_RES_MM - 0.5).astype(np.float32)
        tg = sphere_hit(o, d, np.zeros(3), a.globe_r)
        hit = np.isfinite(tg)
        tg = np.where(hit, tg, 0).astype(np.float32)
        pg = [(o[i] + tg * d[i]).astype(np.float32) for i in range(3)]
        maps["globe"] = np.stack(pg)
        maps["globe_hit"] = hit
        gr = np.float32(a.globe_r)
        maps["shade_globe"] = np.where(hit, irradiance(look, pg, [pg[i] / gr for i in range(3)]), 0).astype(np.float32)
        dz = np.where(d[2] < -1e-3, d[2], -1e-3)
        tf = (a.face_z - o[2]) / dz
        pf = [(o[i] + tf * d[i]).astype(np.float32) for i in range(3)]
        zero, one = np.zeros_like(pf[0]), np.ones_like(pf[0])
        res = 2 * FACE_HALF / scene.face_tex.shape[0]
        fx = ((pf[0] + FACE_HALF) / res - 0.5).astype(np.float32)
        fy = ((FACE_HALF - pf[1]) / res - 0.5).astype(np.float32)
        face_tex = cv2.remap(scene.face_tex, fx, fy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        maps["face"] = look.skin * face_tex * irradiance(look, pf, [zero, zero, one])
        zc = d[0] * cam.rot[2, 0] + d[1] * cam.rot[2, 1] + d[2] * cam.rot[2, 2]
        maps["vignette"] = (1.0 - look.vignetting * (1.0 - zc**4)).astype(np.float32)
        # the shell fades into the face over FEATHER_PX pixels inside its outline (a soft orbit, not a ball's rim)
        inside = cv2.distanceTransform(ok.astype(np.uint8), cv2.DIST_L2, 5)
        maps["shell_alpha"] = np.clip(inside / FEATHER_PX, 0.0, 1.0).astype(np.float32)
        self._e_iris = self._iris_irradiance()
        dyn = ok & (elev >= elev_range[0]) & (elev <= elev_range[1])
        eye = ok & (elev >= eye_range[0]) & (elev <= eye_range[1])
        self.full = _Block(maps, slice(0, cam.height), slice(0, cam.width))
        self.roi = _Block(maps, *_bbox(dyn | eye, 4, cam.height, cam.width))
        self._eye_box = _bbox(eye[self.roi.rows, self.roi.cols], 3, *self.roi.shape)
        self._full_eye_box = _bbox(eye, 3, cam.height, cam.width)
        self.static: np.ndarray | None = None
        px_per_mm = cam.f / float(np.linalg.norm(cam.origin - [0.0, 0.0, a.apex_z]))
        self._lid_tol = LID_TOL_PX / (px_per_mm * a.lid_lever)  # radians of lid rotation
        self._lid_cache: tuple | None = None

    def _iris_irradiance(self) -> float:
        """LED irradiance at the corneal apex (facing forward), used for the whole iris and pupil."""
        a = self.scene.anat
        p = [np.array([0.0], np.float32), np.array([0.0], np.float32), np.array([a.apex_z], np.float32)]
        n = [np.array([0.0], np.float32), np.array([0.0], np.float32), np.array([1.0], np.float32)]
        return float(irradiance(self.scene.look, p, n)[0])

    def frame(self, st: EyeState, lids: bool = True) -> np.ndarray:
        """The full 640x480 irradiance image (``lids=False``: the eye alone, no lids, lashes or face)."""
        if not lids:
            return self._render(self.full, self._full_eye_box, st, lids=False)
        if self.static is None:
            self.static = self._render(self.full, self._full_eye_box, st)
        img = self.static.copy()
        img[self.roi.rows, self.roi.cols] = self.render_roi(st)
        return img

    def render_roi(self, st: EyeState) -> np.ndarray:
        """Irradiance of the changing rectangle ``self.roi`` (rows, cols) only."""
        return self._render(self.roi, self._eye_box, st)

    def _render(self, b: _Block, eye_box: tuple[slice, slice], st: EyeState, lids: bool = True) -> np.ndarray:
        look = self.scene.look
        eye = np.full(b.shape, look.canthus * 0.5, np.float32)
        if not lids:
            eye[eye_box] = self._eye(b, eye_box, st)
            return np.minimum(eye * b.vignette, look.saturation)
        key = (id(b), st.theta_u, st.theta_l)
        if self._lid_cache is None or self._lid_cache[0] != key[0] or max(
            abs(key[1] - self._lid_cache[1]), abs(key[2] - self._lid_cache[2])
        ) > self._lid_tol:
            gain, offset = self._lid_layer(b, st.theta_u, st.theta_l)
            self._lid_cache = key + (gain, offset, _visible(gain, eye_box))
        gain, offset, visible = self._lid_cache[3:]
        if visible is not None:  # the eye is traced only where the lids and face let it show
            eye[visible] = self._eye(b, visible, st)
        return np.minimum(gain * eye + offset, look.saturation)

    def _lid_layer(self, b: _Block, theta_u: float, theta_l: float) -> tuple[np.ndarray, np.ndarray]:
        """Lids, lashes, lid shadow and face over block ``b`` as an affine map of the eye layer: gain * eye + offset.

        Everything in front of the eye is a chain of alpha blends, so it folds into one per-pixel gain and offset,
        which the renderer reuses while the lids move less than ``LID_TOL_PX``.
        """
        sc, look = self.scene, self.scene.look
        th_u, th_l = np.float32(theta_u), np.float32(theta_l)
        m_u = b.rho * (b.elev - th_u)  # mm above the upper margin (negative: over the eye)
        m_l = b.rho * (th_l - b.elev)  # mm below the lower margin
        gain = 1.0 - look.lid_shadow * np.exp(np.minimum(m_u, 0) / look.lid_shadow_mm)
        gain *= 1.0 - 0.5 * look.lid_shadow * np.exp(np.minimum(m_l, 0) / (0.5 * look.lid_shadow_mm))
        offset = np.zeros_like(gain)
        lash = look.lash * b.shade_lid
        for m, tex, crease, tarsal, theta, sign in (
            (m_l, sc.lid_l, look.crease_l, sc.tarsal_mm[1], th_l, -1.0),
            (m_u, sc.lid_u, look.crease_u, sc.tarsal_mm[0], th_u, 1.0),
        ):
            # texture rows: mm from the margin, over the eye as is, on the lid stretched between margin and crease
            span = max(sign * (crease - theta), 1e-3)
            beyond = sign * (b.elev - np.float32(crease))
            mu = np.where(beyond < 0, m * np.float32(tarsal) / (b.rho * np.float32(span)), tarsal + b.rho * beyond)
            mu = np.where(m < 0, m, mu)
            skin, alpha = cv2.split(cv2.remap(tex, b.lid_x, ((mu + LID_PAD_MM) / TEX_RES_MM - 0.5).astype(np.float32),
                                              cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE))
            cov = _coverage(m / b.rho, b.g_elev)
            gain *= 1.0 - cov
            offset += cov * (look.skin * skin * b.shade_lid - offset)
            alpha *= 0.9
            gain *= 1.0 - alpha
            offset += alpha * (lash - offset)
        gain *= b.shell_alpha
        offset = b.face + b.shell_alpha * (offset - b.face)
        return gain * b.vignette, offset * b.vignette

    def _eye(self, b: _Block, box: tuple[slice, slice], st: EyeState) -> np.ndarray:
        """Globe, cornea (iris, pupil, limbus) and glints inside ``box`` of block ``b``."""
        sc, look, a = self.scene, self.scene.look, self.scene.anat
        rot = st.rot.astype(np.float32)
        pg = b.globe[:, box[0], box[1]]
        q = [rot[0, j] * pg[0] + rot[1, j] * pg[1] + rot[2, j] * pg[2] for j in range(3)]
        den = np.float32(a.globe_r) + q[2]
        scale = np.float32((sc.sclera_tex.shape[0] - 1) / (2 * SCLERA_EXTENT))
        mid = np.float32((sc.sclera_tex.shape[0] - 1) / 2)
        sx = (q[0] / den * scale + mid).astype(np.float32)
        sy = (mid - q[1] / den * scale).astype(np.float32)
        tex = cv2.remap(sc.sclera_tex, sx, sy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        hit = b.globe_hit[box]
        out = np.where(hit, look.sclera * tex * b.shade_globe[box], look.canthus * look.ambient * 2).astype(np.float32)
        cbox = self._cornea_box(st, b, box)
        if cbox is not None:
            rr, cc = cbox
            d = b.d[:, box[0], box[1]][:, rr, cc]
            x, y, cap = trace_iris(sc.cam.origin.astype(np.float32), d, a, rot)
            px, py = x - np.float32(a.pupil_offset[0]), y - np.float32(a.pupil_offset[1])
            rad = np.minimum(np.hypot(px, py), 20.0).astype(np.float32)
            cap = np.clip(cap, -1.0, 1.0).astype(np.float32)
            e_iris = np.float32(self._e_iris)
            rp, ri = np.float32(st.pupil_r), np.float32(a.iris_r)
            tau = np.clip((rad - rp) / (ri - rp), 0.0, 1.0)
            rho = (0.25 + 0.72 * tau) * np.float32(sc.iris_tex.shape[0] / 2) / np.maximum(rad, 1e-4)
            cen = np.float32((sc.iris_tex.shape[0] - 1) / 2)
            itex = cv2.remap(sc.iris_tex, (px * rho + cen).astype(np.float32), (cen - py * rho).astype(np.float32),
                             cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            col = look.iris * itex * e_iris
            w = np.clip((rad - ri) / np.float32(look.limbus_width_mm), 0.0, 1.0)
            col += (w * w * (3 - 2 * w)) * (look.sclera * 0.9 * e_iris - col)
            col += _coverage(rp - rad, _grad(rad)) * (look.pupil * e_iris - col)
            sub = out[rr, cc]
            out[rr, cc] = sub + _coverage(cap, _grad(cap)) * (col - sub)
        self._glints(out, b, box, st)
        return out

    def _cornea_box(self, st: EyeState, b: _Block, box: tuple[slice, slice]) -> tuple[slice, slice] | None:
        """Rows/cols (relative to ``box``) that can see the cornea: the projected limbus circle plus a margin."""
        a = self.scene.anat
        ang = np.linspace(0, 2 * np.pi, 24, endpoint=False)
        ring = np.stack([a.limbus_r * np.cos(ang), a.limbus_r * np.sin(ang), np.full(24, a.limbus_z)], axis=1)
        apex = np.array([[0.0, 0.0, a.apex_z]])
        uv = self.scene.cam.project(np.vstack([ring, apex]) @ st.rot.T)
        if not np.all(np.isfinite(uv)):
            return None
        r0, c0 = b.rows.start + box[0].start, b.cols.start + box[1].start
        h, w = box[0].stop - box[0].start, box[1].stop - box[1].start
        lo_r = max(int(np.floor(uv[:, 1].min())) - 3 - r0, 0)
        hi_r = min(int(np.ceil(uv[:, 1].max())) + 4 - r0, h)
        lo_c = max(int(np.floor(uv[:, 0].min())) - 3 - c0, 0)
        hi_c = min(int(np.ceil(uv[:, 0].max())) + 4 - c0, w)
        if hi_r - lo_r < 3 or hi_c - lo_c < 3:
            return None
        return slice(lo_r, hi_r), slice(lo_c, hi_c)

    def _glints(self, out: np.ndarray, b: _Block, box: tuple[slice, slice], st: EyeState) -> None:
        """Add the LEDs' corneal reflections (Gaussian spots at sub-pixel positions) into ``out`` in place."""
        look, cam = self.scene.look, self.scene.cam
        pts, on_cap = glint_points(self.scene.anat, st.rot, look.leds, cam.origin)
        uv = cam.project(pts)
        r0, c0 = b.rows.start + box[0].start, b.cols.start + box[1].start
        s = look.glint_sigma_px
        k = int(np.ceil(4 * s))
        for (gu, gv), vis in zip(uv, on_cap):
            if not vis or not np.isfinite(gu):
                continue
            iu, iv = int(round(gu)) - c0, int(round(gv)) - r0
            lo_r, hi_r = max(iv - k, 0), min(iv + k + 1, out.shape[0])
            lo_c, hi_c = max(iu - k, 0), min(iu + k + 1, out.shape[1])
            if lo_r >= hi_r or lo_c >= hi_c:
                continue
            yy = np.arange(lo_r, hi_r, dtype=np.float32)[:, None] + r0 - gv
            xx = np.arange(lo_c, hi_c, dtype=np.float32)[None, :] + c0 - gu
            out[lo_r:hi_r, lo_c:hi_c] += look.glint_peak * np.exp(-(xx * xx + yy * yy) / np.float32(2 * s * s))


def _visible(gain: np.ndarray, box: tuple[slice, slice]) -> tuple[slice, slice] | None:
    """The part of ``box`` where the eye layer reaches the image (gain > 0), or None."""
    mask = gain[box] > 1e-4
    if not mask.any():
        return None
    rows, cols = _bbox(mask, 1, *mask.shape)
    r0, c0 = box[0].start, box[1].start
    return slice(r0 + rows.start, r0 + rows.stop), slice(c0 + cols.start, c0 + cols.stop)


def _bbox(mask: np.ndarray, pad: int, h: int, w: int) -> tuple[slice, slice]:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return slice(0, 1), slice(0, 1)
    return (slice(max(rows[0] - pad, 0), min(rows[-1] + pad + 1, h)),
            slice(max(cols[0] - pad, 0), min(cols[-1] + pad + 1, w)))
