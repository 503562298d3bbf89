"""EVT 3.0 encoder (compiled with numba) that every EVT3 reader decodes to the same times.

faery 0.7.1's encoder steps EVT_TIME_HIGH by up to 1024 at a time while its decoder (and Metavision's)
counts a 24-bit wrap only when TIME_HIGH goes 4095 -> 0, so any gap across a wrap was read back shorter
(t = 2^24 came back as 12,582,912). This encoder writes what the sensor writes: every TIME_HIGH value in
turn (2 bytes per 4096 us of the time span), an EVT_TIME_LOW when the time changes, an EVT_ADDR_Y when y
changes and one EVT_ADDR_X (x, polarity) per event. No vectors (a few bytes more per event than the
vectorised form; every reader handles these words).

Header: ``% evt 3.0``, ``% format EVT3;width=W;height=H``, ``% geometry WxH``, ``% t0 T`` when the times
are encoded relative to a base (see :mod:`.limits`), ``% end``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numba import njit

_CHUNK = 1 << 20


@njit(cache=True, nogil=True)
def _encode(t, x, y, p, state, out):  # pragma: no cover - compiled
    """Encode relative times ``t`` (int64, sorted, >= 0) into ``out``; ``state`` = [next msb, last t, last y, started].

    Returns the number of words written. ``out`` must hold 3 words per event plus the TIME_HIGH words.
    """
    k = 0
    next_msb = state[0]
    last_t = state[1]
    last_y = state[2]
    started = state[3]
    for i in range(t.shape[0]):
        ti = t[i]
        msb = ti >> 12
        while next_msb <= msb:
            out[k] = 0x8000 | (next_msb & 0xFFF)
            k += 1
            next_msb += 1
        if started == 0 or ti != last_t:
            out[k] = 0x6000 | (ti & 0xFFF)
            k += 1
            last_t = ti
        yi = np.int64(y[i])
        if started == 0 or yi != last_y:
            out[k] = yi & 0x7FF
            k += 1
            last_y = yi
        started = 1
        out[k] = 0x2000 | (np.int64(p[i]) << 11) | (np.int64(x[i]) & 0x7FF)
        k += 1
    state[0] = next_msb
    state[1] = last_t
    state[2] = last_y
    state[3] = started
    return k


def write_evt3(path: Path, events: np.ndarray, sensor: tuple[int, int], base: int) -> None:
    """Write ``events`` (valid, sorted, within :data:`.limits.LIMITS` ``["evt3"]``) with times minus ``base``."""
    w, h = int(sensor[0]), int(sensor[1])
    header = f"% evt 3.0\n% format EVT3;width={w};height={h}\n% geometry {w}x{h}\n"
    if base:
        header += f"% t0 {base}\n"
    header += "% end\n"
    state = np.zeros(4, np.int64)
    with open(path, "wb") as fh:
        fh.write(header.encode("ascii"))
        for start in range(0, events.shape[0], _CHUNK):
            chunk = events[start : start + _CHUNK]
            t = chunk["t"] - np.int64(base)
            highs = int(t[-1] >> 12) + 1 - int(state[0])
            out = np.empty(3 * chunk.shape[0] + max(highs, 0), np.uint16)
            n = _encode(t, chunk["x"], chunk["y"], chunk["p"], state, out)
            fh.write(out[:n].astype("<u2", copy=False).tobytes())
