"""Fast sparse inference: a compiled CPU engine (numba, one call per window) and a batched PyTorch path (CPU/CUDA).

``compile_ir(net)`` -> int8 :class:`Engine`, bit-exact with :mod:`edgevision.quant.reference`;
``compile_float(backbone, (H, W))`` -> float32 :class:`Engine` (BatchNorm folded);
``TorchEngine`` runs the same plans on batches of windows with PyTorch (GPU path).
"""

from edgevision.engine.cpu import Engine, compile_float, compile_ir

__all__ = ["Engine", "compile_float", "compile_ir"]
