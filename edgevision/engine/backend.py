"""The engine as an inference backend of the host runtime: ``make_engine_backend(...)`` -> ``EngineBackend``.

An :class:`EngineBackend` maps one window (coords int32 [N, 2] (y, x) raster order, features [N, C]) to the
network's output vector, like every runtime backend: ``backend.run(coords, feats)`` or ``backend(coords, feats)``
(so it also serves as the ``compute`` function of :class:`edgevision.runtime.sim_overlay.SimAccelerator`).
``device="cpu"`` uses the compiled numba engine; any torch device (``"cuda"``) the batched PyTorch path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgevision.engine.cpu import Engine
from edgevision.engine.plan import Plan, plan_from_backbone, plan_from_ir
from edgevision.errors import BackendError
from edgevision.ir.schema import Network, load_ir


class EngineBackend:
    """One window in, one output vector out, on the compiled CPU engine or the PyTorch path."""

    def __init__(self, plan: Plan, device: str = "cpu") -> None:
        self.plan = plan
        self.device = device
        if device == "cpu":
            self._cpu: Engine | None = Engine(plan).warmup()
            self._torch = None
        else:
            import torch

            from edgevision.engine.torch_path import TorchEngine

            try:
                dev = torch.device(device)
                torch.empty(1, device=dev)
            except (RuntimeError, AssertionError) as exc:
                raise BackendError(f"engine backend: torch device {device!r} is unavailable ({exc}); use device='cpu'") from None
            self._cpu = None
            self._torch = TorchEngine(plan, dev)
        self.name = f"engine-{device}"

    def run(self, coords: np.ndarray, feats: np.ndarray) -> np.ndarray:
        """Output vector of one window (float32, int8, or int32 logits)."""
        if self._cpu is not None:
            return self._cpu.run(coords, feats)

        from edgevision.nn.tensor import SparseTensor

        x = SparseTensor.from_windows([(coords, feats)], (self.plan.height, self.plan.width))
        return self._torch.run(x)[0].cpu().numpy()

    __call__ = run

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "mode": self.plan.mode, "network": self.plan.name,
                "input": [self.plan.height, self.plan.width, self.plan.channels]}


def make_engine_backend(source: Network | str | Path | Any, device: str = "cpu",
                        shape: tuple[int, int] | None = None) -> EngineBackend:
    """A backend for an IR (a :class:`Network` or an IR directory: int8, bit-exact) or a float
    :class:`~edgevision.nn.backbone.SparseBackbone` (needs the input grid ``shape`` (H, W))."""
    if isinstance(source, (str, Path)):
        source = load_ir(source)
    if isinstance(source, Network):
        return EngineBackend(plan_from_ir(source), device)
    if not hasattr(source, "nodes"):
        raise BackendError(f"engine backend: expected an IR network, an IR directory or a SparseBackbone, got {type(source).__name__}")
    if shape is None:
        raise BackendError("engine backend: a float backbone needs the input grid shape (H, W)")
    return EngineBackend(plan_from_backbone(source, int(shape[0]), int(shape[1])), device)
