"""Site geometry of one window (no batch dimension) as small numba kernels: O(N) loops over a padded dense grid.

Used by :class:`edgevision.nn.infer.WindowBackbone`; the feature arithmetic stays in PyTorch. Sites are rows
(y, x) int64 in raster order on an (H, W) grid; every kernel allocates its own outputs (thread-safe).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def neighbour_table(y: np.ndarray, x: np.ndarray, h: int, w: int) -> np.ndarray:
    """[N * 9] row of the active neighbour at each 3x3 offset (k = (dy + 1) * 3 + dx + 1), N where inactive."""
    n = y.shape[0]
    wp = w + 2
    grid = np.full((h + 2) * wp, n, np.int64)  # one cell of padding: no bounds checks
    for i in range(n):
        grid[(y[i] + 1) * wp + x[i] + 1] = i
    out = np.empty(n * 9, np.int64)
    for i in range(n):
        base = (y[i] + 1) * wp + x[i] + 1
        k = i * 9
        for dy in range(-1, 2):
            for dx in range(-1, 2):
                out[k] = grid[base + dy * wp + dx]
                k += 1
    return out


@njit(cache=True, nogil=True)
def downsample(y: np.ndarray, x: np.ndarray, h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """2x2 stride-2 output sites ``(oy, ox)`` in raster order on the ceil(H/2) x ceil(W/2) grid, and ``taps`` [N]:
    ``output row * 4 + (y % 2) * 2 + x % 2`` (each input site feeds exactly one tap of one output site)."""
    n = y.shape[0]
    ow = (w + 1) // 2
    cells = ((h + 1) // 2) * ow
    row = np.full(cells, -1, np.int64)
    for i in range(n):
        row[(y[i] >> 1) * ow + (x[i] >> 1)] = 0
    m = 0
    for c in range(cells):
        if row[c] == 0:
            row[c] = m
            m += 1
    oy = np.empty(m, np.int64)
    ox = np.empty(m, np.int64)
    for c in range(cells):
        if row[c] >= 0:
            oy[row[c]] = c // ow
            ox[row[c]] = c % ow
    taps = np.empty(n, np.int64)
    for i in range(n):
        taps[i] = row[(y[i] >> 1) * ow + (x[i] >> 1)] * 4 + (y[i] & 1) * 2 + (x[i] & 1)
    return oy, ox, taps


@njit(cache=True, nogil=True)
def pool_weights(y: np.ndarray, x: np.ndarray, h: int, w: int, gh: int, gw: int) -> np.ndarray:
    """[gh * gw, N] float32: 1 / (sites in the cell) where site i lies in the cell (y * gh // H, x * gw // W)."""
    n = y.shape[0]
    cell = np.empty(n, np.int64)
    counts = np.zeros(gh * gw, np.int64)
    for i in range(n):
        cell[i] = (y[i] * gh // h) * gw + x[i] * gw // w
        counts[cell[i]] += 1
    out = np.zeros((gh * gw, n), np.float32)
    for i in range(n):
        out[cell[i], i] = np.float32(1.0) / np.float32(counts[cell[i]])
    return out


@njit(cache=True, nogil=True)
def pyramid(y: np.ndarray, x: np.ndarray, h: int, w: int, levels: int, gh: int, gw: int
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The geometry of all ``levels`` resolutions (each the 2x2 stride-2 downsampling of the previous) in one call
    (one dispatch: numba's per-call cost dominates when the loop thread wakes up with cold caches).

    Returns ``nbr`` [levels, N * 9] (level r's table in its first ``sizes[r] * 9`` entries), ``taps``
    [levels, N] (level r -> r + 1, first ``sizes[r]`` entries), ``sizes`` [levels] and the last level's
    ``pool_weights`` for a (gh, gw) grid.
    """
    n = y.shape[0]
    nbr = np.empty((levels, n * 9), np.int64)
    taps = np.empty((levels, n), np.int64)
    sizes = np.empty(levels, np.int64)
    for r in range(levels):
        m = y.shape[0]
        sizes[r] = m
        nbr[r, : m * 9] = neighbour_table(y, x, h, w)
        if r + 1 < levels:
            oy, ox, t = downsample(y, x, h, w)
            taps[r, :m] = t
            y, x = oy, ox
            h, w = (h + 1) // 2, (w + 1) // 2
    return nbr, taps, sizes, pool_weights(y, x, h, w, gh, gw)
