"""Site geometry and input of one window (no batch dimension) in one numba call: O(N) loops, no dense clears.

Used by :class:`edgevision.nn.infer.WindowBackbone`; the feature arithmetic stays in PyTorch. A real-time loop
wakes with cold caches, where every call and every cleared kilobyte costs microseconds: so one call builds
everything, the site lookup grid is left uninitialised (an entry counts only when the site it names has the
coordinates looked up), and downsampled sites are found by a bitmap scan instead of a pass over the grid.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import trailing_zeros


@njit(cache=True, nogil=True)
def _neighbours(y, x, m, w, grid, out):  # pragma: no cover
    """``out`` [(m + 1) * 9]: the row of the active neighbour at each 3x3 offset (k = (dy + 1) * 3 + dx + 1), m
    (the padding row) where inactive or outside the grid; the padding row's own entries are m as well."""
    wp = w + 2
    for i in range(m):
        grid[(y[i] + 1) * wp + x[i] + 1] = i
    for i in range(m):
        for k in range(9):
            dy, dx = k // 3 - 1, k % 3 - 1
            j = np.int64(grid[(y[i] + 1 + dy) * wp + x[i] + 1 + dx])
            ok = j >= 0 and j < m and y[j] == y[i] + dy and x[j] == x[i] + dx
            out[i * 9 + k] = j if ok else m
    out[m * 9 : (m + 1) * 9] = m


@njit(cache=True, nogil=True)
def _downsample(y, x, m, h, w, grid, out):  # pragma: no cover
    """2x2 stride 2: the output sites (oy, ox) in raster order on the ceil(H/2) x ceil(W/2) grid, and ``out``
    [(M + 1) * 5]: per output site the input rows of its taps (y % 2) * 2 + x % 2 (m, the zero row, where
    absent), fifth one active input (it carries the bias); the padding output row reads the zero row only."""
    ow = (w + 1) // 2
    cells = ((h + 1) // 2) * ow
    bits = np.zeros((cells + 63) >> 6, np.uint64)
    for i in range(m):
        c = (y[i] >> 1) * ow + (x[i] >> 1)
        bits[c >> 6] |= np.uint64(1) << np.uint64(c & 63)
    count = 0
    for word in bits:
        while word != 0:
            count += 1
            word &= word - np.uint64(1)
    oy = np.empty(count, np.int64)
    ox = np.empty(count, np.int64)
    k = 0
    for b in range(bits.shape[0]):
        word = bits[b]
        while word != 0:
            c = (b << 6) + np.int64(trailing_zeros(word))
            word &= word - np.uint64(1)
            grid[c] = k  # cell -> output row
            oy[k], ox[k] = c // ow, c % ow
            k += 1
    out[: (count + 1) * 5] = m
    for i in range(m):
        j = np.int64(grid[(y[i] >> 1) * ow + (x[i] >> 1)])
        out[j * 5 + (y[i] & 1) * 2 + (x[i] & 1)] = i
        out[j * 5 + 4] = i
    return oy, ox


@njit(cache=True, nogil=True)
def pool_weights(y: np.ndarray, x: np.ndarray, h: int, w: int, gh: int, gw: int) -> np.ndarray:
    """[gh * gw, N + 1] float32: 1 / (sites in the cell) where site i lies in the cell (y * gh // H, x * gw // W);
    column N (the padding row of the features) is zero."""
    n = y.shape[0]
    cell = np.empty(n, np.int64)
    counts = np.zeros(gh * gw, np.int64)
    for i in range(n):
        cell[i] = (y[i] * gh // h) * gw + x[i] * gw // w
        counts[cell[i]] += 1
    out = np.zeros((gh * gw, n + 1), np.float32)
    for i in range(n):
        out[cell[i], i] = np.float32(1.0) / np.float32(counts[cell[i]])
    return out


@njit(cache=True, nogil=True)
def window_inputs(coords: np.ndarray, feats: np.ndarray, clip: float, h: int, w: int, levels: int, gh: int, gw: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Everything :class:`~edgevision.nn.infer.WindowBackbone` needs besides its weights.

    ``coords`` [N, 2] (y, x) in raster order on an (H, W) grid, ``feats`` [N, C]. Returns:

    * ``x0`` [N + 1, C + 1] float32: ``min(feats, clip)``, a ones column, and a zero padding row N;
    * ``index`` int64 holding ``2 * levels - 1`` tables, table t in ``index[bounds[t]:bounds[t + 1]]``:
      table 2r is level r's neighbour table (N_r sites, [(N_r + 1) * 9]), table 2r + 1 the 2x2 tap table from
      level r into level r + 1 ([(N_r+1 + 1) * 5]);
    * ``bounds`` [2 * levels];
    * the last level's :func:`pool_weights`.
    """
    n, c = feats.shape
    x0 = np.empty((n + 1, c + 1), np.float32)
    for i in range(n):
        for j in range(c):
            x0[i, j] = min(feats[i, j], clip)
        x0[i, c] = 1.0
    x0[n] = 0.0
    y = coords[:, 0].astype(np.int64)
    x = coords[:, 1].astype(np.int64)
    index = np.empty(levels * (n + 1) * 14, np.int64)  # a level never has more sites than the one before
    bounds = np.zeros(2 * levels, np.int64)
    grid = np.empty((h + 2) * (w + 2), np.int32)  # uninitialised on purpose (see _neighbours)
    pos = 0
    for r in range(levels):
        m = y.shape[0]
        _neighbours(y, x, m, w, grid, index[pos:])
        pos += (m + 1) * 9
        bounds[2 * r + 1] = pos
        if r + 1 < levels:
            y, x = _downsample(y, x, m, h, w, grid, index[pos:])
            pos += (y.shape[0] + 1) * 5
            bounds[2 * r + 2] = pos
            h, w = (h + 1) // 2, (w + 1) // 2
    return x0, index, bounds, pool_weights(y, x, h, w, gh, gw)
