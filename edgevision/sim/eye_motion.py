"""Eye movements on a fine time grid: fixations with drift, microsaccades, main-sequence saccades, smooth
pursuit, full and partial blinks, pupil dilation and slow camera slippage.

Saccades follow the main sequence ``Vpeak = v_max * (1 - exp(-A / a0))`` with a minimum-jerk position
profile (peak velocity 1.875 A / D, so D = 1.875 A / Vpeak), each saccade's duration scattered log-normally
by ``saccade_spread``. Blinks close in ~100 ms and reopen in 150-200 ms; a fraction ``partial_blinks`` stops
at 15-70 % closure. Angles in degrees: yaw > 0 to the image right, pitch > 0 up. The per-recording values of
every statistic come from :mod:`edgevision.sim.eye_domain` (:func:`sample_motion_params`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgevision.sim.eye_domain import Domain, parse_domain


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
    saccade_spread: float = 0.0  # log-normal sd of saccade durations around the main sequence
    partial_blinks: float = 0.0  # fraction of blinks that stop before closing
    slippage_px: float = 0.0  # sd of the camera slippage (pixels, each axis) ...
    slippage_tau_s: float = 4.0  # ... and its correlation time


def sample_motion_params(seed: int, domain: str | Domain = "train") -> MotionParams:
    """The motion statistics of one recording, drawn from ``domain``."""
    r = parse_domain(domain).sampler(seed, "recording")
    pursuit = r("pursuit_speed")
    return MotionParams(
        yaw_range_deg=r("gaze_range_yaw"),
        pitch_range_deg=r("gaze_range_pitch"),
        v_max_deg_s=r("saccade_vmax"),
        fixation_mean_s=r("fixation_s"),
        p_microsaccade=r("p_microsaccade"),
        p_pursuit=r("p_pursuit"),
        pursuit_speed_deg_s=(0.5 * pursuit, 1.5 * pursuit),
        drift_deg=r("drift_deg"),
        blink_rate_hz=r("blink_rate_hz"),
        pupil_sd=r("pupil_dilation_sd"),
        pupil_tau_s=r("pupil_dilation_tau_s"),
        saccade_spread=r("saccade_spread"),
        partial_blinks=r("partial_blinks"),
        slippage_px=r("slippage_px"),
    )


@dataclass
class EyeMotion:
    """Trajectory sampled every ``grid_us``: gaze angles, relative pupil size, lid opening (1 open, 0 shut)."""

    t_us: np.ndarray
    yaw: np.ndarray
    pitch: np.ndarray
    pupil_scale: np.ndarray
    lid_open: np.ndarray
    slip: np.ndarray  # [T, 2] camera slippage in image pixels

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
    seconds: float,
    rng: np.random.Generator,
    p: MotionParams = MotionParams(),
    start: tuple[float, float] | None = None,
    slip_start: np.ndarray | None = None,
) -> EyeMotion:
    """Sample a trajectory of ``seconds`` (grid points 0, grid, ..., seconds inclusive); ``start`` gaze and
    ``slip_start`` slippage continue an earlier trajectory."""
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
            dur = float(saccade_duration_s(amp, p)) * float(np.exp(p.saccade_spread * rng.standard_normal()))
            j = min(n, i + max(1, int(dur * 1e6 / p.grid_us)))
            tau = (np.arange(j - i) + 1) / max(1, int(dur * 1e6 / p.grid_us))
            path = g + _min_jerk(np.clip(tau, 0, 1))[:, None] * (target - g)
            yaw[i:j], pitch[i:j] = path.T
            g = target if j - i == max(1, int(dur * 1e6 / p.grid_us)) else path[-1].copy()
        i = j
    dt = p.grid_us * 1e-6
    drift = _ou(n, dt, p.drift_tau_s, p.drift_deg, rng, dims=2)
    pupil = np.exp(_ou(n, dt, p.pupil_tau_s, p.pupil_sd, rng, dims=1)[:, 0])
    lid = _blinks(ts, rng, p)
    slip = _ou(n, dt, p.slippage_tau_s, p.slippage_px, rng, dims=2, knot_s=0.1, x0=slip_start)
    slip = np.clip(slip, -SLIP_LIMIT_SD * p.slippage_px, SLIP_LIMIT_SD * p.slippage_px)
    return EyeMotion(t, yaw + drift[:, 0], pitch + drift[:, 1], pupil, lid, slip)


SLIP_LIMIT_SD = 3.0  # slippage is clipped at this many sd (the renderer reserves that margin)


def _ou(
    n: int, dt: float, tau: float, sd: float, rng: np.random.Generator, dims: int, knot_s: float = 0.02,
    x0: np.ndarray | None = None,
) -> np.ndarray:
    """Smooth stationary Ornstein-Uhlenbeck process: exact OU at knots every ``knot_s``, interpolated linearly
    onto the grid (so its velocity stays bounded, unlike white-noise increments at the grid rate); starts at
    ``x0`` when given."""
    from scipy.signal import lfilter

    n_knots = int(np.ceil((n - 1) * dt / knot_s)) + 2
    a = np.exp(-knot_s / tau)
    noise = rng.normal(0.0, sd * np.sqrt(1 - a * a), (n_knots, dims))
    noise[0] = rng.normal(0.0, sd, dims) if x0 is None else x0
    knots = lfilter([1.0], [1.0, -a], noise, axis=0)
    t = np.arange(n) * dt
    tk = np.arange(n_knots) * knot_s
    return np.stack([np.interp(t, tk, knots[:, d]) for d in range(dims)], axis=1)


def _blinks(ts: np.ndarray, rng: np.random.Generator, p: MotionParams) -> np.ndarray:
    """Lid opening: 1 open, 0 shut; blinks at Poisson times with ease-in/ease-out closing and opening
    (partial blinks stop at a depth of 15-70 % and take proportionally less time)."""
    lid = np.ones_like(ts)
    t = rng.exponential(1.0 / p.blink_rate_hz) if p.blink_rate_hz > 0 else np.inf
    while t < ts[-1]:
        c, h, o = (rng.uniform(*r) * 1e-3 for r in (p.close_ms, p.closed_ms, p.open_ms))
        depth = rng.uniform(0.15, 0.7) if rng.random() < p.partial_blinks else 1.0
        c, o = c * np.sqrt(depth), o * np.sqrt(depth)
        lo, hi = np.searchsorted(ts, [t, t + c + h + o + 1e-3])  # only the blink's samples change
        tau_c = np.clip((ts[lo:hi] - t) / c, 0, 1)
        tau_o = np.clip((ts[lo:hi] - t - c - h) / o, 0, 1)
        shape = 1.0 - depth * 0.5 * (1 - np.cos(np.pi * tau_c)) + depth * 0.5 * (1 - np.cos(np.pi * tau_o))
        lid[lo:hi] = np.minimum(lid[lo:hi], shape)
        t += c + h + o + 0.3 + rng.exponential(1.0 / p.blink_rate_hz)
    return lid
