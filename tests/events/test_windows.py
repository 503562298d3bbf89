import numpy as np
import pytest
from events_testdata import random_events

from edgevision.events import make_events
from edgevision.events.windows import (
    count_windows,
    iter_windows,
    stream_count_windows,
    stream_time_windows,
    time_windows,
)


def _chunks(ev, size):
    return (ev[i : i + size] for i in range(0, ev.shape[0], size))


def test_time_windows_bounds_and_contents():
    ev = make_events([0, 5, 10, 10, 25, 40], [0] * 6, [0] * 6, [1] * 6)
    idx = time_windows(ev, 10)
    assert idx.t_start.tolist() == [0, 10, 20, 30, 40]
    assert [w.events["t"].tolist() for w in iter_windows(ev, idx)] == [[0, 5], [10, 10], [25], [], [40]]


def test_time_windows_overlap_and_explicit_range():
    ev = make_events([0, 5, 10, 15, 20], [0] * 5, [0] * 5, [0] * 5)
    idx = time_windows(ev, 10, stride_us=5, t_start=-5, t_end=15)
    assert idx.t_start.tolist() == [-5, 0, 5, 10]
    assert [w.events["t"].tolist() for w in iter_windows(ev, idx)] == [[0], [0, 5], [5, 10], [10, 15]]


def test_count_windows_overlap_and_partial():
    ev = make_events(np.arange(10) * 3, [0] * 10, [0] * 10, [0] * 10)
    idx = count_windows(ev, 4, stride=3)
    assert idx.start.tolist() == [0, 3, 6] and idx.stop.tolist() == [4, 7, 10]
    assert idx.t_start.tolist() == [0, 9, 18] and idx.t_end.tolist() == [10, 19, 28]
    assert count_windows(ev, 4, stride=3, keep_partial=True).start.tolist() == [0, 3, 6, 9]


def test_empty_and_invalid():
    ev = random_events(0)
    assert len(time_windows(ev, 10)) == 0 and len(count_windows(ev, 5)) == 0
    with pytest.raises(ValueError):
        time_windows(ev, 0)
    with pytest.raises(ValueError):
        count_windows(ev, 5, stride=0)


@pytest.mark.parametrize("duration,stride", [(10_000, None), (10_000, 3_000), (1_000, 7_000), (50_000, 50_000)])
@pytest.mark.parametrize("chunk", [1, 97, 1000, 5000])
def test_streaming_time_windows_match_in_memory(duration, stride, chunk):
    ev = random_events(3000, span=300_000)
    ev["t"][1000:1200] = ev["t"][1000]  # a burst of equal timestamps spanning chunk borders
    ev["t"][2000:] += 100_000  # a gap: empty windows in the middle
    expected = list(iter_windows(ev, time_windows(ev, duration, stride)))
    got = list(stream_time_windows(_chunks(ev, chunk), duration, stride))
    assert [(w.t_start, w.t_end) for w in got] == [(w.t_start, w.t_end) for w in expected]
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a.events, b.events)


@pytest.mark.parametrize("count,stride", [(100, None), (100, 30), (10, 250)])
@pytest.mark.parametrize("chunk", [1, 77, 3000])
@pytest.mark.parametrize("keep_partial", [False, True])
def test_streaming_count_windows_match_in_memory(count, stride, chunk, keep_partial):
    ev = random_events(1000)
    expected = list(iter_windows(ev, count_windows(ev, count, stride, keep_partial)))
    got = list(stream_count_windows(_chunks(ev, chunk), count, stride, keep_partial))
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        assert (a.t_start, a.t_end) == (b.t_start, b.t_end)
        np.testing.assert_array_equal(a.events, b.events)


def test_streaming_over_a_file_reader(tmp_path):
    from edgevision.events.formats import iter_events, write_events

    ev = random_events(4000)
    path = write_events(tmp_path / "ev.h5", ev, (64, 48))
    got = list(stream_time_windows(iter_events(path, chunk_events=333), 20_000, 5_000))
    expected = list(iter_windows(ev, time_windows(ev, 20_000, 5_000)))
    assert sum(w.events.shape[0] for w in got) == sum(w.events.shape[0] for w in expected)
    assert [w.t_start for w in got] == [w.t_start for w in expected]
