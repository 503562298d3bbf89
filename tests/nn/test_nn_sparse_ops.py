"""Plain-PyTorch sparse ops against dense torch convolutions on zero-filled grids (the IR semantics)."""

import torch
import torch.nn.functional as F

from edgevision.nn import sparse_ops as so


def random_sites(b, h, w, density, seed=0):
    g = torch.Generator().manual_seed(seed)
    mask = torch.rand(b, h, w, generator=g) < density
    return mask.nonzero().int().contiguous(), mask


def dense(feats, coords, b, h, w):
    out = torch.zeros(b, feats.shape[1], h, w, dtype=feats.dtype)
    c = coords.long()
    out[c[:, 0], :, c[:, 1], c[:, 2]] = feats
    return out


def at_sites(grid, coords):
    c = coords.long()
    return grid[c[:, 0], :, c[:, 1], c[:, 2]]


def test_neighbors_hand_case():
    coords = torch.tensor([[0, 0, 0], [0, 0, 1], [0, 1, 1], [1, 0, 0]], dtype=torch.int32)
    nbr = so.subm_neighbors(coords, (2, 2))
    assert nbr.shape == (4, 9) and nbr.dtype == torch.long
    assert nbr[:, 4].tolist() == [0, 1, 2, 3]  # centre is the site itself
    assert nbr[0].tolist() == [-1, -1, -1, -1, 0, 1, -1, -1, 2]  # (0,0): right (0,1), down-right (1,1)
    assert nbr[2].tolist() == [0, 1, -1, -1, 2, -1, -1, -1, -1]  # (1,1): up-left (0,0), up (0,1)
    assert nbr[3].tolist() == [-1, -1, -1, -1, 3, -1, -1, -1, -1]  # other batch: isolated


def test_subm_conv_matches_dense_conv_at_active_sites():
    b, h, w, ci, co = 2, 11, 13, 3, 5
    coords, _ = random_sites(b, h, w, 0.3)
    feats = torch.randn(coords.shape[0], ci, dtype=torch.float64)
    weight = torch.randn(co, 3, 3, ci, dtype=torch.float64)
    out = so.subm_conv3x3(feats, so.subm_neighbors(coords, (h, w)), weight)
    ref = F.conv2d(dense(feats, coords, b, h, w), weight.permute(0, 3, 1, 2), padding=1)
    assert out.shape == (coords.shape[0], co)  # output sites = input sites
    torch.testing.assert_close(out, at_sites(ref, coords))


def test_dw_conv_matches_grouped_dense_conv():
    b, h, w, c = 2, 9, 7, 4
    coords, _ = random_sites(b, h, w, 0.4, seed=1)
    feats = torch.randn(coords.shape[0], c, dtype=torch.float64)
    weight = torch.randn(c, 3, 3, dtype=torch.float64)
    out = so.dw_conv3x3(feats, so.subm_neighbors(coords, (h, w)), weight)
    ref = F.conv2d(dense(feats, coords, b, h, w), weight[:, None], padding=1, groups=c)
    torch.testing.assert_close(out, at_sites(ref, coords))


def test_downsample_coordinates_odd_grid():
    coords = torch.tensor([[0, 0, 1], [0, 1, 0], [0, 4, 4], [1, 3, 2]], dtype=torch.int32)
    out, parent, offset, shape = so.downsample2x2(coords, (5, 5))
    assert shape == (3, 3)
    assert out.tolist() == [[0, 0, 0], [0, 2, 2], [1, 1, 1]]
    assert parent.tolist() == [0, 0, 1, 2]
    assert offset.tolist() == [1, 2, 0, 2]


def test_strided_conv_matches_dense_stride2_conv():
    b, h, w, ci, co = 2, 9, 12, 3, 4
    coords, mask = random_sites(b, h, w, 0.2, seed=2)
    feats = torch.randn(coords.shape[0], ci, dtype=torch.float64)
    weight = torch.randn(co, 2, 2, ci, dtype=torch.float64)
    oc, parent, offset, oshape = so.downsample2x2(coords, (h, w))
    out = so.strided_conv2x2(feats, parent, offset, oc.shape[0], weight)
    grid = F.pad(dense(feats, coords, b, h, w), (0, w % 2, 0, h % 2))
    ref = F.conv2d(grid, weight.permute(0, 3, 1, 2), stride=2)
    active = F.max_pool2d(F.pad(mask.double()[:, None], (0, w % 2, 0, h % 2)), 2)[:, 0] > 0
    assert ref.shape[2:] == oshape
    assert oc.tolist() == active.nonzero().tolist()
    torch.testing.assert_close(out, at_sites(ref, oc))


def test_conv1x1():
    feats, weight = torch.randn(6, 3), torch.randn(2, 3)
    torch.testing.assert_close(so.conv1x1(feats, weight), feats @ weight.T)


def test_grid_pool_hand_case():
    coords = torch.tensor([[0, 0, 0], [0, 0, 3], [0, 1, 3], [1, 2, 1]], dtype=torch.int32)
    feats = torch.tensor([[1.0, 10.0], [2.0, 20.0], [4.0, 40.0], [8.0, 80.0]])
    out = so.grid_pool(feats, coords, (3, 4), 2, grid=(1, 2))  # cells: x < 2 | x >= 2
    assert out.tolist() == [[1.0, 10.0, 3.0, 30.0], [8.0, 80.0, 0.0, 0.0]]
    glob = so.grid_pool(feats, coords, (3, 4), 2)
    torch.testing.assert_close(glob, torch.tensor([[7 / 3, 70 / 3], [8.0, 80.0]]))


def test_empty_input():
    coords = torch.zeros(0, 3, dtype=torch.int32)
    nbr = so.subm_neighbors(coords, (4, 4))
    assert nbr.shape == (0, 9)
    out = so.subm_conv3x3(torch.zeros(0, 2), nbr, torch.randn(3, 3, 3, 2))
    assert out.shape == (0, 3)
    assert so.grid_pool(out, coords, (4, 4), 2).tolist() == [[0.0] * 3] * 2
