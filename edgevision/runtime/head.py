"""The host side of the eye tracker: one GRU step + linear head per window (float32), one numba call.

Same arithmetic as :meth:`edgevision.nn.eye_model.EyeTracker.head_step` (PyTorch's GRU, gate order r, z, n;
equal up to float rounding), without torch's per-call overhead; on a board it is what runs on the ARM host next
to the accelerator. One compiled call per window, without BLAS: the loop thread wakes with cold caches, where
each NumPy dispatch costs several microseconds and a BLAS call pulls in a library's code (interleaved cold
A/B in one process, 400 windows each: BLAS matvecs 194 / 294 us p50 / p99, these loops 168 / 275 us).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numba import njit

from edgevision.ir.head import load_head_arrays


@njit(cache=True, nogil=True)
def _affine(v: np.ndarray, m_t: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``M v + b`` as axpy loops over the transposed matrix ``m_t`` (contiguous rows, vectorized; zero entries
    of ``v`` skipped), no BLAS call."""
    out = b.copy()
    for j in range(v.shape[0]):
        vj = v[j]
        if vj != 0:
            for i in range(out.shape[0]):
                out[i] += vj * m_t[j, i]
    return out


@njit(cache=True, nogil=True)
def _gru_head_step(f: np.ndarray, h: np.ndarray, gh: np.ndarray, w_ih_t: np.ndarray, b_ih: np.ndarray,
                   w_out: np.ndarray, b_out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(out, new h) given the recurrent term ``gh``; sigmoid as ``0.5 * (1 + tanh(0.5 x))`` (overflow-free)."""
    hid = h.shape[0]
    gi = _affine(f, w_ih_t, b_ih)
    new = np.empty(hid, np.float32)
    half, one = np.float32(0.5), np.float32(1.0)
    for j in range(hid):
        r = half * (one + np.tanh(half * (gi[j] + gh[j])))
        z = half * (one + np.tanh(half * (gi[hid + j] + gh[hid + j])))
        n = np.tanh(gi[2 * hid + j] + r * gh[2 * hid + j])
        new[j] = (one - z) * n + z * h[j]
    out = b_out.copy()
    for i in range(out.shape[0]):
        for j in range(hid):
            out[i] += w_out[i, j] * new[j]
    return out, new


class GRUHead:
    """``step(features [F], h [H] | None) -> (out [3] = x, y normalized + closed logit, new h)``."""

    def __init__(self, w_ih: np.ndarray, w_hh: np.ndarray, b_ih: np.ndarray, b_hh: np.ndarray,
                 w_out: np.ndarray, b_out: np.ndarray) -> None:
        f = lambda a: np.ascontiguousarray(a, np.float32)  # noqa: E731
        self.w_ih_t, self.w_hh_t, self.b_ih, self.b_hh = f(w_ih.T), f(w_hh.T), f(b_ih), f(b_hh)
        self.w_out, self.b_out = f(w_out), f(b_out)
        self.hidden = w_hh.shape[1]

    @classmethod
    def from_model(cls, model: Any) -> "GRUHead":
        """Copy the GRU (one layer, unidirectional) and head weights of an ``EyeTracker``."""
        gru, head = model.gru, model.head
        if gru.num_layers != 1 or gru.bidirectional:
            raise ValueError("GRUHead supports a single-layer unidirectional GRU")
        f = lambda t: t.detach().cpu().numpy()  # noqa: E731
        return cls(f(gru.weight_ih_l0), f(gru.weight_hh_l0), f(gru.bias_ih_l0), f(gru.bias_hh_l0),
                   f(head.weight), f(head.bias))

    def recurrent(self, h: np.ndarray | None) -> np.ndarray:
        """``W_hh h + b_hh``, the part of the next step that depends only on the state: a loop computes it after
        one window's output, while it waits for the next window, and hands it to :meth:`step`."""
        if h is None:
            return self.b_hh.copy()
        return _affine(np.ascontiguousarray(h, np.float32), self.w_hh_t, self.b_hh)

    def step(self, features: np.ndarray, h: np.ndarray | None, gh: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
        """(out, new h); ``gh`` = :meth:`recurrent` of ``h`` when computed ahead."""
        if gh is None:
            gh = self.recurrent(h)
        h = np.zeros(self.hidden, np.float32) if h is None else np.ascontiguousarray(h, np.float32)
        return _gru_head_step(np.ascontiguousarray(features, np.float32), h, gh, self.w_ih_t, self.b_ih,
                              self.w_out, self.b_out)


def load_head(directory: str | Path) -> GRUHead:
    """The GRU head saved in an IR folder (:mod:`edgevision.ir.head`), NumPy only."""
    return GRUHead(*load_head_arrays(directory).values())
