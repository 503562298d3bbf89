import numpy as np
import torch

from edgevision.events.core import make_events
from edgevision.recognition.points import farthest_point_sampling, gather, group, knn, sample_points


def test_fps_hand_case():
    pts = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [10, 0, 0], [5, 0, 0], [9, 0, 0]]])
    # start at 0 -> farthest is 10 -> then 5 (distance 5 to both) -> then 1 or 9 (both at 1 from the set? 1 is 1 from 0, 9 is 1 from 10)
    idx = farthest_point_sampling(pts, 3)
    assert idx.tolist() == [[0, 2, 3]]


def test_knn_and_group_hand_case():
    pts = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [3, 0, 0], [7, 0, 0]]])
    nn_idx = knn(pts, torch.tensor([[[2.9, 0, 0]]]), 2)
    assert nn_idx.tolist() == [[[2, 1]]]
    cents, nbrs = group(pts, 2, 2)
    assert cents[0, :, 0].tolist() == [0.0, 7.0]
    assert nbrs[0, 0, :, 0].tolist() == [0.0, 1.0] and nbrs[0, 1, :, 0].tolist() == [7.0, 3.0]
    assert gather(pts, torch.tensor([[3, 0]]))[0, :, 0].tolist() == [7.0, 0.0]


def test_fps_batched_matches_single():
    pts = torch.rand(3, 50, 3, generator=torch.Generator().manual_seed(0))
    both = farthest_point_sampling(pts, 8)
    for b in range(3):
        assert torch.equal(both[b], farthest_point_sampling(pts[b : b + 1], 8)[0])


def test_sample_points_normalized():
    ev = make_events([100, 200, 300], [0, 9, 4], [0, 4, 2], [1, 0, 1])
    rng = np.random.default_rng(0)
    pts = sample_points(ev, (10, 5), 3, 100, 400, rng)
    np.testing.assert_allclose(pts, [[0, 0, 0], [1, 1, 1 / 3], [4 / 9, 0.5, 2 / 3]], atol=1e-6)
    more = sample_points(ev, (10, 5), 8, 100, 400, rng)  # with replacement, still time-sorted
    assert more.shape == (8, 3) and np.all(np.diff(more[:, 2]) >= 0)
    assert not sample_points(ev[:0], (10, 5), 4, 0, 1, rng).any()
