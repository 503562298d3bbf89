"""Sparse convolution ops in plain PyTorch (CPU and CUDA, autograd), with the IR's exact semantics.

Every function works on the flat tensors of a :class:`~edgevision.nn.tensor.SparseTensor`: ``feats`` [N, C]
and ``coords`` [N, 3] int32 rows (batch, y, x) sorted by (batch, y, x). Weight layouts and the "no kernel
flip" rule are those of :mod:`edgevision.ir.ops`: ``weight[o, dy + 1, dx + 1, i]`` multiplies the input at
``(y + dy, x + dx)``. Neighbour lookup is one sorted-key ``searchsorted`` per offset, never a loop over sites.
"""

from __future__ import annotations

import torch

from edgevision.ir.ops import OPS

OFFSETS_3X3 = tuple((dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1))  # k = (dy + 1) * 3 + (dx + 1)


def site_keys(coords: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Raster key ``(b * H + y) * W + x`` (int64); increasing for coords sorted by (b, y, x)."""
    h, w = shape
    c = coords.long()
    return (c[:, 0] * h + c[:, 1]) * w + c[:, 2]


def subm_neighbors(coords: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Index of the active neighbour of every site for the 9 offsets of a 3x3 kernel, -1 where inactive.

    Returns a LongTensor [N, 9]; column ``k = (dy + 1) * 3 + (dx + 1)``. Column 4 is the site itself.
    """
    h, w = shape
    n = coords.shape[0]
    keys = site_keys(coords, shape)
    c = coords.long()
    off = torch.tensor(OFFSETS_3X3, dtype=torch.long, device=coords.device)  # [9, 2]
    ny = c[:, 1:2] + off[:, 0]  # [N, 9]
    nx = c[:, 2:3] + off[:, 1]
    inside = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
    qkeys = (c[:, 0:1] * h + ny) * w + nx
    pos = torch.searchsorted(keys, qkeys.reshape(-1)).reshape(n, 9).clamp_(max=max(n - 1, 0))
    found = inside & (keys[pos] == qkeys) if n else inside
    return torch.where(found, pos, torch.full_like(pos, -1))


def _gather_neighbors(feats: torch.Tensor, nbr: torch.Tensor) -> torch.Tensor:
    """[N, 9, C] features of the 9 neighbours (zeros for inactive ones)."""
    padded = torch.cat([feats, feats.new_zeros(1, feats.shape[1])], dim=0)
    idx = torch.where(nbr < 0, torch.full_like(nbr, feats.shape[0]), nbr)
    # index_select's backward is an index_add (fast); advanced indexing's is a sorted index_put
    return padded.index_select(0, idx.reshape(-1)).reshape(nbr.shape[0], 9, feats.shape[1])


def subm_conv3x3(feats: torch.Tensor, nbr: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Submanifold 3x3 convolution, weight [Co, 3, 3, Ci]; output sites = input sites."""
    co = weight.shape[0]
    g = _gather_neighbors(feats, nbr).reshape(feats.shape[0], 9 * feats.shape[1])  # [N, 9 * Ci], k major
    return g @ weight.reshape(co, -1).t()


def dw_conv3x3(feats: torch.Tensor, nbr: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Depthwise submanifold 3x3 convolution, weight [C, 3, 3].

    For training it accumulates tap by tap (nine [N, C] gathers) instead of materializing [N, 9, C] (~3x faster
    forward + backward on CPU); without autograd one [N, 9, C] gather has fewer ops (per-window inference)."""
    n, c = feats.shape
    wk = weight.reshape(c, 9).t()
    if not (torch.is_grad_enabled() and (feats.requires_grad or weight.requires_grad)):
        return (_gather_neighbors(feats, nbr) * wk).sum(dim=1)  # inference: fewest ops
    padded = torch.cat([feats, feats.new_zeros(1, c)], dim=0)
    idx = torch.where(nbr < 0, torch.full_like(nbr, n), nbr)
    out = feats * wk[4]  # the centre tap is the site itself
    for k in (0, 1, 2, 3, 5, 6, 7, 8):
        out = out + padded.index_select(0, idx[:, k]) * wk[k]
    return out


def downsample2x2(
    coords: torch.Tensor, shape: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, tuple[int, int]]:
    """Output sites of a kernel-2 stride-2 conv: ``(out_coords [M, 3], parent [N], offset [N], out_shape)``.

    ``parent[i]`` is the output row of input site i, ``offset[i] = (y % 2) * 2 + (x % 2)`` its kernel tap;
    ``out_coords`` are sorted by (b, y, x) and ``out_shape = (ceil(H / 2), ceil(W / 2))``.
    """
    oh, ow = OPS["conv2x2_s2"].out_grid(*shape)
    c = coords.long()
    okeys = (c[:, 0] * oh + c[:, 1] // 2) * ow + c[:, 2] // 2
    uniq, parent = torch.unique(okeys, sorted=True, return_inverse=True)
    out_coords = torch.stack([uniq // (oh * ow), (uniq // ow) % oh, uniq % ow], dim=1).to(torch.int32)
    offset = (c[:, 1] % 2) * 2 + (c[:, 2] % 2)
    return out_coords, parent, offset, (oh, ow)


def strided_conv2x2(
    feats: torch.Tensor, parent: torch.Tensor, offset: torch.Tensor, n_out: int, weight: torch.Tensor
) -> torch.Tensor:
    """Kernel-2 stride-2 sparse conv, weight [Co, 2, 2, Ci]; each input site feeds exactly one output tap."""
    co, ci = weight.shape[0], weight.shape[3]
    taps = feats.new_zeros(n_out * 4, ci).index_copy(0, parent * 4 + offset, feats)
    return taps.reshape(n_out, 4 * ci) @ weight.reshape(co, -1).t()


def conv1x1(feats: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Pointwise conv, weight [Co, Ci]."""
    return feats @ weight.t()


def grid_cell_sums(
    feats: torch.Tensor, coords: torch.Tensor, shape: tuple[int, int], batch_size: int, grid: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-cell feature sums [B * gh * gw, C] and active-site counts [B * gh * gw] of a (gh, gw) grid.

    Site (y, x) lies in cell (y * gh // H, x * gw // W); cells are ordered (batch, cell_y, cell_x).
    """
    h, w = shape
    gh, gw = grid
    c = coords.long()
    cell = (c[:, 0] * gh + c[:, 1] * gh // h) * gw + c[:, 2] * gw // w
    n_cells = batch_size * gh * gw
    sums = feats.new_zeros(n_cells, feats.shape[1]).index_add(0, cell, feats)
    return sums, torch.bincount(cell, minlength=n_cells)


def grid_pool(
    feats: torch.Tensor,
    coords: torch.Tensor,
    shape: tuple[int, int],
    batch_size: int,
    grid: tuple[int, int] = (1, 1),
) -> torch.Tensor:
    """Mean of the active sites in each cell of a (gh, gw) grid -> [B, gh * gw * C] ordered (cell_y, cell_x, c).

    Site (y, x) lies in cell (y * gh // H, x * gw // W); an empty cell gives zeros.
    """
    sums, counts = grid_cell_sums(feats, coords, shape, batch_size, grid)
    return (sums / counts.to(feats.dtype).clamp_(min=1)[:, None]).reshape(batch_size, -1)
