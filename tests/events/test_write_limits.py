"""Writers refuse up front (in milliseconds, before a byte is written) what their format cannot store.

Limits (Prophesee and iniVation specifications; see edgevision.events.formats.limits):
EVT 2.0 / EVT 3.0: x, y 11 bits (sensor up to 2048x2048); DAT 2: timestamp 32 bits, x, y 14 bits
(16384x16384); AEDAT4: x, y int16 (32767x32767); CSV: the reader's 18-digit integers.
"""

import time

import numpy as np
import pytest
from events_testdata import SENSOR

from edgevision.cli import main
from edgevision.errors import EventFormatError
from edgevision.events import make_events
from edgevision.events.formats import read_events, write_events

EXT = {"evt2": ".raw", "evt3": ".raw", "dat": ".dat", "aedat4": ".aedat4", "csv": ".csv", "npz": ".npz", "h5": ".h5"}


def _ev(t, x=None, y=None):
    t = np.asarray(t, np.int64)
    n = t.shape[0]
    return make_events(t, np.zeros(n) if x is None else x, np.zeros(n) if y is None else y, np.ones(n))


def _refused(tmp_path, fmt, events, sensor, *needles):
    target = tmp_path / f"out{EXT[fmt]}"
    start = time.perf_counter()
    with pytest.raises(EventFormatError) as info:
        write_events(target, events, sensor, format=fmt)
    elapsed = time.perf_counter() - start
    msg = str(info.value)
    assert msg.startswith(str(target)) and ".tmp" not in msg, msg
    for needle in needles:
        assert needle in msg, msg
    assert list(tmp_path.iterdir()) == []  # nothing written, no temporary file left
    return elapsed


def test_dat_refuses_times_its_32_bit_counter_cannot_hold(tmp_path):
    # was: written wrapped at 2^32 us (t = 2^32 read back as 0), exit 0
    _refused(tmp_path, "dat", _ev([0, 2**32]), SENSOR, "dat", "t")
    _refused(tmp_path, "dat", _ev([5, 2**62]), SENSOR, "dat", "t")
    ok = _ev([2**62, 2**62 + 2**32 - 1])  # span below 2^32 us: stored with the first time in the header
    np.testing.assert_array_equal(read_events(write_events(tmp_path / "ok.dat", ok, SENSOR))[0], ok)


@pytest.mark.parametrize("fmt", ["evt2", "evt3"])
def test_huge_time_gap_is_refused_in_milliseconds(tmp_path, fmt):
    # was: EVT3 wrote filler records for minutes (tens of GB) and failed with a false "No space left on device"
    elapsed = _refused(tmp_path, fmt, _ev([0, 2**62]), SENSOR, fmt, "t")
    assert elapsed < 0.5


@pytest.mark.parametrize("t", [[0, 2**24], [0, 5 * 2**22 + 3], [5, 2**24 + 5], [2**24, 2**24 + 2**25], [0, 2**30, 2**33 + 1]])
def test_evt3_gaps_across_the_24_bit_wrap_round_trip(tmp_path, t):
    # was: silently changed (t = 2^24 read back as 12,582,912): the encoder stepped TIME_HIGH by 1024, the
    # decoder counts a wrap only on 4095 -> 0
    ev = _ev(t)
    back, _ = read_events(write_events(tmp_path / "gap.raw", ev, SENSOR, format="evt3"))
    np.testing.assert_array_equal(back, ev)


@pytest.mark.parametrize(
    "fmt,limit", [("evt2", 2048), ("evt3", 2048), ("dat", 16384), ("aedat4", 32767), ("csv", 65535)]
)
def test_sensor_size_limits(tmp_path, fmt, limit):
    # EVT3 used to accept 4096 and write x >= 2048 into the polarity bit; the others named the temporary file
    ev = _ev([1, 2], x=[0, limit - 1], y=[limit - 1, 0])
    back, sensor = read_events(write_events(tmp_path / f"max{EXT[fmt]}", ev, (limit, limit), format=fmt))
    np.testing.assert_array_equal(back, ev)
    assert sensor == (limit, limit)
    (tmp_path / f"max{EXT[fmt]}").unlink()
    _refused(tmp_path, fmt, _ev([1]), (limit + 1, 8), "width", str(limit))
    _refused(tmp_path, fmt, _ev([1]), (8, limit + 1), "height", str(limit))


def test_csv_time_range(tmp_path):
    # was: negative times written as huge unsigned numbers; 19-digit times written but unreadable
    _refused(tmp_path, "csv", _ev([-5, 3]), SENSOR, "csv", "t")
    _refused(tmp_path, "csv", _ev([0, 10**18]), SENSOR, "csv", "t")
    ev = _ev([0, 10**18 - 1])
    np.testing.assert_array_equal(read_events(write_events(tmp_path / "ok.csv", ev, SENSOR))[0], ev)


def test_numpy_and_hdf5_store_the_whole_int64_range(tmp_path):
    ev = _ev([-(2**63), -1, 0, 2**63 - 1])
    for fmt in ("npz", "h5"):
        back, _ = read_events(write_events(tmp_path / f"all{EXT[fmt]}", ev, SENSOR, format=fmt))
        np.testing.assert_array_equal(back, ev)


def test_io_errors_name_the_output_not_the_temporary_file(tmp_path, monkeypatch):
    from edgevision.events.formats import numpy_files

    def full(path, events):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(numpy_files, "write_npy", full)
    target = tmp_path / "o.npy"
    with pytest.raises(EventFormatError, match="No space left") as info:
        write_events(target, _ev([1, 2]), SENSOR)
    assert str(info.value).startswith(str(target)) and ".tmp" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_cli_convert_refuses_with_one_line_and_no_output(tmp_path, capsys):
    src = tmp_path / "big.npy"
    write_events(src, _ev([0, 2**62]), SENSOR)
    for out in ("o.dat", "o.raw"):
        start = time.perf_counter()
        code = main(["events", "convert", str(src), str(tmp_path / out)])
        elapsed = time.perf_counter() - start
        captured = capsys.readouterr()
        assert code == 2 and captured.out == "" and elapsed < 5
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and str(tmp_path / out) in lines[0] and "Traceback" not in captured.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.npy"]
