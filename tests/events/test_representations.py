import numpy as np
import pytest
from events_testdata import SENSOR, random_events

from edgevision.errors import EventValidationError
from edgevision.events import histogram_tokens, make_events, tokens_to_dense
from edgevision.events.representations import (
    WindowTokenizer,
    count_histogram,
    downsample,
    iter_window_tokens,
    point_cloud,
    time_surface,
    voxel_grid,
    window_tokens,
)
from edgevision.events.windows import count_windows, iter_windows, time_windows


@pytest.mark.parametrize("factor", [1, 3])
def test_count_histogram_is_the_dense_token_form(events, factor):
    dense = tokens_to_dense(histogram_tokens(events, SENSOR, factor=factor))
    np.testing.assert_array_equal(count_histogram(events, SENSOR, factor), dense)


@pytest.mark.parametrize("factor,bins", [(1, 1), (2, 3), (5, 2)])
@pytest.mark.parametrize("stride", [10_000, 4_000])
def test_window_tokens_equal_histogram_tokens_per_window(events, factor, bins, stride):
    idx = time_windows(events, 10_000, stride)
    batch = window_tokens(events, SENSOR, idx, factor=factor, time_bins=bins)
    assert len(batch) == len(idx)
    for k, w in enumerate(iter_windows(events, idx)):
        ref = histogram_tokens(w.events, SENSOR, factor=factor, time_bins=bins, t_start=w.t_start, t_end=w.t_end)
        got = batch.window(k)
        assert got.shape == ref.shape
        np.testing.assert_array_equal(got.coords, ref.coords)
        np.testing.assert_array_equal(got.feats, ref.feats)


def test_iter_window_tokens_in_small_batches(events):
    idx = count_windows(events, 200, stride=150)
    whole = window_tokens(events, SENSOR, idx, time_bins=2)
    parts = list(iter_window_tokens(events, SENSOR, idx, time_bins=2, batch_events=500))
    assert len(parts) == len(idx)
    for k, tok in enumerate(parts):
        np.testing.assert_array_equal(tok.coords, whole.window(k).coords)
        np.testing.assert_array_equal(tok.feats, whole.window(k).feats)


def test_window_tokens_rejects_events_off_the_sensor(events):
    with pytest.raises(EventValidationError, match="outside"):
        window_tokens(events, (10, 10), time_windows(events, 10_000))


def test_time_surface_values():
    ev = make_events([0, 100, 300], [1, 1, 2], [0, 0, 1], [1, 1, 0])
    ts = time_surface(ev, (4, 2), tau_us=100.0)
    assert ts.shape == (2, 2, 4)
    assert ts[1, 0, 1] == pytest.approx(np.exp(-2.0))  # last ON at (1, 0) was t=100, reference t=300
    assert ts[0, 1, 2] == pytest.approx(1.0)
    assert np.count_nonzero(ts) == 2
    assert time_surface(ev[:0], (4, 2), 10.0).sum() == 0


def test_voxel_grid_bilinear_and_signed():
    ev = make_events([0, 2, 5, 10], [0, 1, 1, 2], [0, 0, 0, 0], [1, 0, 1, 1])
    vg = voxel_grid(ev, (3, 1), bins=3)  # t0=0, t1=10: u = t / 5
    assert vg.shape == (3, 1, 3)
    np.testing.assert_allclose(vg[:, 0, 0], [1, 0, 0])  # ON at u=0
    np.testing.assert_allclose(vg[:, 0, 1], [-0.6, -0.4 + 1.0, 0])  # OFF at u=0.4, ON at u=1
    np.testing.assert_allclose(vg[:, 0, 2], [0, 0, 1])  # ON at u=2
    np.testing.assert_allclose(vg.sum(), 2.0)  # weights sum to the signed count


def test_voxel_grid_window_bounds_and_single_bin(events):
    vg = voxel_grid(events, SENSOR, bins=1, factor=2)
    dense = count_histogram(events, SENSOR, 2)
    np.testing.assert_allclose(vg[0], dense[1] - dense[0], atol=1e-5)
    clipped = voxel_grid(events, SENSOR, bins=4, t_start=50_000, t_end=60_000)
    assert clipped.shape == (4, 48, 64)


