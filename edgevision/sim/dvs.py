"""DVS pixel emulator (ESIM / v2e model): frames in, sorted events out, frame by frame.

Per pixel: log intensity (linear below ``linlog_knee`` as in v2e), an optional photoreceptor low-pass whose
cutoff grows with intensity, a memorised reference level, ON/OFF thresholds with per-pixel Gaussian mismatch,
one event per threshold crossed (timestamps interpolated linearly between frames), a refractory period,
leak events (reference drift, rate in Hz per pixel), shot noise (Poisson, Hz per pixel) and hot pixels.
The per-pixel work runs in compiled loops (:mod:`edgevision.sim.dvs_kernels`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from edgevision.errors import ConfigError, EventFormatError
from edgevision.events.core import EVENT_DTYPE, empty_events
from edgevision.sim import dvs_kernels


@dataclass(frozen=True)
class DVSParams:
    """Pixel and noise parameters; defaults are v2e's for a DVXplorer-class 640x480 sensor."""

    width: int = 640
    height: int = 480
    threshold_on: float = 0.2  # log-intensity contrast threshold of ON events
    threshold_off: float = 0.2  # ... of OFF events
    threshold_sigma: float = 0.03  # per-pixel Gaussian mismatch of both thresholds
    cutoff_hz: float = 300.0  # photoreceptor 3 dB bandwidth at full intensity (0 disables the low-pass)
    leak_rate_hz: float = 0.01  # leak (ON) events per pixel per second
    shot_noise_rate_hz: float = 0.001  # shot-noise events per pixel per second (random polarity)
    refractory_us: int = 500  # minimum time between two events of one pixel
    hot_pixel_fraction: float = 1e-5  # fraction of pixels that fire on their own ...
    hot_pixel_rate_hz: float = 50.0  # ... at this rate
    linlog_knee: float = 20.0  # intensity (0-255 scale) below which the response is linear
    seed: int = 0

    def replace(self, **changes) -> "DVSParams":
        return dataclasses.replace(self, **changes)


def _log_lut(levels: int, knee: float) -> np.ndarray:
    """Log response per intensity level on a 0-255 scale (``levels`` equal steps), linear below ``knee``."""
    v = np.arange(levels, dtype=np.float64) * (256.0 / levels)
    out = np.where(v < knee, v * np.log(knee) / knee, np.log(np.maximum(v, knee)))
    return out.astype(np.float32)


