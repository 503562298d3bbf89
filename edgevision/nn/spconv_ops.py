"""The same sparse convolutions through spconv 2.3.8: the reference the plain-PyTorch ops are checked against.

Bias-free spconv layers only (spconv's CPU path rejects bias in eval mode); weights are passed per call in the
IR layout ``[out, kh, kw, in]``, which is spconv's own, so autograd reaches the caller's parameters. On a
machine without CUDA, spconv's backward asks torch for a CUDA stream; :func:`ensure_cpu_backward` patches it.
Depthwise convolution has no spconv kernel: it runs as a dense-channel SubMConv2d with a diagonal weight.
spconv 2.3.8's CPU kernels give wrong sums with several torch threads once the thread count has changed in the
process (seen: max error 13.8 on a 60x80 window after set_num_threads(1) then (2)), so every spconv call here
runs on one thread (:func:`_one_thread`). Its backward runs later, inside autograd, where that cannot be
arranged, and is wrong with several threads even on the first call (input gradient off by ~12 on a 60x80 window):
asking for gradients through spconv with more than one torch thread raises instead of returning wrong gradients.
"""

from __future__ import annotations

import contextlib
from functools import lru_cache
from typing import Iterator

import torch

from edgevision.errors import ConfigError
from edgevision.nn.tensor import SparseTensor


def ensure_cpu_backward() -> None:
    """Let spconv's backward run without CUDA (it otherwise calls ``torch.cuda.current_stream()``)."""
    if torch.cuda.is_available():
        return
    from spconv.pytorch import cppcore, ops

    ops.get_current_stream = lambda: 0
    cppcore.get_current_stream = lambda: 0


@contextlib.contextmanager
def _one_thread(*tensors: torch.Tensor) -> Iterator[None]:
    """Run the enclosed spconv kernels on one torch thread, then restore the caller's setting.

    Raises ConfigError when any of ``tensors`` needs a gradient while torch uses several threads."""
    n = torch.get_num_threads()
    if n > 1 and torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        raise ConfigError(
            f"spconv's CPU backward gives wrong gradients with {n} torch threads: call torch.set_num_threads(1) "
            "before training through spconv, or use the plain-PyTorch ops (impl='torch')"
        )
    if n == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def to_spconv(x: SparseTensor):
    """A ``spconv.SparseConvTensor`` with the same features and sites."""
    import spconv.pytorch as spconv

    return spconv.SparseConvTensor(x.feats, x.coords.int().contiguous(), list(x.shape), x.batch_size)


@lru_cache(maxsize=None)
def _module(kind: str, ci: int, co: int, indice_key: str | None = None):
    import spconv.pytorch as spconv

    ensure_cpu_backward()
    if kind == "subm":
        return spconv.SubMConv2d(ci, co, 3, padding=1, bias=False, indice_key=indice_key)
    return spconv.SparseConv2d(ci, co, 2, stride=2, bias=False)


def subm_conv3x3(x, weight: torch.Tensor, indice_key: str | None = None):
    """Submanifold 3x3 conv of a SparseConvTensor, weight [Co, 3, 3, Ci]; returns a SparseConvTensor.

    Layers given the same ``indice_key`` on tensors that share sites reuse spconv's index pairs."""
    m = _module("subm", weight.shape[3], weight.shape[0], indice_key)
    with _one_thread(x.features, weight):
        return m._conv_forward(True, x, weight, None)


def dw_conv3x3(x, weight: torch.Tensor, indice_key: str | None = None):
    """Depthwise submanifold 3x3 conv, weight [C, 3, 3], as SubMConv2d with weight [C, 3, 3, C] diagonal in (o, i)."""
    c = weight.shape[0]
    eye = torch.eye(c, dtype=weight.dtype, device=weight.device)
    full = weight.permute(1, 2, 0)[..., None] * eye  # [3, 3, C, C] diag over (o, i)
    return subm_conv3x3(x, full.permute(2, 0, 1, 3).contiguous(), indice_key)


def strided_conv2x2(x, weight: torch.Tensor):
    """Kernel-2 stride-2 sparse conv, weight [Co, 2, 2, Ci]; output sites re-sorted to (b, y, x) order."""
    m = _module("down", weight.shape[3], weight.shape[0])
    h, w = x.spatial_shape  # spconv floors odd sizes; the IR's grid is ceil(H / 2): pad the shape to even
    even = type(x)(x.features, x.indices, [h + h % 2, w + w % 2], x.batch_size)
    with _one_thread(x.features, weight):
        out = m._conv_forward(True, even, weight, None)
    h, w = out.spatial_shape
    idx = out.indices.long()
    order = torch.argsort((idx[:, 0] * h + idx[:, 1]) * w + idx[:, 2])
    return type(out)(out.features[order], out.indices[order], out.spatial_shape, out.batch_size)


def conv1x1(x, weight: torch.Tensor):
    """Pointwise conv (a plain matmul on the features; spconv has nothing faster)."""
    return x.replace_feature(x.features @ weight.t())
