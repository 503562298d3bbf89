"""Compiled per-pixel loops of the DVS emulator (numba): one fused pass over the updated pixels, a second
over the pixels that crossed a threshold."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _update_span(
    frame, i0, i1, t_prev, dt_s, log_lut, eps_lut, lp, ref, thr_on, thr_off, leak_per_s, active, prev_out,
    t_prev_out, count_out, n_active, total,
):
    # Unsigned indices let numba drop the negative-index wraparound checks (2x faster on this loop).
    for i in range(np.uint64(i0), np.uint64(i1)):
        level = frame[i]
        prev = lp[i]
        new = prev + eps_lut[level] * (log_lut[level] - prev)
        lp[i] = new
        r = ref[i] - leak_per_s[i] * dt_s
        ref[i] = r
        d = new - r
        k = 0
        if d >= thr_on[i]:
            k = int(d / thr_on[i])
        elif -d >= thr_off[i]:
            k = -int(-d / thr_off[i])
        if k != 0:
            active[n_active] = i
            prev_out[n_active] = prev
            t_prev_out[n_active] = t_prev
            count_out[n_active] = k
            n_active += 1
            total += abs(k)
    return n_active, total


@numba.njit(cache=True, nogil=True)
def update_pixels(
    frame, width, box, inner, t_inner, t_outer, t_now, log_lut, eps_lut, lp, ref, thr_on, thr_off, leak_per_s,
    active, prev_out, t_prev_out, count_out,
):
    """Advance photoreceptor ``lp`` and the leak-drifted ``ref`` of the pixels in ``box`` = (y0, y1, x0, x1).

    Pixels inside ``inner`` were last updated at ``t_inner``, the others at ``t_outer``. ``frame`` (flat)
    holds LUT indices; ``eps_lut`` is the low-pass step per intensity for this frame's dt (1 = no filter).
    Lists the pixels whose change crosses a threshold. Returns (number of active pixels, total crossings).
    """
    y0, y1, x0, x1 = box
    iy0, iy1, ix0, ix1 = inner
    dt_inner = np.float32((t_now - t_inner) * 1e-6)
    dt_outer = np.float32((t_now - t_outer) * 1e-6)
    n_active = 0
    total = 0
    args = (log_lut, eps_lut, lp, ref, thr_on, thr_off, leak_per_s, active, prev_out, t_prev_out, count_out)
    uniform = (iy0, iy1, ix0, ix1) == (y0, y1, x0, x1)
    if uniform or iy1 <= iy0 or ix1 <= ix0:
        # every pixel of the box shares one last-update time
        tp, dts = (t_inner, dt_inner) if uniform else (t_outer, dt_outer)
        if x0 == 0 and x1 == width:
            return _update_span(frame, y0 * width, y1 * width, tp, dts, *args, n_active, total)
        for y in range(y0, y1):
            n_active, total = _update_span(frame, y * width + x0, y * width + x1, tp, dts, *args, n_active, total)
        return n_active, total
    a, b = max(x0, ix0), min(x1, ix1)
    for y in range(y0, y1):
        row = y * width
        if iy0 <= y < iy1 and a < b:
            n_active, total = _update_span(frame, row + x0, row + a, t_outer, dt_outer, *args, n_active, total)
            n_active, total = _update_span(frame, row + a, row + b, t_inner, dt_inner, *args, n_active, total)
            n_active, total = _update_span(frame, row + b, row + x1, t_outer, dt_outer, *args, n_active, total)
        else:
            n_active, total = _update_span(frame, row + x0, row + x1, t_outer, dt_outer, *args, n_active, total)
    return n_active, total


@numba.njit(cache=True, nogil=True)
def emit_events(
    n_active, active, prev_in, t_prev_in, count_in, lp, ref, thr_on, thr_off, last_t, t_now, refractory_us,
    out_idx, out_t, out_p,
):
    """Emit one event per threshold crossing with a timestamp interpolated linearly in [t_prev, t_now),
    honouring the refractory period. Crossings inside the refractory period are dropped, but the reference
    still moves past them. Returns the number of events written to ``out_*``.
    """
    n = 0
    for a in range(n_active):
        i = active[a]
        k = count_in[a]
        prev = prev_in[a]
        t_prev = t_prev_in[a]
        dt_us = t_now - t_prev
        new = lp[i]
        r = ref[i]
        sign = 1 if k > 0 else -1
        thr = thr_on[i] if k > 0 else thr_off[i]
        span = new - prev
        for j in range(1, abs(k) + 1):
            level = r + sign * j * thr
            f = 1.0
            if span != 0.0:
                f = (level - prev) / span
                if f < 0.0:
                    f = 0.0
                elif f > 1.0:
                    f = 1.0
            t = t_prev + min(np.int64(f * dt_us + 0.5), dt_us - 1)
            if t - last_t[i] >= refractory_us:
                out_idx[n] = i
                out_t[n] = t
                out_p[n] = 1 if k > 0 else 0
                last_t[i] = t
                n += 1
        ref[i] = r + sign * abs(k) * thr
    return n