def test_point_cloud_sampling(events):
    pc = point_cloud(events, SENSOR, 1024, seed=3)
    assert pc.shape == (1024, 4) and pc.dtype == np.float32
    np.testing.assert_array_equal(pc, point_cloud(events, SENSOR, 1024, seed=3))
    assert not np.array_equal(pc, point_cloud(events, SENSOR, 1024, seed=4))
    assert (np.diff(pc[:, 2]) >= 0).all() and pc[:, :3].min() >= 0 and pc[:, :3].max() <= 1
    assert set(np.unique(pc[:, 3])) <= {0.0, 1.0}
    assert np.unique(pc, axis=0).shape[0] == 1024  # without replacement when enough events
    few = point_cloud(events[:10], SENSOR, 64)
    assert few.shape == (64, 4)  # with replacement
    with pytest.raises(EventValidationError, match="no events"):
        point_cloud(events[:0], SENSOR, 8)


def test_downsample_matches_factor_histogram(events):
    small, sensor = downsample(events, SENSOR, 3)
    assert sensor == (22, 16)
    assert small.dtype == events.dtype and small["x"].max() < 22
    np.testing.assert_array_equal(count_histogram(small, sensor), count_histogram(events, SENSOR, 3))


def test_representations_on_tonic_sized_stream():
    ev = random_events(5000, sensor=(640, 480), seed=2)
    idx = time_windows(ev, 20_000)
    batch = window_tokens(ev, (640, 480), idx, factor=8, time_bins=3)
    total = sum(batch.window(k).feats.sum() for k in range(len(batch)))
    assert total == ev.shape[0]


def test_window_tokens_long_windows_use_wide_counters():
    # > 65535 events on one pixel in one window (exact int32 path) next to short windows (packed path)
    n = 70_000
    t = np.concatenate([np.zeros(n, np.int64), np.arange(1, 101) * 10])
    x = np.concatenate([np.full(n, 3), np.arange(100) % 8])
    p = np.concatenate([np.ones(n - 5), np.zeros(5), np.arange(100) % 2])
    ev = make_events(t, x, np.zeros_like(x), p)
    idx = time_windows(ev, 500)
    for bins in (1, 2):
        batch = window_tokens(ev, (8, 2), idx, time_bins=bins)
        for k, w in enumerate(iter_windows(ev, idx)):
            ref = histogram_tokens(w.events, (8, 2), time_bins=bins, t_start=w.t_start, t_end=w.t_end)
            np.testing.assert_array_equal(batch.window(k).coords, ref.coords)
            np.testing.assert_array_equal(batch.window(k).feats, ref.feats)
    assert batch.window(0).feats.max() > 0xFFFF  # the uint16 halves would have overflowed


def _assert_equals_histogram_tokens(ev, sensor, idx, factor=1, bins=1):
    batch = window_tokens(ev, sensor, idx, factor=factor, time_bins=bins)
    assert len(batch) == len(idx)
    for k, w in enumerate(iter_windows(ev, idx)):
        ref = histogram_tokens(w.events, sensor, factor=factor, time_bins=bins, t_start=w.t_start, t_end=w.t_end)
        np.testing.assert_array_equal(batch.window(k).coords, ref.coords)
        np.testing.assert_array_equal(batch.window(k).feats, ref.feats)
    return batch


