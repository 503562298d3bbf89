"""Truncated EVT2 / EVT3 / DAT files are detected: a warning (or, strict, an error) instead of a silently
shorter recording; ``events info`` reports ``truncated: true``."""

import json
import warnings

import numpy as np
import pytest
from events_testdata import SENSOR, random_events

from edgevision.cli import main
from edgevision.errors import EventFormatError, TruncatedEventFileWarning
from edgevision.events.formats import iter_events, read_events, write_events
from edgevision.events.info import event_file_info

EXT = {"evt2": ".raw", "evt3": ".raw", "dat": ".dat"}
WORD = {"evt2": 4, "evt3": 2, "dat": 8}


def _written(tmp_path, fmt, n=500):
    ev = random_events(n, seed=3)
    return ev, write_events(tmp_path / f"ev{EXT[fmt]}", ev, SENSOR, format=fmt)


def _cut(path, n_bytes):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - n_bytes])
    return path


@pytest.mark.parametrize("fmt", ["evt2", "evt3", "dat"])
def test_complete_files_are_not_flagged(tmp_path, fmt):
    ev, path = _written(tmp_path, fmt)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back, _ = read_events(path, strict=True)
    np.testing.assert_array_equal(back, ev)
    assert event_file_info(path)["truncated"] is False


@pytest.mark.parametrize("fmt", ["evt2", "evt3", "dat"])
def test_partial_trailing_word(tmp_path, fmt):
    # was: read as a shorter recording without a word
    _, path = _written(tmp_path, fmt)
    _cut(path, 1)
    with pytest.warns(TruncatedEventFileWarning, match="truncated"):
        events, _ = read_events(path)
    assert events.shape[0] >= 1
    with pytest.raises(EventFormatError, match="truncated"):
        read_events(path, strict=True)
    with pytest.raises(EventFormatError, match="truncated"):
        list(iter_events(path, strict=True))
    with pytest.warns(TruncatedEventFileWarning):
        assert event_file_info(path)["truncated"] is True


def test_evt3_record_cut_mid_way(tmp_path):
    header = b"% evt 3.0\n% format EVT3;width=64;height=48\n% end\n"
    words = [0x8000, 0x6005, 0x0003, 0x2001]  # TIME_HIGH 0, TIME_LOW 5, ADDR_Y 3, ADDR_X 1
    for tail in ([0x0004], [0x3002]):  # an ADDR_Y / a VECT_BASE_X without the event that follows it
        path = tmp_path / "cut.raw"
        path.write_bytes(header + np.array(words + tail, "<u2").tobytes())
        with pytest.raises(EventFormatError, match="truncated"):
            read_events(path, strict=True)
    path.write_bytes(header + np.array(words + [0x8001], "<u2").tobytes())  # a trailing TIME_HIGH is normal
    assert read_events(path, strict=True)[0].shape[0] == 1


@pytest.mark.parametrize("fmt", ["evt2", "dat"])
def test_header_cut_mid_line(tmp_path, fmt):
    path = tmp_path / f"h{EXT[fmt]}"
    path.write_bytes(b"% evt 2.0\n% format EVT2;width=64;he" if fmt == "evt2" else b"% Version 2\n% Width 64\n% Hei")
    with pytest.raises(EventFormatError, match="truncated"):
        read_events(path, strict=True)


def test_info_cli_reports_and_strict_refuses(tmp_path, capsys):
    _, path = _written(tmp_path, "evt3")
    _cut(path, 1)
    code = main(["events", "info", str(path), "--json"])
    out, err = capsys.readouterr()
    assert code == 0 and json.loads(out)["truncated"] is True
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgevision: warning:") and "truncated" in lines[0]
    code = main(["events", "info", str(path), "--strict"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "truncated" in err
    code = main(["events", "convert", str(path), str(tmp_path / "o.npy"), "--strict"])
    out, err = capsys.readouterr()
    assert code == 2 and "truncated" in err and not (tmp_path / "o.npy").exists()
