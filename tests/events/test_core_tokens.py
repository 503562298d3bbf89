import pytest

from edgevision.errors import EventValidationError
from edgevision.events import EVENT_DTYPE, histogram_tokens, make_events, sort_events, tokens_to_dense, validate_events


def test_make_events_maps_signed_polarity():
    ev = make_events([1, 2, 3], [0, 1, 2], [0, 0, 1], [-1, 1, -1])
    assert ev.dtype == EVENT_DTYPE
    assert ev["p"].tolist() == [0, 1, 0]


@pytest.mark.parametrize(
    "t,x,y,p,match",
    [
        ([2, 1], [0, 0], [0, 0], [0, 0], "not sorted"),
        ([1, 2], [0, 10], [0, 0], [0, 0], "x >= sensor width"),
        ([1, 2], [0, 0], [0, 8], [0, 0], "y >= sensor height"),
    ],
)
def test_validate_rejects(t, x, y, p, match):
    with pytest.raises(EventValidationError, match=match):
        validate_events(make_events(t, x, y, p), (10, 8))


def test_validate_bad_polarity_and_empty():
    ev = make_events([1], [0], [0], [1])
    ev["p"] = 3
    with pytest.raises(EventValidationError, match="polarity"):
        validate_events(ev)
    with pytest.raises(EventValidationError, match="no events"):
        validate_events(ev[:0], allow_empty=False)


def test_sort_events_is_stable():
    ev = make_events([3, 1, 1], [0, 1, 2], [0, 0, 0], [0, 0, 0])
    assert sort_events(ev)["x"].tolist() == [1, 2, 0]


def test_histogram_tokens_counts_and_raster_order():
    # sensor 8x4, factor 2 -> grid (2, 4); two time bins
    ev = make_events([0, 1, 2, 9, 9], [7, 0, 1, 0, 6], [3, 0, 1, 0, 0], [1, 0, 1, 1, 0])
    tok = histogram_tokens(ev, (8, 4), factor=2, time_bins=2, t_start=0, t_end=10)
    assert tok.shape == (2, 4)
    assert tok.coords.tolist() == [[0, 0], [0, 3], [1, 3]]
    # site (0,0): t=1 OFF bin0, t=2 ON bin0, t=9 ON bin1
    assert tok.feats[0].tolist() == [1, 1, 0, 1]
    assert tok.feats[1].tolist() == [0, 0, 1, 0]
    assert tok.feats[2].tolist() == [0, 1, 0, 0]
    dense = tokens_to_dense(tok)
    assert dense.shape == (4, 2, 4) and dense.sum() == 5


def test_histogram_tokens_empty():
    tok = histogram_tokens(make_events([], [], [], []), (8, 4), factor=2, time_bins=3)
    assert tok.coords.shape == (0, 2) and tok.feats.shape == (0, 6)