@pytest.mark.parametrize("sensor", [(1, 1), (63, 5), (64, 3), (65, 7), (200, 1), (1, 130)])
@pytest.mark.parametrize("factor,bins", [(1, 1), (2, 1), (1, 3), (3, 2)])
def test_window_tokens_grid_edges_and_empty_windows(sensor, factor, bins):
    # widths around the 64-pixel bitmap words, every corner of the grid, empty windows inside gaps
    rng = np.random.default_rng(sensor[0] * 1000 + sensor[1])
    w, h = sensor
    corners_x, corners_y = np.array([0, w - 1, 0, w - 1]), np.array([0, 0, h - 1, h - 1])
    n = 3000
    x = np.concatenate([corners_x, rng.integers(0, w, n)])
    y = np.concatenate([corners_y, rng.integers(0, h, n)])
    t = np.sort(np.concatenate([np.zeros(4, np.int64), rng.integers(0, 40_000, n // 2), rng.integers(90_000, 100_000, n - n // 2)]))
    ev = make_events(t, x, y, rng.integers(0, 2, n + 4))
    idx = time_windows(ev, 5_000)
    assert (idx.stop == idx.start).any()  # windows in the 40-90 ms gap hold no events
    batch = _assert_equals_histogram_tokens(ev, sensor, idx, factor, bins)
    assert batch.feats.sum() == ev.shape[0]


def test_window_tokens_packed_limit_is_exact():
    # windows of exactly 65535 (packed counters) and 65536 events (wide counters) on one pixel, both polarities
    sizes = (0xFFFF, 0x10000)
    t = np.concatenate([np.full(s, k * 100, np.int64) for k, s in enumerate(sizes)])
    p = np.concatenate([np.arange(s) < s - 1 for s in sizes])
    ev = make_events(t, np.full(t.shape[0], 5), np.full(t.shape[0], 1), p)
    idx = time_windows(ev, 100)
    batch = _assert_equals_histogram_tokens(ev, (6, 2), idx)
    np.testing.assert_array_equal(batch.feats, [[1, 0xFFFE], [1, 0xFFFF]])
    np.testing.assert_array_equal(batch.coords, [[1, 5], [1, 5]])


@pytest.mark.parametrize("factor,bins", [(1, 1), (2, 2)])
def test_iter_window_tokens_reuses_counters_across_batches(factor, bins):
    # one window per batch: the counters shared by the batches must come back zeroed after packed and wide windows
    n = 70_000
    t = np.concatenate([np.arange(200) * 5, np.full(n, 1_000), 1_000 + np.arange(1, 201) * 5])
    x = np.concatenate([np.arange(200) % 9, np.full(n, 4), np.arange(200) % 7])
    y = np.concatenate([np.arange(200) % 5, np.full(n, 2), np.arange(200) % 3])
    ev = make_events(t, x, y, np.arange(t.shape[0]) % 3 == 0)
    idx = time_windows(ev, 250)
    whole = _assert_equals_histogram_tokens(ev, (9, 5), idx, factor, bins)
    parts = list(iter_window_tokens(ev, (9, 5), idx, factor=factor, time_bins=bins, batch_events=1))
    assert len(parts) == len(idx)
    for k, tok in enumerate(parts):
        np.testing.assert_array_equal(tok.coords, whole.window(k).coords)
        np.testing.assert_array_equal(tok.feats, whole.window(k).feats)


@pytest.mark.parametrize("factor", [1, 3, 8])
@pytest.mark.parametrize("bins", [1, 2, 3, 7])
def test_window_tokenizer_equals_histogram_tokens_in_any_time_order(factor, bins):
    """One tokenizer over many windows (counters reused), times unsorted and outside [t_start, t_end) too: the
    per-bin time ranges the count loops keep must give exactly histogram_tokens' bins."""
    rng = np.random.default_rng(factor * 10 + bins)
    tz = WindowTokenizer((64, 48), factor, bins)
    for trial in range(12):
        n = int(rng.integers(0, 3000))
        ev = make_events(rng.integers(-50, 1100, n), rng.integers(0, 64, n), rng.integers(0, 48, n), rng.integers(0, 2, n))
        if trial % 2:
            ev = ev[np.argsort(ev["t"], kind="stable")]
        a = tz(ev, 0, 1000)
        b = histogram_tokens(ev, (64, 48), factor=factor, time_bins=bins, t_start=0, t_end=1000)
        assert np.array_equal(a.coords, b.coords) and np.array_equal(a.feats, b.feats) and a.shape == b.shape
