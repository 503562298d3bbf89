"""Pinhole near-eye camera in the head frame (mm): X right, Y up, Z out of the face; image x right, y down.

Pixel centres are at integer coordinates (pixel ``(u, v)`` covers ``[u - 0.5, u + 0.5)``), the 3ET+ label convention.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WIDTH, HEIGHT = 640, 480


@dataclass(frozen=True)
class Camera:
    """``rot`` maps head-frame vectors to camera axes (rows: image right, image down, viewing direction)."""

    f: float
    cx: float
    cy: float
    rot: np.ndarray
    origin: np.ndarray
    width: int = WIDTH
    height: int = HEIGHT

    def rays(self, u: np.ndarray, v: np.ndarray, dtype: type = np.float32) -> np.ndarray:
        """Unit head-frame directions (3, *u.shape) of the rays through image points ``(u, v)``."""
        x = (np.asarray(u, dtype=np.float64) - self.cx) / self.f
        y = (np.asarray(v, dtype=np.float64) - self.cy) / self.f
        inv = 1.0 / np.sqrt(x * x + y * y + 1.0)
        r = self.rot
        d = np.stack([(r[0, i] * x + r[1, i] * y + r[2, i]) * inv for i in range(3)])
        return d.astype(dtype)

    def project(self, p: np.ndarray) -> np.ndarray:
        """Head-frame points (..., 3) -> image points (..., 2) (NaN behind the camera)."""
        q = (np.asarray(p, dtype=np.float64) - self.origin) @ self.rot.T
        z = np.where(q[..., 2] > 1e-9, q[..., 2], np.nan)
        return np.stack([self.f * q[..., 0] / z + self.cx, self.f * q[..., 1] / z + self.cy], axis=-1)


def look_at(
    target: np.ndarray, yaw_deg: float, pitch_deg: float, roll_deg: float, distance: float, aim_offset: np.ndarray,
    f: float, principal: tuple[float, float] = (WIDTH / 2 - 0.5, HEIGHT / 2 - 0.5),
) -> Camera:
    """Camera ``distance`` mm from ``target`` towards (yaw, pitch), aimed at ``target + aim_offset``, rolled."""
    yaw, pitch, roll = np.radians([yaw_deg, pitch_deg, roll_deg])
    target = np.asarray(target, dtype=np.float64)
    direction = np.array([np.sin(yaw) * np.cos(pitch), np.sin(pitch), np.cos(yaw) * np.cos(pitch)])
    origin = target + distance * direction
    fwd = target + np.asarray(aim_offset, dtype=np.float64) - origin
    fwd /= np.linalg.norm(fwd)
    right = np.cross(fwd, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    down = np.cross(fwd, right)
    c, s = np.cos(roll), np.sin(roll)
    rot = np.stack([c * right + s * down, -s * right + c * down, fwd])
    return Camera(f=float(f), cx=float(principal[0]), cy=float(principal[1]), rot=rot, origin=origin)
