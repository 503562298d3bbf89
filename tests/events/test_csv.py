import numpy as np
import pytest

from edgevision.errors import EventFormatError
from edgevision.events import make_events
from edgevision.events.formats import iter_events, read_events


def _read(tmp_path, text: str, name: str = "ev.csv"):
    path = tmp_path / name
    path.write_text(text)
    return read_events(path)


def test_headerless_integer_microseconds(tmp_path):
    ev, sensor = _read(tmp_path, "10,1,2,1\n20,3,4,0\n")
    np.testing.assert_array_equal(ev, make_events([10, 20], [1, 3], [2, 4], [1, 0]))
    assert sensor == (4, 5)  # inferred: max + 1


def test_float_seconds_become_microseconds(tmp_path):
    ev, _ = _read(tmp_path, "0.000010 1 2 1\n1.25e-3 0 0 1\n0.5000004 3 4 -1\n", "ev.txt")
    assert ev["t"].tolist() == [10, 1250, 500000]  # rounded to the nearest microsecond
    assert ev["p"].tolist() == [1, 1, 0]


def test_header_names_order_and_sensor(tmp_path):
    ev, sensor = _read(tmp_path, "# comment\nx@640;y@480;polarity;timestamp\n5;6;1;100\n7;8;0;200\n")
    np.testing.assert_array_equal(ev, make_events([100, 200], [5, 7], [6, 8], [1, 0]))
    assert sensor == (640, 480)


def test_whitespace_crlf_and_blank_lines(tmp_path):
    ev, _ = _read(tmp_path, "t x y p\r\n1  2\t3 1\r\n\r\n2, 3, 4, 0\r\n", "ev.txt")
    assert ev["t"].tolist() == [1, 2] and ev["x"].tolist() == [2, 3]


@pytest.mark.parametrize(
    "text,match",
    [
        ("1,2,3\n", "line 1: wrong number of fields"),
        ("1,2,3,1\n2,2,3,1,9\n", "line 2: wrong number of fields"),
        ("1,2,3,1\n2,a,3,1\n", "line 2: not a number"),
        ("1,2.5,3,1\n", "non-integer"),
        ("1,2,3,1\n0.5,2,3,1\n", "time unit changes"),
        ("1,2,3,7\n", "polarity"),
        ("99999999999999999999,2,3,1\n", "too large"),
    ],
)
def test_bad_lines(tmp_path, text, match):
    with pytest.raises(EventFormatError, match=match):
        _read(tmp_path, text)


def test_chunked_csv_matches_whole_read(tmp_path):
    rng = np.random.default_rng(1)
    n = 20000
    t = np.sort(rng.integers(0, 10**6, n))
    lines = "\n".join(f"{a},{b},{c},{d}" for a, b, c, d in zip(t, rng.integers(0, 99, n), rng.integers(0, 99, n), rng.integers(0, 2, n)))
    path = tmp_path / "big.csv"
    path.write_text("t,x,y,p\n" + lines + "\n")
    whole, _ = read_events(path)
    chunks = list(iter_events(path, chunk_events=1000))  # 64 KiB blocks: lines cross block borders
    assert len(chunks) > 2
    np.testing.assert_array_equal(np.concatenate(chunks), whole)
    assert whole.shape[0] == n
