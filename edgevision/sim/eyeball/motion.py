"""This family's own oculomotor model on a 100 us grid.

Fixations with gamma-distributed durations, drift (Ornstein-Uhlenbeck) and microsaccades; saccades whose duration
follows a main sequence, with a skewed (early-peaking) velocity profile, slight curvature and a damped post-saccadic
wobble; smooth pursuit; blinks from a log-normal renewal process with a fast closing and a slow opening phase, some
partial; the upper lid follows vertical gaze with a lag; pupil hippus and delayed, asymmetric light responses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter
from scipy.special import betainc

from edgevision.sim.eyeball.scene import MAX_VIEW_DEG, Scene, gaze_dir

GRID_US = 100
FIXATION, SACCADE, PURSUIT = 0, 1, 2


@dataclass(frozen=True)
class Motion:
    """Per grid sample: gaze (rad), pupil radius (mm), lid elevations (rad), lid closure in [0, 1], phase."""

    t_us: np.ndarray
    yaw: np.ndarray
    pitch: np.ndarray
    pupil_r: np.ndarray
    theta_u: np.ndarray
    theta_l: np.ndarray
    closure: np.ndarray
    phase: np.ndarray


class _Gaze:
    """Allowed gaze directions: the oculomotor limits and a cone around the direction to the camera."""

    def __init__(self, scene: Scene) -> None:
        self.lim = np.degrees(scene.gaze_limits)
        self.cdir = scene.cam.origin / np.linalg.norm(scene.cam.origin)
        self.cos_max = np.cos(np.radians(MAX_VIEW_DEG - 3.0))

    def ok(self, yaw: np.ndarray, pitch: np.ndarray) -> np.ndarray:
        y, p = np.asarray(yaw), np.asarray(pitch)
        inside = (y >= self.lim[0]) & (y <= self.lim[1]) & (p >= self.lim[2]) & (p <= self.lim[3])
        return inside & (gaze_dir(np.radians(y), np.radians(p)) @ self.cdir >= self.cos_max)

    def sample(self, rng: np.random.Generator, near: np.ndarray | None = None, spread: float = 0.0) -> np.ndarray:
        for _ in range(200):
            if near is None:
                g = np.array([rng.uniform(self.lim[0], self.lim[1]), rng.uniform(self.lim[2], self.lim[3])])
            else:
                g = near + rng.normal(0, spread, 2)
            if self.ok(g[0], g[1]):
                return g
        return near.copy() if near is not None else np.array([0.0, 0.0])


def _saccade(rng: np.random.Generator, start: np.ndarray, end: np.ndarray, p: dict) -> tuple[np.ndarray, np.ndarray]:
    """Positions (n, 2) in degrees of one saccade on the grid, and the post-saccadic wobble that follows it."""
    vec = end - start
    amp = float(np.hypot(*vec))
    dur_ms = p["sacc_d0"] + p["sacc_slope"] * amp
    n = max(int(round(dur_ms * 1000 / GRID_US)), 2)
    tau = np.arange(1, n + 1) / n
    beta = min(2.0 + p["sacc_skew"] * amp, 5.0)
    s = betainc(2.0, beta, tau)
    perp = np.array([-vec[1], vec[0]]) * rng.uniform(-0.06, 0.06)
    pos = start + s[:, None] * vec + np.sin(np.pi * tau)[:, None] * perp
    tw = np.arange(1, int(4 * p["pso_tau"] * 1e6 / GRID_US)) * GRID_US * 1e-6
    over = p["pso_gain"] * rng.uniform(0.5, 1.5)
    wobble = (over * np.exp(-tw / p["pso_tau"]) * np.sin(2 * np.pi * p["pso_hz"] * tw))[:, None] * vec
    return pos, wobble


def _gaze_track(scene: Scene, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    gz = _Gaze(scene)
    p = {
        "fix_mean": rng.uniform(0.16, 0.5), "fix_shape": rng.uniform(1.8, 4.0), "pursuit_p": rng.uniform(0.05, 0.3),
        "sacc_d0": rng.uniform(18.0, 28.0), "sacc_slope": rng.uniform(1.8, 3.0), "sacc_skew": rng.uniform(0.03, 0.12),
        "pso_gain": rng.uniform(0.02, 0.09), "pso_hz": rng.uniform(15.0, 32.0), "pso_tau": rng.uniform(0.008, 0.025),
        "micro_hz": rng.uniform(0.3, 2.0), "micro_amp": rng.uniform(0.1, 0.6),
    }
    pos = np.empty((n, 2))
    phase = np.zeros(n, np.int8)
    wob = np.zeros((n + 4000, 2))
    cur = gz.sample(rng)
    i = 0
    while i < n:
        if rng.random() < p["pursuit_p"]:
            m = int(rng.uniform(0.4, 1.2) * 1e6 / GRID_US)
            speed = rng.uniform(4.0, 20.0)
            ang = rng.uniform(0, 2 * np.pi)
            t = np.arange(1, m + 1) * GRID_US * 1e-6
            ramp = np.minimum(t / 0.06, 1.0)
            travel = speed * np.cumsum(ramp) * GRID_US * 1e-6
            seg = cur + travel[:, None] * np.array([np.cos(ang), np.sin(ang)])
            good = gz.ok(seg[:, 0], seg[:, 1])
            m = int(np.argmin(good)) if not good.all() else m
            seg, kind = seg[:m], PURSUIT
        else:
            m = max(int(rng.gamma(p["fix_shape"], p["fix_mean"] / p["fix_shape"]) * 1e6 / GRID_US), 1)
            seg, kind = np.repeat(cur[None], m, axis=0), FIXATION
            t_micro = np.sort(rng.uniform(0, m, rng.poisson(p["micro_hz"] * m * GRID_US * 1e-6))).astype(int)
            for k in t_micro:  # microsaccades shift the rest of the fixation
                tgt = gz.sample(rng, seg[k], p["micro_amp"])
                ms, _ = _saccade(rng, seg[k], tgt, p)
                hi = min(k + ms.shape[0], m)
                seg[k:hi] = ms[: hi - k]
                seg[hi:] = tgt
        take = min(seg.shape[0], n - i)
        pos[i : i + take] = seg[:take]
        phase[i : i + take] = kind
        i += take
        if seg.shape[0]:
            cur = seg[take - 1]
        if i >= n:
            break
        nxt = gz.sample(rng)
        while np.hypot(*(nxt - cur)) < 1.0:
            nxt = gz.sample(rng)
        sac, wobble = _saccade(rng, cur, nxt, p)
        take = min(sac.shape[0], n - i)
        pos[i : i + take] = sac[:take]
        phase[i : i + take] = SACCADE
        i += take
        wob[i : i + wobble.shape[0]] += wobble[: wob.shape[0] - i]
        cur = nxt
    # drift: an OU process in degrees (stationary std ~sigma, correlation time tc), smoothed over ~30 ms (a slow
    # wander, not a rough random walk) on top of everything
    tc, sigma = rng.uniform(0.15, 0.6), rng.uniform(0.04, 0.2)
    a = np.exp(-GRID_US * 1e-6 / tc)
    drift = lfilter([sigma * np.sqrt(1 - a * a)], [1, -a], rng.standard_normal((n, 2)), axis=0)
    s = np.exp(-GRID_US * 1e-6 / 0.015)
    drift = lfilter([(1 - s) ** 2], [1, -2 * s, s * s], drift, axis=0)
    return np.radians(pos + wob[:n] + drift), phase


def _blinks(n: int, rng: np.random.Generator) -> np.ndarray:
    closure = np.zeros(n)
    median = rng.uniform(1.2, 5.0)
    t = rng.uniform(0, median) * 1e6 / GRID_US
    while t < n:
        close, hold = rng.uniform(0.055, 0.1), rng.uniform(0.0, 0.06)
        opening = rng.uniform(0.12, 0.3)
        depth = 1.0 if rng.random() < 0.75 else rng.uniform(0.35, 0.85)
        seg_t = np.arange(int((close + hold + opening) * 1e6 / GRID_US)) * GRID_US * 1e-6
        c = np.where(seg_t < close, np.sin(0.5 * np.pi * np.minimum(seg_t / close, 1.0)) ** 2, 1.0)
        u = np.clip((seg_t - close - hold) / opening, 0.0, 1.0)
        c = np.where(seg_t > close + hold, 1.0 - (1.0 - (1.0 - u) ** 2.2), c)
        lo = int(t)
        hi = min(lo + seg_t.shape[0], n)
        closure[lo:hi] = np.maximum(closure[lo:hi], depth * c[: hi - lo])
        t += (close + hold + opening) * 1e6 / GRID_US + rng.lognormal(np.log(median), 0.6) * 1e6 / GRID_US
    return closure


def _pupil(n: int, rng: np.random.Generator, iris_r: float) -> np.ndarray:
    t = np.arange(n) * GRID_US * 1e-6
    r0 = rng.uniform(1.3, min(3.4, iris_r - 2.0))
    r = np.full(n, r0)
    amp = rng.uniform(0.03, 0.12)
    for _ in range(3):
        r += amp / 3 * np.sin(2 * np.pi * rng.uniform(0.05, 0.8) * t + rng.uniform(0, 2 * np.pi))
    level = r0
    for ts in np.sort(rng.uniform(0, t[-1] + 1e-9, rng.poisson(rng.uniform(0.0, 0.5) * t[-1]))):
        target = float(np.clip(level + rng.choice([-1, 1]) * rng.uniform(0.2, 0.7), 1.2, iris_r - 1.8))
        start = ts + rng.uniform(0.18, 0.3)
        tau = rng.uniform(0.12, 0.3) if target < level else rng.uniform(0.5, 1.2)
        after = t >= start
        resp = (target - level) * (1 - np.exp(-(t[after] - start) / tau))
        r[after] += resp  # step responses superpose (first-order, latency, faster constriction than dilation)
        level = target
    return np.clip(r, 1.0, iris_r - 1.2)


def generate_motion(scene: Scene, seconds: float, rng: np.random.Generator) -> Motion:
    """Sample a recording's motion on the 100 us grid (``seconds * 10_000 + 1`` samples)."""
    n = int(round(seconds * 1e6 / GRID_US)) + 1
    gaze, phase = _gaze_track(scene, n, rng)
    closure = _blinks(n, rng)
    lag = np.exp(-GRID_US * 1e-6 / rng.uniform(0.005, 0.02))
    pitch_lid = lfilter([1 - lag], [1, -lag], gaze[:, 1], zi=[lag * gaze[0, 1]])[0]
    th_u0, th_l0 = scene.lid_rest
    ku, kl = scene.lid_follow
    th_l = th_l0 + kl * pitch_lid + closure * np.radians(rng.uniform(1.0, 3.0))
    open_u = th_u0 + ku * pitch_lid
    th_u = open_u - closure * (open_u - (th_l - np.radians(rng.uniform(2.0, 4.0))))
    return Motion(
        t_us=np.arange(n, dtype=np.int64) * GRID_US, yaw=gaze[:, 0], pitch=gaze[:, 1],
        pupil_r=_pupil(n, rng, scene.anat.iris_r), theta_u=th_u, theta_l=th_l, closure=closure, phase=phase,
    )


def frame_schedule(scene: Scene, m: Motion, step_px: float = 2.0, max_gap_us: int = 10_000) -> np.ndarray:
    """Grid indices to render: wherever the image has moved ``step_px`` since the last frame, at least every gap."""
    apex = np.array([0.0, 0.0, scene.anat.apex_z])
    px_per_mm = scene.cam.f / np.linalg.norm(scene.cam.origin - apex)
    dg = np.hypot(np.diff(m.yaw), np.diff(m.pitch)) * scene.anat.apex_z
    dl = np.maximum(np.abs(np.diff(m.theta_u)), np.abs(np.diff(m.theta_l))) * scene.anat.lid_lever
    dp = np.abs(np.diff(m.pupil_r)) * 1.5
    cum = np.concatenate([[0.0], np.cumsum((np.maximum(dg, dl) + dp) * px_per_mm)])
    step = np.flatnonzero(np.diff(np.floor(cum / step_px))) + 1
    gap = np.arange(0, m.t_us.shape[0], max_gap_us // GRID_US)
    return np.unique(np.concatenate([[0, m.t_us.shape[0] - 1], step, gap]))
