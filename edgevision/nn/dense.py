"""The backbone run densely with ``torch.nn.functional.conv2d`` and an activity mask (the dense baseline).

Same weights and results as the sparse path: every layer convolves the zero-filled grid and re-applies the
active-site mask, so submanifold layers do not dilate and BatchNorm/bias do not leak into inactive sites.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from edgevision.nn.backbone import SparseBackbone
from edgevision.nn.layers import AddNode, ConvNode, PoolNode
from edgevision.nn.tensor import SparseTensor


def to_dense(x: SparseTensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(features [B, C, H, W], mask [B, 1, H, W]) of a sparse tensor."""
    h, w = x.shape
    b, c = x.batch_size, x.feats.shape[1]
    grid = x.feats.new_zeros(b, c, h, w)
    mask = x.feats.new_zeros(b, 1, h, w)
    i = x.coords.long()
    grid[i[:, 0], :, i[:, 1], i[:, 2]] = x.feats
    mask[i[:, 0], 0, i[:, 1], i[:, 2]] = 1.0
    return grid, mask


class DenseBackbone(nn.Module):
    """Dense, masked execution of a :class:`SparseBackbone` (shares its modules; eval-mode BatchNorm)."""

    def __init__(self, sparse: SparseBackbone) -> None:
        super().__init__()
        self.sparse = sparse

    def forward(self, grid: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        acts = {"input": (grid, mask)}
        for node in self.sparse.nodes:
            xs = [acts[n] for n in node.inputs]
            if isinstance(node, ConvNode):
                acts[node.name] = self._conv(node, *xs[0])
            elif isinstance(node, AddNode):
                (a, m), (b, _) = xs
                acts[node.name] = (node.act(a + b), m)
            elif isinstance(node, PoolNode):
                return self._pool(node, *xs[0])
        raise ValueError("backbone has no pool node")

    @staticmethod
    def _conv(node: ConvNode, x: torch.Tensor, m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        wt = node.weight
        if node.op == "conv3x3_subm":
            y = F.conv2d(x, wt.permute(0, 3, 1, 2), padding=1)
        elif node.op == "dwconv3x3_subm":
            y = F.conv2d(x, wt[:, None], padding=1, groups=wt.shape[0])
        elif node.op == "conv1x1":
            y = F.conv2d(x, wt[:, :, None, None])
        else:
            pad = (0, x.shape[3] % 2, 0, x.shape[2] % 2)
            y = F.conv2d(F.pad(x, pad), wt.permute(0, 3, 1, 2), stride=2)
            m = F.max_pool2d(F.pad(m, pad), 2)
        bn = node.bn
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        y = (y - bn.running_mean[:, None, None]) * scale[:, None, None] + bn.bias[:, None, None]
        return node.act(y) * m, m

    @staticmethod
    def _pool(node: PoolNode, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        gh, gw = node.grid
        ay = F.one_hot(torch.arange(h, device=x.device) * gh // h, gh).to(x.dtype)  # [H, gh]
        ax = F.one_hot(torch.arange(w, device=x.device) * gw // w, gw).to(x.dtype)  # [W, gw]
        sums = torch.einsum("bchw,hg,wk->bgkc", x, ay, ax)
        counts = torch.einsum("bhw,hg,wk->bgk", m[:, 0], ay, ax).clamp(min=1)
        return (sums / counts[..., None]).reshape(b, gh * gw * c)
