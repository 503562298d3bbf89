"""Procedural texture maps (float32 reflectance multipliers around 1, or alpha in [0, 1]), sampled with cv2.remap."""

from __future__ import annotations

import cv2
import numpy as np


def noise(rng: np.random.Generator, shape: tuple[int, int], cells: tuple[int, int]) -> np.ndarray:
    """Smooth zero-mean unit-variance noise: a (cells) random grid resized bicubically to ``shape`` (rows, cols)."""
    small = rng.standard_normal((max(cells[0], 2), max(cells[1], 2))).astype(np.float32)
    big = cv2.resize(small, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
    return (big - big.mean()) / (big.std() + 1e-6)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def iris_texture(rng: np.random.Generator, size: int = 512, contrast: float = 0.3) -> np.ndarray:
    """Cartesian iris map over the unit disk; radius fraction rho = 0.25 + 0.75 tau (tau: 0 pupil rim, 1 iris rim).

    The renderer reads it up to tau = 0.96 (rho 0.97), inside the map's outer edge.
    """
    n_ang, n_rad = 1024, size // 2
    rho = (np.arange(n_rad, dtype=np.float32) + 0.5) / n_rad
    tau = (rho - 0.25) / 0.75
    fibres = 0.6 * noise(rng, (n_ang, n_rad), (300, 6)) + 0.4 * noise(rng, (n_ang, n_rad), (90, 12))
    collarette_tau = rng.uniform(0.28, 0.45)
    wobble = 0.05 * noise(rng, (n_ang, 1), (12, 1))
    ridge = np.exp(-(((tau[None, :] - collarette_tau - wobble) / 0.04) ** 2))
    furrows = sum(np.exp(-(((tau[None, :] - ft) / 0.012) ** 2)) for ft in rng.uniform(0.6, 0.92, rng.integers(1, 4)))
    furrows = furrows * (noise(rng, (n_ang, 1), (20, 1)) > -0.3)
    pol = 1.0 + contrast * (fibres * 0.6 + 0.9 * ridge - 0.7 * furrows)
    crypts = np.zeros((n_ang, n_rad), np.float32)
    for _ in range(int(rng.integers(8, 30))):
        a, r = rng.uniform(0, n_ang), (0.25 + 0.75 * rng.uniform(0.15, 0.8)) * n_rad
        axes = (int(rng.uniform(0.02, 0.06) * n_rad) + 1, int(rng.uniform(6, 30)) + 1)
        cv2.ellipse(crypts, (int(r), int(a)), axes, 0, 0, 360, 1.0, -1)
    crypts = cv2.GaussianBlur(crypts, (0, 0), 2.0)
    pol *= 1.0 - contrast * 1.2 * crypts
    pol *= 1.0 - 0.55 * _smoothstep((0.08 - tau[None, :]) / 0.12)  # pigment ruff at the pupil rim
    pol *= 1.0 - 0.45 * _smoothstep((tau[None, :] - 0.82) / 0.18)  # dark limbal ring
    pol = np.clip(pol, 0.05, None).astype(np.float32)
    c = (size - 1) / 2.0
    return cv2.warpPolar(pol, (size, size), (c, c), size / 2.0, cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR)


def sclera_texture(
    rng: np.random.Generator, size: int = 768, extent: float = 1.3, contrast: float = 0.12
) -> np.ndarray:
    """Sclera map in stereographic coordinates (unit sphere, [-extent, extent]^2): faint vessels, low-frequency tint."""
    img = np.zeros((size, size), np.float32)
    scale = (size - 1) / (2 * extent)
    for _ in range(int(rng.integers(10, 26))):
        ang, rad = rng.uniform(0, 2 * np.pi), rng.uniform(0.3, 0.45)
        pts, width = [], int(rng.integers(1, 4))
        heading = ang + rng.normal(0, 0.3)
        for _ in range(40):
            pts.append((np.cos(ang) * rad, np.sin(ang) * rad))
            heading += rng.normal(0, 0.25)
            step = 0.025
            x, y = pts[-1][0] + step * np.cos(heading), pts[-1][1] + step * np.sin(heading)
            rad, ang = np.hypot(x, y), np.arctan2(y, x)
            heading = 0.7 * heading + 0.3 * ang
        poly = (np.asarray(pts) * scale + (size - 1) / 2).astype(np.int32)
        cv2.polylines(img, [poly], False, float(rng.uniform(0.4, 1.0)), width, cv2.LINE_AA)
    img = cv2.GaussianBlur(img, (0, 0), 1.5)
    return (1.0 + 0.04 * noise(rng, (size, size), (6, 6)) - contrast * img).astype(np.float32)


def skin_texture(rng: np.random.Generator, shape: tuple[int, int], contrast: float) -> np.ndarray:
    """Skin map (rows, cols at ~0.05 mm): pores, fine wrinkles along the rows, blotches."""
    pores = noise(rng, shape, (shape[0] // 3, shape[1] // 3))
    wrinkles = noise(rng, shape, (shape[0] // 6, max(shape[1] // 60, 2)))
    blotch = noise(rng, shape, (5, 5))
    return (1.0 + contrast * (0.45 * pores + 0.2 * wrinkles + 0.5 * blotch)).astype(np.float32)


def lash_texture(
    rng: np.random.Generator, half_width_mm: float, extent_mm: tuple[float, float], count: int,
    length_mm: tuple[float, float], direction: float, res_mm: float = 0.025,
) -> np.ndarray:
    """Lash alpha over (rows: distance m from the lid margin in ``extent_mm``, cols: lid-axis coordinate +-half width).

    Lashes grow from the margin (m = 0) towards ``direction`` (+1 or -1) and fan out towards the corners.
    """
    rows = int(round((extent_mm[1] - extent_mm[0]) / res_mm))
    cols = int(round(2 * half_width_mm / res_mm))
    img = np.zeros((rows, cols), np.float32)
    roots = rng.uniform(-0.85, 0.85, count) * half_width_mm
    for x0 in roots:
        frac = abs(x0) / half_width_mm
        length = rng.uniform(*length_mm) * (1.0 - 0.55 * frac**2)
        slant = 0.9 * x0 / half_width_mm + rng.normal(0, 0.15)
        curl = rng.normal(0, 0.25)
        s = np.linspace(0, 1, 10)
        xs = x0 + length * (slant * s + curl * s * s) * 0.45
        ms = direction * (length * s) + rng.uniform(-0.1, 0.25) * direction
        px = np.stack([(xs + half_width_mm) / res_mm, (ms - extent_mm[0]) / res_mm], axis=1)
        thick = max(int(round(rng.uniform(0.07, 0.12) / res_mm)), 1)
        for k in range(len(s) - 1):  # taper: thinner towards the tip
            w = max(int(round(thick * (1 - 0.7 * s[k]))), 1)
            a, b = (px[k] * 16).astype(np.int32), (px[k + 1] * 16).astype(np.int32)
            cv2.line(img, tuple(a), tuple(b), float(1 - 0.4 * s[k]), w, cv2.LINE_AA, shift=4)
    return np.clip(cv2.GaussianBlur(img, (0, 0), 1.0), 0.0, 1.0)
