"""Procedural infrared near-eye frames (640x480 grey): skin (brow, folds, make-up), sclera, textured iris,
pupil, glints, lids, lashes; IR shading, lens vignetting, focus blur and ambient light.

Textures are made once per subject; each frame copies the background and composes the eye region with
OpenCV (warpAffine for the iris texture, anti-aliased ellipses/polygons with sub-pixel positions, linear
blending for the lid mask) so moving edges change grey levels gradually, as a real sensor sees them. The eye
region is composed unshaded, then blurred (defocus) and multiplied by the shading map (LED fall-off times
vignetting) that the background carries already; the ambient level is added to the whole frame.
"""

from __future__ import annotations

import cv2
import numpy as np

from edgevision.sim.eye_geometry import HEIGHT, WIDTH, EyeCamera, EyeState

SHIFT = 4  # sub-pixel bits for OpenCV drawing
_SCALE = 1 << SHIFT
IRIS_TEX_R = 96  # iris texture radius in texels
N_LID_SAMPLES = 33


def _noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Smooth Gaussian noise with unit standard deviation."""
    n = cv2.GaussianBlur(rng.standard_normal(shape).astype(np.float32), (0, 0), sigma)
    return n / max(float(n.std()), 1e-6)


def _fixed(pts: np.ndarray) -> np.ndarray:
    return np.round(pts * _SCALE).astype(np.int32)


class EyeRenderer:
    """Renders frames of one subject from :class:`EyeState` samples."""

    def __init__(self, camera: EyeCamera, margin_px: float = 0.0) -> None:
        """``margin_px``: extra room around the eye region for camera slippage."""
        self.cam = camera
        s = camera.s
        rng = np.random.default_rng(np.random.SeedSequence([s.seed, 0x5EE]))
        self.u = np.linspace(-1, 1, N_LID_SAMPLES)
        r = camera.iris_px
        # Region of interest: the eye opening (fully open, lids raised by gaze) plus room for lashes.
        up, lo = camera.lid_curves(np.array([1.2]), self.u)
        xs = camera.lid_centre_raw[0] + self.u * s.lid_width * r
        pts = camera.raw_to_final_shifted(np.concatenate([np.stack([xs, up[0]], 1), np.stack([xs, lo[0]], 1)]))
        m = 0.45 * r + margin_px + 3 * camera.s.focus_blur
        x0, y0 = np.floor(pts.min(0) - m).astype(int)
        x1, y1 = np.ceil(pts.max(0) + m).astype(int)
        self.x0, self.y0 = max(0, x0), max(0, y0)
        self.x1, self.y1 = min(WIDTH, x1), min(HEIGHT, y1)
        self.region = (self.y0, self.y1, self.x0, self.x1)  # the only pixels that change between frames
        self.shading = self._shading()
        self._skin_raw = self._skin(rng)
        self.background = self._finish(self._skin_raw, self.shading)
        self._shade_roi = self.shading[self.y0 : self.y1, self.x0 : self.x1]
        self.sclera = self._sclera(rng)
        self.iris_tex = self._iris(rng)
        n_up, n_lo = s.lash_count, s.lash_count // 3
        self.lash_u = np.sort(rng.uniform(-0.92, 0.92, n_up))
        self.lash_len = rng.uniform(0.6, 1.2, n_up) * s.lash_length * r
        self.lash_tilt = rng.normal(0.0, 0.25, n_up) + 0.5 * self.lash_u
        self.lower_lash_u = np.sort(rng.uniform(-0.8, 0.8, n_lo))
        self.lower_lash_len = rng.uniform(0.2, 0.4, n_lo) * s.lash_length * r
        self.lash_level = float(s.lash_level * s.illumination)
        self.lid_level = float(0.55 * s.skin_level * s.illumination * (1 - 0.6 * s.makeup))
        self.lid_margin_px = 3 + int(round(5 * s.makeup))  # eyeliner widens and darkens the upper margin
        self.limbus_level = float((1 - s.iris_limbus) * 0.8 * s.iris_level * s.illumination)
        self.glint_radius = float(np.clip(2.0 * s.focal_px / (s.eye_z_mm * 15.0), 1.2, 3.5))
        self.glint_level = float(min(255.0, 255.0 * s.illumination * 1.3))

    # --- textures, once per subject -------------------------------------------------------------
    def _shading(self) -> np.ndarray:
        """Multiplicative map: IR fall-off around the illuminated spot times lens vignetting (uint8 [H, W], 255 = 1)."""
        s = self.cam.s
        yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
        sx, sy = WIDTH * (0.5 + s.led_spot[0]), HEIGHT * (0.5 + s.led_spot[1])
        led = 1.0 - s.led_falloff * np.clip(((xx - sx) ** 2 + (yy - sy) ** 2) / (WIDTH / 2) ** 2, 0, 2)
        corner = ((xx - WIDTH / 2) ** 2 + (yy - HEIGHT / 2) ** 2) / ((WIDTH / 2) ** 2 + (HEIGHT / 2) ** 2)
        vign = 1.0 - s.vignetting * corner**2
        return np.round(np.clip(led * vign, 0.05, 1.0) * 255).astype(np.uint8)

    def _finish(self, img: np.ndarray, shading: np.ndarray) -> np.ndarray:
        """Defocus blur, then shading (uint8 in, uint8 out)."""
        blur = self.cam.s.focus_blur
        if blur > 0.05:
            img = cv2.GaussianBlur(img, (0, 0), blur, borderType=cv2.BORDER_REPLICATE)
        return cv2.multiply(img, shading, scale=1.0 / 255)

    def _skin(self, rng: np.random.Generator) -> np.ndarray:
        """Unshaded skin around the eye: socket shadow, optional brow, skin folds, make-up shadow."""
        s, cam = self.cam.s, self.cam
        yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
        level = s.skin_level * s.illumination
        img = np.full((HEIGHT, WIDTH), level, np.float32)
        img += 18 * _noise(rng, (HEIGHT, WIDTH), 40) + 6 * _noise(rng, (HEIGHT, WIDTH), 4)
        img += 3 * _noise(rng, (HEIGHT, WIDTH), 0.8)
        c = cam.raw_to_final_shifted(cam.lid_centre_raw[None])[0]
        r = cam.iris_px
        a = np.radians(s.roll_deg)
        # lid-frame coordinates (u along the corner line, v up), so brow and folds follow the image roll
        u = (xx - c[0]) * np.cos(a) + (yy - c[1]) * np.sin(a)
        v = (xx - c[0]) * np.sin(a) - (yy - c[1]) * np.cos(a)
        sock = np.exp(-((u / (2.4 * s.lid_width * r)) ** 2 + ((v - 0.3 * r) / (2.2 * r)) ** 2))
        img -= 0.25 * level * sock
        if s.makeup > 0:  # eyeshadow: a dark band over the upper lid
            shadow = np.exp(-((u / (1.3 * s.lid_width * r)) ** 2 + ((v - (s.lid_upper + 0.5) * r) / (0.6 * r)) ** 2))
            img -= 0.6 * s.makeup * level * shadow
        if s.brow_height is not None:
            brow_v = s.brow_height * r + 0.15 * (u / r) ** 2 * r
            band = 1 / (1 + np.exp(-(v - brow_v) / (0.2 * r))) * np.exp(-((u / (3.2 * s.lid_width * r)) ** 4))
            img -= 0.45 * level * band * (0.6 + 0.4 * _noise(rng, (HEIGHT, WIDTH), 3))
        for _ in range(s.skin_folds):  # creases: dark arcs above or below the opening
            side = rng.choice([-1.0, 1.0])
            height = side * rng.uniform(1.3, 2.6) * r
            us = np.linspace(-1, 1, 24) * rng.uniform(0.8, 1.6) * s.lid_width * r
            vs = height - side * rng.uniform(0.1, 0.4) * r * (us / us[-1]) ** 2
            pts = np.stack([c[0] + us * np.cos(a) + vs * np.sin(a), c[1] + us * np.sin(a) - vs * np.cos(a)], 1)
            cv2.polylines(img, [_fixed(pts)], False, float(level * rng.uniform(0.55, 0.8)),
                          int(rng.integers(2, 6)), cv2.LINE_AA, SHIFT)
        return np.clip(img, 0, 255).astype(np.uint8)

    def _sclera(self, rng: np.random.Generator) -> np.ndarray:
        s, cam = self.cam.s, self.cam
        h, w = self.y1 - self.y0, self.x1 - self.x0
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        c = cam.raw_to_final_shifted(cam.lid_centre_raw[None])[0] - (self.x0, self.y0)
        u = (xx - c[0]) / (s.lid_width * cam.iris_px)
        img = s.sclera_level * s.illumination * (1 - 0.35 * np.clip(u * u, 0, 1))
        img += 2 * _noise(rng, (h, w), 6)
        img = img.astype(np.float32)
        for _ in range(int(rng.integers(4, 9))):  # faint blood vessels
            start = np.array([rng.choice([0, w - 1]), rng.uniform(0, h)])
            steps = np.cumsum(rng.normal([np.sign(w / 2 - start[0]) * 6, 0], 3, (12, 2)), axis=0)
            pts = _fixed((start + steps)[None])
            cv2.polylines(img, pts, False, float(s.sclera_level * 0.75), 1, cv2.LINE_AA, SHIFT)
        return np.clip(img, 0, 255).astype(np.uint8)

    def _iris(self, rng: np.random.Generator) -> np.ndarray:
        """Grey texture of the iris disc: radial striations, collarette, dark limbal ring."""
        s = self.cam.s
        n = 2 * IRIS_TEX_R + 1
        yy, xx = np.mgrid[0:n, 0:n].astype(np.float32) - IRIS_TEX_R
        rad = np.hypot(xx, yy) / IRIS_TEX_R
        theta = (np.arctan2(yy, xx) + np.pi) / (2 * np.pi)
        ang = cv2.GaussianBlur(rng.standard_normal((1, 720)).astype(np.float32), (0, 0), 1.5)[0]
        ang /= ang.std()
        stri = ang[np.clip((theta * 720).astype(int), 0, 719)]
        level = s.iris_level * s.illumination
        grey = level * (1 + s.iris_texture * stri + 0.6 * s.iris_texture * _noise(rng, (n, n), 3))
        grey += 3 * s.iris_texture * s.iris_level * np.exp(-(((rad - 0.45) / 0.06) ** 2))  # collarette
        grey *= 1 - s.iris_limbus * np.clip((rad - 0.82) / 0.18, 0, 1)  # limbal ring
        return np.clip(grey, 0, 255).astype(np.uint8)

    # --- per frame ------------------------------------------------------------------------------
    def lid_polylines(self, open_eff: float, slip: np.ndarray = np.zeros(2)) -> tuple[np.ndarray, np.ndarray]:
        """Upper and lower lid curves in final image coordinates (shifted by ``slip``), [U, 2] each."""
        cam = self.cam
        up, lo = cam.lid_curves(np.array([open_eff]), self.u)
        xs = cam.lid_centre_raw[0] + self.u * cam.s.lid_width * cam.iris_px
        return (
            cam.raw_to_final_shifted(np.stack([xs, up[0]], 1)) + slip,
            cam.raw_to_final_shifted(np.stack([xs, lo[0]], 1)) + slip,
        )

    def render(self, st: EyeState, k: int) -> np.ndarray:
        """Frame of time sample ``k`` of ``st`` (uint8 [480, 640])."""
        s = self.cam.s
        off = np.array([self.x0, self.y0], np.float64)
        layer = self.sclera.copy()
        self._paste_iris(layer, st.iris_xy[k] - off, st.iris_axes[k], st.angle_deg[k])
        pax = st.pupil_axes[k]
        cv2.ellipse(
            layer, tuple(_fixed(st.pupil_xy[k] - off)), tuple(_fixed(pax)), float(st.angle_deg[k]), 0, 360,
            float(s.pupil_level), -1, cv2.LINE_AA, SHIFT,
        )
        glint_r = int(round(self.glint_radius * _SCALE))
        for g in st.glints[k][st.glint_visible[k]]:
            cv2.circle(layer, tuple(_fixed(g - off)), glint_r, self.glint_level, -1, cv2.LINE_AA, SHIFT)
        upper, lower = self.lid_polylines(float(st.lid_open[k]), st.slip[k])
        upper_roi, lower_roi = upper - off, lower - off
        # Binary lid mask: its edge is hidden under the anti-aliased lid margins drawn next.
        mask = np.zeros(layer.shape, np.uint8)
        cv2.fillPoly(mask, [_fixed(np.concatenate([upper_roi, lower_roi[::-1]]))], 255, cv2.LINE_8, SHIFT)
        roi = self._skin_raw[self.y0 : self.y1, self.x0 : self.x1].copy()
        cv2.copyTo(layer, mask, roi)
        level = s.skin_level * s.illumination
        cv2.polylines(roi, [_fixed(upper_roi)], False, self.lid_level, self.lid_margin_px, cv2.LINE_AA, SHIFT)
        cv2.polylines(roi, [_fixed(lower_roi)], False, float(0.8 * level), 2, cv2.LINE_AA, SHIFT)
        crease = upper_roi.copy()
        crease[:, 1] -= (0.25 + 0.35 * st.lid_open[k]) * self.cam.iris_px * np.clip(1 - self.u**2, 0, 1) + 4
        cv2.polylines(roi, [_fixed(crease)], False, float(0.75 * level), 2, cv2.LINE_AA, SHIFT)
        if self.lash_u.size or self.lower_lash_u.size:
            cv2.polylines(roi, self._lashes(upper_roi, lower_roi), False, self.lash_level, 1, cv2.LINE_AA, SHIFT)
        frame = self.background.copy()
        frame[self.y0 : self.y1, self.x0 : self.x1] = self._finish(roi, self._shade_roi)
        amb = float(st.ambient[k])
        if amb > 0.01:
            cv2.add(frame, amb, dst=frame)
        return frame

    def _paste_iris(self, layer: np.ndarray, centre: np.ndarray, axes: np.ndarray, angle_deg: float) -> None:
        a = np.radians(angle_deg)
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        lin = rot @ np.diag(axes / IRIS_TEX_R) @ rot.T
        half = int(np.ceil(axes[0])) + 2
        bx0, by0 = int(np.floor(centre[0])) - half, int(np.floor(centre[1])) - half
        bx1, by1 = bx0 + 2 * half + 1, by0 + 2 * half + 1
        cx0, cy0 = max(bx0, 0), max(by0, 0)
        cx1, cy1 = min(bx1, layer.shape[1]), min(by1, layer.shape[0])
        if cx1 <= cx0 or cy1 <= cy0:
            return
        m = np.zeros((2, 3))
        m[:, :2] = lin
        m[:, 2] = centre - np.array([cx0, cy0]) - lin @ np.array([IRIS_TEX_R, IRIS_TEX_R])
        grey = cv2.warpAffine(self.iris_tex, m, (cx1 - cx0, cy1 - cy0), flags=cv2.INTER_LINEAR)
        # Binary disc mask, then an anti-aliased dark limbus outline over its edge.
        mask = np.zeros(grey.shape, np.uint8)
        c = tuple(_fixed(centre - (cx0, cy0)))
        ax = tuple(_fixed(axes))
        cv2.ellipse(mask, c, ax, float(angle_deg), 0, 360, 255, -1, cv2.LINE_8, SHIFT)
        dst = layer[cy0:cy1, cx0:cx1]
        cv2.copyTo(grey, mask, dst)
        cv2.ellipse(dst, c, ax, float(angle_deg), 0, 360, self.limbus_level, 2, cv2.LINE_AA, SHIFT)

    def _lashes(self, upper: np.ndarray, lower: np.ndarray) -> list[np.ndarray]:
        def along(curve: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            pos = np.stack([np.interp(u, self.u, curve[:, 0]), np.interp(u, self.u, curve[:, 1])], 1)
            d = np.diff(curve, axis=0)
            seg = np.clip(np.searchsorted(self.u, u) - 1, 0, d.shape[0] - 1)
            d = d[seg] / np.linalg.norm(d[seg], axis=1, keepdims=True)
            return pos, d

        pos, tan = along(upper, self.lash_u)
        nrm = np.stack([tan[:, 1], -tan[:, 0]], 1)  # points up (away from the eye)
        direction = nrm + self.lash_tilt[:, None] * tan
        tip = pos + direction * self.lash_len[:, None]
        mid = pos + 0.5 * direction * self.lash_len[:, None] + 0.15 * self.lash_len[:, None] * tan
        up = _fixed(np.stack([pos, mid, tip], 1))
        lpos, ltan = along(lower, self.lower_lash_u)
        lnrm = np.stack([-ltan[:, 1], ltan[:, 0]], 1)
        lo = _fixed(np.stack([lpos, lpos + lnrm * self.lower_lash_len[:, None]], 1))
        return list(up) + list(lo)
