"""Dyadic requantization, the one rounding rule of :mod:`edgevision.ir.ops`, in int64 NumPy.

``requant(acc, M, S, lo, hi) = clip((acc * M + (1 << (S - 1))) >> S, lo, hi)``: the arithmetic right shift is a
floor division by ``2**S``, so adding half of ``2**S`` first rounds half up (towards +inf), also for negatives
(-2.5 -> -2). ``np.round``/``torch.round`` round half to even and must not be used on this path.
"""

from __future__ import annotations

import numpy as np

MULT_LIMIT = 1 << 31  # multipliers are int32: M < 2**31
MAX_SHIFT = 62  # (acc * M + 2**(S-1)) stays inside int64 for int32 accumulators


def requantize(acc: np.ndarray, mult: np.ndarray | int, shift: int, lo: int, hi: int) -> np.ndarray:
    """``clip((acc * mult + (1 << (shift - 1))) >> shift, lo, hi)`` in int64; ``mult`` broadcasts on the last axis."""
    if shift < 1:
        raise ValueError(f"shift must be >= 1, got {shift}")
    acc = np.asarray(acc, dtype=np.int64)
    prod = acc * np.asarray(mult, dtype=np.int64) + np.int64(1 << (shift - 1))
    return np.clip(prod >> np.int64(shift), lo, hi)


def pool_average(sums: np.ndarray, counts: np.ndarray, mult: np.ndarray, shift: int, lo: int, hi: int) -> np.ndarray:
    """Requantized mean of ``counts`` values per row: ``floor((sum * M + ((n << S) >> 1)) / (n << S))``, clipped.

    ``sums`` [..., C] int, ``counts`` [...] int (0 for an empty cell gives 0), ``mult`` [C].
    """
    sums = np.asarray(sums, dtype=np.int64)
    n = np.asarray(counts, dtype=np.int64)[..., None]
    den = np.maximum(n, 1) << np.int64(shift)
    q = (sums * np.asarray(mult, dtype=np.int64) + (den >> 1)) // den
    return np.where(n > 0, np.clip(q, lo, hi), 0)


def round_half_up(x: np.ndarray) -> np.ndarray:
    """Round to the nearest integer, ties towards +inf (the rule of the requantizer), as int64."""
    return np.floor(np.asarray(x, dtype=np.float64) + 0.5).astype(np.int64)


def quantize_multiplier(real_scale: np.ndarray | float, max_shift: int = MAX_SHIFT) -> tuple[np.ndarray, int]:
    """Dyadic decomposition ``real_scale ~= M / 2**S`` with int32 ``M`` per channel and one shift ``S >= 1``.

    ``S`` is the largest shift (at most ``max_shift``) for which every channel's ``M = round_half_up(r * 2**S)``
    stays below ``2**31``, so the channel with the largest scale keeps 31 significant bits.
    Raises ValueError for negative scales or a scale too large for ``S = 1``.
    """
    r = np.atleast_1d(np.asarray(real_scale, dtype=np.float64))
    if np.any(r < 0) or not np.all(np.isfinite(r)):
        raise ValueError(f"requantization scales must be finite and >= 0, got min {r.min()}")
    top = float(r.max()) if r.size else 0.0
    if top == 0.0:
        return np.zeros(r.shape, np.int32), max_shift
    shift = int(np.floor(np.log2((MULT_LIMIT - 0.5) / top)))
    shift = min(shift, max_shift)
    while shift >= 1 and round_half_up(top * 2.0**shift) >= MULT_LIMIT:
        shift -= 1
    if shift < 1:
        raise ValueError(f"requantization scale {top:.4g} is too large for an int32 multiplier with shift >= 1")
    return round_half_up(r * 2.0**shift).astype(np.int32), shift
