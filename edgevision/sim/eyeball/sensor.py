"""This family's own event-sensor model (not the v2e-style emulator in edgevision.sim.dvs).

Per pixel: log(irradiance + dark offset), a first-order photoreceptor low-pass whose cutoff falls with intensity,
ON and OFF thresholds with per-pixel Gaussian mismatch, events at the times the linearly interpolated log signal
crosses the reference levels between two frames, a refractory period (crossings inside it are lost, the reference
still follows), background activity with per-pixel rates, and hot pixels. Parameter ranges differ from ours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgevision.events.core import EVENT_DTYPE


@dataclass(frozen=True)
class SensorParams:
    theta_on: float
    theta_off: float
    mismatch: float  # relative std of the thresholds across pixels
    refractory_us: float
    cutoff_hz: float  # photoreceptor bandwidth at irradiance >= 0.5
    dark: float  # irradiance offset inside the log (dark current)
    noise_hz: float  # mean background events per pixel per second
    noise_on: float  # ON fraction of background events
    hot_fraction: float
    hot_hz: float


def sample_sensor(rng: np.random.Generator) -> SensorParams:
    on = rng.uniform(0.15, 0.45)
    return SensorParams(
        theta_on=on, theta_off=float(np.clip(on * rng.uniform(0.6, 1.4), 0.12, 0.5)), mismatch=rng.uniform(0.04, 0.12),
        refractory_us=float(np.exp(rng.uniform(np.log(100.0), np.log(2000.0)))), cutoff_hz=rng.uniform(150.0, 1500.0),
        dark=rng.uniform(0.005, 0.04), noise_hz=rng.uniform(0.02, 0.4), noise_on=rng.uniform(0.3, 0.7),
        hot_fraction=rng.uniform(0.0, 3e-4), hot_hz=rng.uniform(5.0, 200.0),
    )


class PixelArray:
    """The changing rectangle of the sensor; ``step(irradiance, t0, t1)`` returns its events in (t0, t1]."""

    def __init__(
        self, params: SensorParams, first: np.ndarray, origin: tuple[int, int], rng: np.random.Generator
    ) -> None:
        self.p = params
        self.origin = origin  # (row, col) of the rectangle's top-left pixel on the sensor
        shape = first.shape
        spread = [np.clip(1 + params.mismatch * rng.standard_normal(shape), 0.3, 3) for _ in range(2)]
        self.th_on = (params.theta_on * spread[0]).astype(np.float32)
        self.th_off = (params.theta_off * spread[1]).astype(np.float32)
        self.level = self._log(first)
        # references start at a random phase inside their threshold band, as on a sensor that has been running
        self.ref = self.level + (rng.uniform(0, 1, shape).astype(np.float32) * (self.th_on + self.th_off) - self.th_on)
        self.last = np.full(shape, -1e12)

    def _log(self, img: np.ndarray) -> np.ndarray:
        return np.log(img + np.float32(self.p.dark)).astype(np.float32)

    def step(self, img: np.ndarray, t0: int, t1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(t, x, y, p) of the events between the previous frame (t0) and this one (t1), unsorted."""
        dt = float(t1 - t0)
        x = np.float32(2 * np.pi * dt * 1e-6 * self.p.cutoff_hz) * np.clip(img / np.float32(0.5), 0.05, 1.0)
        alpha = x / (1.0 + x)  # one implicit-Euler step of the first-order low-pass
        new = self.level + alpha * (self._log(img) - self.level)
        prev, self.level = self.level, new
        diff = new - prev
        out = []
        for pol, th in ((1, self.th_on), (0, self.th_off)):
            over = (new - self.ref) / th if pol else (self.ref - new) / th
            idx = np.flatnonzero(over >= 1.0)
            if idx.size == 0:
                continue
            th_i, d_i = th.ravel()[idx], np.abs(diff.ravel()[idx])
            n = np.floor(over.ravel()[idx]).astype(np.int64)
            ref_i = self.ref.ravel()[idx]
            sign = 1.0 if pol else -1.0
            first = ((ref_i + sign * th_i - prev.ravel()[idx]) * sign / np.maximum(d_i, 1e-9)).astype(np.float64)
            t_first = t0 + np.clip(first, 0.0, 1.0) * dt
            spacing = th_i / np.maximum(d_i, 1e-9) * dt
            self.ref.ravel()[idx] = ref_i + sign * n * th_i
            refr = self.p.refractory_us
            j0 = np.clip(np.ceil((self.last.ravel()[idx] + refr - t_first) / spacing), 0, None).astype(np.int64)
            q = np.maximum(np.ceil(refr / spacing), 1).astype(np.int64)
            kept = np.where(n > j0, (n - j0 + q - 1) // q, 0)
            if kept.sum() == 0:
                continue
            pix = np.repeat(idx, kept)
            start = np.cumsum(kept) - kept
            k = np.arange(pix.size) - np.repeat(start, kept)
            j = np.repeat(j0, kept) + k * np.repeat(q, kept)
            t = np.repeat(t_first, kept) + j * np.repeat(spacing, kept)
            has = kept > 0
            self.last.ravel()[idx[has]] = t_first[has] + (j0[has] + (kept[has] - 1) * q[has]) * spacing[has]
            rows, cols = np.divmod(pix, img.shape[1])
            out.append((np.minimum(t, t1).astype(np.int64), cols + self.origin[1], rows + self.origin[0],
                        np.full(pix.size, pol, np.uint8)))
        if not out:
            e = np.empty(0, np.int64)
            return e, e, e, np.empty(0, np.uint8)
        return tuple(np.concatenate(c) for c in zip(*out))


def noise_events(params: SensorParams, duration_us: int, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Background activity and hot pixels over the whole sensor (EVENT_DTYPE, unsorted); one event sits at t = 0."""
    w, h = size
    rate = rng.lognormal(0.0, 0.6, w * h)
    rate *= params.noise_hz / rate.mean()
    total = rate.sum() * duration_us * 1e-6
    n = int(rng.poisson(total))
    pix = rng.choice(w * h, size=n, p=rate / rate.sum())
    t = rng.integers(0, duration_us + 1, n)
    pol = (rng.random(n) < params.noise_on).astype(np.uint8)
    n_hot = int(rng.poisson(w * h * params.hot_fraction))
    hot_pix = rng.choice(w * h, size=n_hot, replace=False)
    counts = rng.poisson(params.hot_hz * rng.uniform(0.5, 1.5, n_hot) * duration_us * 1e-6)
    pix = np.concatenate([pix, np.repeat(hot_pix, counts)])
    t = np.concatenate([t, rng.integers(0, duration_us + 1, counts.sum())])
    pol = np.concatenate([pol, rng.integers(0, 2, counts.sum()).astype(np.uint8)])
    if t.size:
        t[np.argmin(t)] = 0
    ev = np.empty(t.size, EVENT_DTYPE)
    ev["t"], ev["x"], ev["y"], ev["p"] = t, pix % w, pix // w, pol
    return ev
