"""Eye movements on a fine time grid: fixations with drift, microsaccades, main-sequence saccades, smooth
pursuit, blinks and pupil dilation.

Saccades follow the main sequence ``Vpeak = v_max * (1 - exp(-A / a0))`` with a minimum-jerk position
profile (peak velocity 1.875 A / D, so D = 1.875 A / Vpeak). Blinks close in ~100 ms and reopen in
150-200 ms. Angles in degrees: yaw > 0 to the image right, pitch > 0 up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MotionParams:
    """Statistics of the generated eye movements."""

    grid_us: int = 200  # time step of the trajectory
    yaw_range_deg: float = 22.0  # gaze stays within +-range
    pitch_range_deg: float = 16.0
    v_max_deg_s: float = 500.0  # main sequence asymptote
    a0_deg: float = 15.0  # main sequence amplitude constant
    fixation_mean_s: float = 0.35  # median fixation duration (log-normal)
    p_microsaccade: float = 0.3  # after a fixation: microsaccade / pursuit / saccade otherwise
    p_pursuit: float = 0.12
    pursuit_speed_deg_s: tuple[float, float] = (5.0, 25.0)
    drift_deg: float = 0.1  # std of the slow fixational drift (speeds ~1 deg/s) ...
    drift_tau_s: float = 1.0  # ... and its correlation time
    blink_rate_hz: float = 0.3  # ~18 blinks per minute
    close_ms: tuple[float, float] = (80.0, 110.0)
    closed_ms: tuple[float, float] = (20.0, 80.0)
    open_ms: tuple[float, float] = (150.0, 200.0)
    pupil_sd: float = 0.12  # relative pupil size fluctuation (log scale), correlation time below
    pupil_tau_s: float = 2.0


@dataclass
class EyeMotion:
    """Trajectory sampled every ``grid_us``: gaze angles, relative pupil size, lid opening (1 open, 0 shut)."""

    t_us: np.ndarray
    yaw: np.ndarray
    pitch: np.ndarray
    pupil_scale: np.ndarray
    lid_open: np.ndarray

    @property
    def grid_us(self) -> int:
        return int(self.t_us[1] - self.t_us[0])


def saccade_duration_s(amplitude_deg: np.ndarray | float, p: MotionParams) -> np.ndarray | float:
    """Duration of a minimum-jerk saccade whose peak velocity follows the main sequence."""
    a = np.maximum(amplitude_deg, 1e-3)
    vpeak = p.v_max_deg_s * (1.0 - np.exp(-a / p.a0_deg))
    return 1.875 * a / vpeak


def _min_jerk(tau: np.ndarray) -> np.ndarray:
    return tau**3 * (10 - 15 * tau + 6 * tau**2)


def generate_motion(
    seconds: float, rng: np.random.Generator, p: MotionParams = MotionParams(), start: tuple[float, float] | None = None
) -> EyeMotion:
    """Sample a trajectory of ``seconds`` (grid points 0, grid, ..., seconds inclusive)."""
    n = int(round(seconds * 1e6 / p.grid_us)) + 1
    t = np.arange(n, dtype=np.int64) * p.grid_us
    ts = t * 1e-6
    yaw = np.empty(n)
    pitch = np.empty(n)
    g = np.array(start if start is not None else (rng.uniform(-8, 8), rng.uniform(-6, 6)), dtype=float)
    lim = np.array([p.yaw_range_deg, p.pitch_range_deg])
    i = 0
    while i < n:
        # Fixation.
        dur = float(np.clip(rng.lognormal(np.log(p.fixation_mean_s), 0.5), 0.08, 2.0))
        j = min(n, i + int(dur * 1e6 / p.grid_us))
        yaw[i:j], pitch[i:j] = g
        i = j
        if i >= n:
            break
        u = rng.random()
        if u < p.p_pursuit:
            speed = rng.uniform(*p.pursuit_speed_deg_s)
            ang = rng.uniform(0, 2 * np.pi)
            d = np.array([np.cos(ang), np.sin(ang)]) * speed
            dur = rng.uniform(0.3, 1.2)
            j = min(n, i + int(dur * 1e6 / p.grid_us))
            k = np.arange(j - i) * p.grid_us * 1e-6
            path = g + k[:, None] * d
            # Reflect at the range limits so the eye stays in its orbit.
            path = lim - np.abs(np.mod(path + lim, 4 * lim) - 2 * lim)
            yaw[i:j], pitch[i:j] = path.T
            g = path[-1].copy()
        else:
            if u < p.p_pursuit + p.p_microsaccade:
                amp = rng.uniform(0.1, 1.0)
                ang = rng.uniform(0, 2 * np.pi)
                target = np.clip(g + amp * np.array([np.cos(ang), np.sin(ang)]), -lim, lim)
            else:
                target = rng.uniform(-lim, lim)
                step = target - g
                amp = float(np.hypot(*step))
                if amp > 25.0:
                    target = g + step * 25.0 / amp
            amp = float(np.hypot(*(target - g)))
            dur = float(saccade_duration_s(amp, p))
            j = min(n, i + max(1, int(dur * 1e6 / p.grid_us)))
            tau = (np.arange(j - i) + 1) / max(1, int(dur * 1e6 / p.grid_us))
            path = g + _min_jerk(np.clip(tau, 0, 1))[:, None] * (target - g)
            yaw[i:j], pitch[i:j] = path.T
            g = target if j - i == max(1, int(dur * 1e6 / p.grid_us)) else path[-1].copy()
        i = j
    drift = _ou(n, p.grid_us * 1e-6, p.drift_tau_s, p.drift_deg, rng, dims=2)
    pupil = np.exp(_ou(n, p.grid_us * 1e-6, p.pupil_tau_s, p.pupil_sd, rng, dims=1)[:, 0])
    return EyeMotion(t, yaw + drift[:, 0], pitch + drift[:, 1], pupil, _blinks(ts, rng, p))


def _ou(n: int, dt: float, tau: float, sd: float, rng: np.random.Generator, dims: int, knot_s: float = 0.02) -> np.ndarray:
    """Smooth stationary Ornstein-Uhlenbeck process: exact OU at knots every ``knot_s``, interpolated linearly
    onto the grid (so its velocity stays bounded, unlike white-noise increments at the grid rate)."""
    from scipy.signal import lfilter

    n_knots = int(np.ceil((n - 1) * dt / knot_s)) + 2
    a = np.exp(-knot_s / tau)
    noise = rng.normal(0.0, sd * np.sqrt(1 - a * a), (n_knots, dims))
    noise[0] = rng.normal(0.0, sd, dims)
    knots = lfilter([1.0], [1.0, -a], noise, axis=0)
    t = np.arange(n) * dt
    tk = np.arange(n_knots) * knot_s
    return np.stack([np.interp(t, tk, knots[:, d]) for d in range(dims)], axis=1)


def _blinks(ts: np.ndarray, rng: np.random.Generator, p: MotionParams) -> np.ndarray:
    """Lid opening: 1 open, 0 shut; blinks at Poisson times with ease-in/ease-out closing and opening."""
    lid = np.ones_like(ts)
    t = rng.exponential(1.0 / p.blink_rate_hz) if p.blink_rate_hz > 0 else np.inf
    while t < ts[-1]:
        c, h, o = (rng.uniform(*r) * 1e-3 for r in (p.close_ms, p.closed_ms, p.open_ms))
        tau_c = np.clip((ts - t) / c, 0, 1)
        tau_o = np.clip((ts - t - c - h) / o, 0, 1)
        shape = 1.0 - 0.5 * (1 - np.cos(np.pi * tau_c)) + 0.5 * (1 - np.cos(np.pi * tau_o))
        lid = np.minimum(lid, shape)
        t += c + h + o + 0.3 + rng.exponential(1.0 / p.blink_rate_hz)
    return lid
