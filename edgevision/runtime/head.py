"""The host side of the eye tracker in NumPy: one GRU step + linear head per window (float32).

Same arithmetic as :meth:`edgevision.nn.eye_model.EyeTracker.head_step` (PyTorch's GRU, gate order r, z, n),
without torch's per-call overhead (about 20 us instead of ~0.3 ms per window on one core); on a board it is
what runs on the ARM host next to the accelerator.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free logistic


class GRUHead:
    """``step(features [F], h [H] | None) -> (out [3] = x, y normalized + closed logit, new h)``."""

    def __init__(self, w_ih: np.ndarray, w_hh: np.ndarray, b_ih: np.ndarray, b_hh: np.ndarray,
                 w_out: np.ndarray, b_out: np.ndarray) -> None:
        self.w_ih, self.w_hh, self.b_ih, self.b_hh = w_ih, w_hh, b_ih, b_hh
        self.w_out, self.b_out = w_out, b_out
        self.hidden = w_hh.shape[1]

    @classmethod
    def from_model(cls, model: Any) -> "GRUHead":
        """Copy the GRU (one layer, unidirectional) and head weights of an ``EyeTracker``."""
        gru, head = model.gru, model.head
        if gru.num_layers != 1 or gru.bidirectional:
            raise ValueError("GRUHead supports a single-layer unidirectional GRU")
        f = lambda t: np.ascontiguousarray(t.detach().cpu().numpy(), np.float32)  # noqa: E731
        return cls(f(gru.weight_ih_l0), f(gru.weight_hh_l0), f(gru.bias_ih_l0), f(gru.bias_hh_l0),
                   f(head.weight), f(head.bias))

    def step(self, features: np.ndarray, h: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        if h is None:
            h = np.zeros(self.hidden, np.float32)
        gi = self.w_ih @ features.astype(np.float32, copy=False) + self.b_ih
        gh = self.w_hh @ h + self.b_hh
        H = self.hidden
        r = _sigmoid(gi[:H] + gh[:H])
        z = _sigmoid(gi[H : 2 * H] + gh[H : 2 * H])
        n = np.tanh(gi[2 * H :] + r * gh[2 * H :])
        h = (1.0 - z) * n + z * h
        return self.w_out @ h + self.b_out, h