class DVSEmulator:
    """Stateful emulator: ``step(frame, t_us)`` returns the events since the previous frame, sorted by t.

    Events of a step lie in ``[t_prev, t_us)``, so frames at slot boundaries split the stream into slots exactly.

    Frames are grey levels ``[H, W]``: uint8 (0-255), or float on a 0-255 scale (quantized to 1/256).
    The first frame only initialises the state.
    """

    def __init__(self, params: DVSParams | None = None) -> None:
        self.params = p = params or DVSParams()
        if p.threshold_on <= 0 or p.threshold_off <= 0:
            raise ConfigError(f"DVS thresholds must be > 0, got on={p.threshold_on} off={p.threshold_off}")
        n = p.width * p.height
        self._rng = np.random.default_rng(p.seed)
        floor = 0.25 * min(p.threshold_on, p.threshold_off)
        self.thr_on = np.maximum(self._rng.normal(p.threshold_on, p.threshold_sigma, n), floor).astype(np.float32)
        self.thr_off = np.maximum(self._rng.normal(p.threshold_off, p.threshold_sigma, n), floor).astype(np.float32)
        # Leak: the reference drifts down by one ON threshold per 1/leak_rate seconds (rate varies +-10 % per pixel).
        self.leak_per_s = (p.leak_rate_hz * self.thr_on * self._rng.uniform(0.9, 1.1, n)).astype(np.float32)
        n_hot = int(round(p.hot_pixel_fraction * n))
        self.hot_pixels = self._rng.choice(n, size=n_hot, replace=False) if n_hot else np.zeros(0, np.int64)
        self._luts = {8: _log_lut(256, p.linlog_knee), 16: _log_lut(65536, p.linlog_knee)}
        inten = {k: (np.arange(len(v), dtype=np.float64) * (256.0 / len(v)) + 20.0) / 275.0 for k, v in self._luts.items()}
        self._rate = {k: 2 * np.pi * p.cutoff_hz * v for k, v in inten.items()}
        self._eps_cache: dict[tuple[int, int], np.ndarray] = {}
        self.lp = np.zeros(n, np.float32)
        self.ref = np.zeros(n, np.float32)
        self.last_t = np.full(n, -(1 << 60), np.int64)
        self._active = np.zeros(n, np.int64)
        self._prev = np.zeros(n, np.float32)
        self._count = np.zeros(n, np.int32)
        self._t_prev = np.zeros(n, np.int64)
        self._box: tuple[int, int, int, int] | None = None  # region processed since the last full step
        self._t_full = 0  # time of the last full step
        self.t_us: int | None = None

    def reset(self) -> None:
        """Forget the state; the next frame initialises it again."""
        self.t_us = None
        self._box = None
        self.last_t[:] = -(1 << 60)

    def _on_reset(self) -> None:
        """Hook for backends that keep a copy of the state (called after the first frame initialises it)."""

    def _indices(self, frame: np.ndarray) -> tuple[np.ndarray, int]:
        p = self.params
        if frame.shape != (p.height, p.width):
            raise ConfigError(f"frame shape {frame.shape} differs from the sensor's (H, W) = ({p.height}, {p.width})")
        if frame.dtype == np.uint8:
            return frame.reshape(-1), 8
        scaled = np.clip(np.asarray(frame, np.float32) * 256.0, 0, 65535).astype(np.uint16)
        return scaled.reshape(-1), 16

    def _eps(self, bits: int, dt_us: int) -> np.ndarray:
        key = (bits, dt_us)
        if key not in self._eps_cache:
            if len(self._eps_cache) > 64:
                self._eps_cache.clear()
            if self.params.cutoff_hz <= 0:
                eps = np.ones(len(self._luts[bits]), np.float32)
            else:
                eps = (1.0 - np.exp(-self._rate[bits] * dt_us * 1e-6)).astype(np.float32)
            self._eps_cache[key] = eps
        return self._eps_cache[key]

    def step(self, frame: np.ndarray, t_us: int, region: tuple[int, int, int, int] | None = None) -> np.ndarray:
        """Feed the frame seen at ``t_us``; return the events in ``[t_prev, t_us)`` sorted by time.

        ``region = (y0, y1, x0, x1)`` promises that pixels outside it did not change since their last update:
        only the region is processed now; the others catch up (leak included) on the next full step.
        """
        idx, bits = self._indices(frame)
        lut = self._luts[bits]
        t_us = int(t_us)
        p = self.params
        if self.t_us is None:
            self.lp[:] = lut[idx]
            self.ref[:] = self.lp
            if p.leak_rate_hz > 0:  # random leak phase, so leak events of a static scene do not fire in sync
                self.ref -= self._rng.uniform(0.0, 1.0, self.lp.shape[0]).astype(np.float32) * self.thr_on
            self._on_reset()
            self._box, self._t_full = None, t_us
            self.t_us = t_us
            return empty_events()
        dt_us = t_us - self.t_us
        if dt_us <= 0:
            raise ConfigError(f"frame time {t_us} us is not after the previous frame's {self.t_us} us")
        full = (0, p.height, 0, p.width)
        if region is None:
            # Pixels inside the box of the region steps since the last full step were updated at the
            # previous step, the others at the last full step.
            box, inner, t_outer = full, self._box or (0, 0, 0, 0), self._t_full
            self._box, self._t_full = None, t_us
        else:
            y0, y1, x0, x1 = region
            req = (max(0, y0), min(p.height, y1), max(0, x0), min(p.width, x1))
            if self._box is None:
                box, inner, t_outer = req, req, self.t_us
            else:
                # Process the union of this and the earlier regions (a superset is always correct).
                old = self._box
                box = (min(old[0], req[0]), max(old[1], req[1]), min(old[2], req[2]), max(old[3], req[3]))
                inner, t_outer = old, self._t_full
            self._box = box
        out_idx, out_t, out_p = self._threshold_events(idx, bits, box, inner, t_outer, t_us)
        noise_idx, noise_t, noise_p = self._noise(self.t_us, dt_us)
        all_idx = np.concatenate([out_idx, noise_idx])
        all_t = np.concatenate([out_t, noise_t])
        all_p = np.concatenate([out_p, noise_p])
        order = np.argsort(all_t, kind="stable")
        events = np.empty(order.shape[0], EVENT_DTYPE)
        events["t"] = all_t[order]
        sel = all_idx[order]
        events["x"] = sel % p.width
        events["y"] = sel // p.width
        events["p"] = all_p[order]
        self.t_us = t_us
        return events

    def _threshold_events(
        self, idx: np.ndarray, bits: int, box: tuple, inner: tuple, t_outer: int, t_us: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Update the pixels in ``box`` (those in ``inner`` last updated at the previous step, the others at
        ``t_outer``) and return the threshold-crossing events as (flat pixel index, t, p) arrays."""
        p = self.params
        lut = self._luts[bits]
        n_active, total = dvs_kernels.update_pixels(
            idx, p.width, box, inner, self.t_us, t_outer, t_us, lut, self._eps(bits, t_us - self.t_us), self.lp,
            self.ref, self.thr_on, self.thr_off, self.leak_per_s, self._active, self._prev, self._t_prev, self._count,
        )
        out_idx = np.empty(total, np.int64)
        out_t = np.empty(total, np.int64)
        out_p = np.empty(total, np.uint8)
        n = dvs_kernels.emit_events(
            n_active, self._active, self._prev, self._t_prev, self._count, self.lp, self.ref, self.thr_on,
            self.thr_off, self.last_t, t_us, p.refractory_us, out_idx, out_t, out_p,
        )
        return out_idx[:n], out_t[:n], out_p[:n]

    def _noise(self, t_prev: int, dt_us: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Shot noise (random pixels, random polarity) and hot-pixel events in ``[t_prev, t_prev + dt)``."""
        p = self.params
        rng = self._rng
        dt_s = dt_us * 1e-6
        n_pix = p.width * p.height
        n_shot = rng.poisson(p.shot_noise_rate_hz * n_pix * dt_s)
        hot_counts = rng.poisson(p.hot_pixel_rate_hz * dt_s, self.hot_pixels.shape[0])
        idx = np.concatenate([rng.integers(0, n_pix, n_shot), np.repeat(self.hot_pixels, hot_counts)])
        t = t_prev + rng.integers(0, dt_us, idx.shape[0])
        pol = rng.integers(0, 2, idx.shape[0]).astype(np.uint8)
        return idx.astype(np.int64), t.astype(np.int64), pol


def emulate_video(
    source: str | int, params: DVSParams | None = None, fps: float | None = None, max_frames: int | None = None
) -> Iterator[np.ndarray]:
    """Run the emulator on an OpenCV video file or camera index, frame by frame; yields each step's events.

    Frames are converted to grey and resized to the sensor size. Timestamps come from the capture's
    position (``CAP_PROP_POS_MSEC``) when it advances, else from ``fps`` (or the capture's FPS).
    """
    import cv2

    cap = cv2.VideoCapture(source)
    if not cap.isOpened():
        raise EventFormatError(source, "OpenCV cannot open this video file or camera index")
    emu = DVSEmulator(params)
    rate = fps or cap.get(cv2.CAP_PROP_FPS) or 30.0
    size = (emu.params.width, emu.params.height)
    k = 0
    last_t = -1
    try:
        while max_frames is None or k < max_frames:
            ok, frame = cap.read()
            if not ok:
                break
            grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
            if grey.shape[::-1] != size:
                grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
            t = int(round(cap.get(cv2.CAP_PROP_POS_MSEC) * 1000)) if fps is None else 0
            if t <= last_t:
                t = int(round(k * 1e6 / rate))
            t = max(t, last_t + 1)
            last_t = t
            yield emu.step(grey, t)
            k += 1
    finally:
        cap.release()
