"""Bad input: every reader raises EventFormatError naming the file; writers never leave partial files."""

import h5py
import numpy as np
import pytest
from events_testdata import SENSOR, random_events
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgevision.errors import EventFormatError, EventValidationError
from edgevision.events import EVENT_DTYPE
from edgevision.events.formats import iter_events, read_events, write_events

EXT = {"npy": ".npy", "npz": ".npz", "h5": ".h5", "csv": ".csv", "evt2": ".raw", "evt3": ".raw", "dat": ".dat", "aedat4": ".aedat4"}


def _read_all(path, **kw):
    events, _ = read_events(path, **kw)
    chunks = list(iter_events(path, chunk_events=64, **kw))
    return events, chunks


@pytest.mark.parametrize("fmt", list(EXT))
def test_garbage_with_the_right_extension(tmp_path, fmt):
    path = tmp_path / f"bad{EXT[fmt]}"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(EventFormatError, match="bad"):
        _read_all(path)


@pytest.mark.parametrize("fmt", ["npy", "npz", "h5", "aedat4"])
def test_truncated_files(tmp_path, events, fmt):
    path = write_events(tmp_path / f"ev{EXT[fmt]}", events, SENSOR, format=fmt)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(EventFormatError, match="ev"):
        _read_all(path)


@pytest.mark.parametrize("fmt", ["npy", "h5", "csv", "evt3"])
def test_empty_and_missing_files(tmp_path, fmt):
    path = tmp_path / f"empty{EXT[fmt]}"
    path.write_bytes(b"")
    with pytest.raises(EventFormatError, match="empty"):
        read_events(path)
    with pytest.raises(EventFormatError, match="cannot open"):
        read_events(tmp_path / f"missing{EXT[fmt]}")


def test_unknown_extension_and_format(tmp_path, events):
    path = tmp_path / "ev.xyz"
    path.write_bytes(b"\x01\x02\x03")
    with pytest.raises(EventFormatError, match="unknown event file type"):
        read_events(path)
    with pytest.raises(EventFormatError, match="unknown format"):
        read_events(path, format="mp4")
    with pytest.raises(EventFormatError, match="no writer"):
        write_events(path, events, SENSOR)


def test_unsorted_content(tmp_path, events):
    bad = events[::-1].copy()
    np.save(tmp_path / "u.npy", bad)
    with pytest.raises(EventFormatError, match="not sorted"):
        read_events(tmp_path / "u.npy")
    (tmp_path / "u.csv").write_text("t,x,y,p\n10,1,1,1\n5,1,1,0\n")
    with pytest.raises(EventFormatError, match="not sorted"):
        read_events(tmp_path / "u.csv")


def test_unsorted_across_chunks(tmp_path):
    ev = random_events(200)
    ev["t"][150:] -= 10**6  # a decreasing step between the chunks [0:100) [100:200) at 150
    np.save(tmp_path / "u.npy", ev)
    with pytest.raises(EventFormatError, match="not sorted|backwards"):
        list(iter_events(tmp_path / "u.npy", chunk_events=150))


def test_out_of_range_content(tmp_path, events):
    np.savez(tmp_path / "r.npz", events=events, sensor_size=np.array([10, 10]))
    with pytest.raises(EventFormatError, match="outside the sensor"):
        read_events(tmp_path / "r.npz")
    bad = events.copy()
    bad["p"][3] = 5
    np.save(tmp_path / "p.npy", bad)
    with pytest.raises(EventFormatError, match="polarity"):
        read_events(tmp_path / "p.npy")
    (tmp_path / "neg.csv").write_text("1,-2,3,1\n")
    with pytest.raises(EventFormatError, match="out of range"):
        read_events(tmp_path / "neg.csv")
    with h5py.File(tmp_path / "nan.h5", "w") as f:
        f.create_dataset("events", data=np.array([[1.0, 2.0, np.nan, 1.0]]))
    with pytest.raises(EventFormatError, match="NaN"):
        read_events(tmp_path / "nan.h5")


def test_wrong_structure(tmp_path):
    np.save(tmp_path / "plain.npy", np.arange(10))
    with pytest.raises(EventFormatError, match="structured"):
        read_events(tmp_path / "plain.npy")
    np.save(tmp_path / "fields.npy", np.zeros(3, [("a", "i8"), ("b", "i8")]))
    with pytest.raises(EventFormatError, match="expected fields"):
        read_events(tmp_path / "fields.npy")
    with h5py.File(tmp_path / "nokey.h5", "w") as f:
        f.create_dataset("frames", data=np.zeros(3))
    with pytest.raises(EventFormatError, match="no 'events'"):
        read_events(tmp_path / "nokey.h5")
    with h5py.File(tmp_path / "shape.h5", "w") as f:
        f.create_dataset("events", data=np.zeros((3, 5)))
    with pytest.raises(EventFormatError, match=r"\[N, 4\]"):
        read_events(tmp_path / "shape.h5")
    (tmp_path / "hdr.csv").write_text("time,col,row\n1,2,3\n")
    with pytest.raises(EventFormatError, match="lacks column"):
        read_events(tmp_path / "hdr.csv")


def test_writer_rejects_bad_events_and_leaves_nothing(tmp_path, events):
    target = tmp_path / "out.raw"
    with pytest.raises(EventFormatError, match="not sorted"):
        write_events(target, events[::-1].copy(), SENSOR)
    with pytest.raises(EventFormatError, match="sensor"):
        write_events(target, events, (8, 8))
    neg = events.copy()
    neg["t"] -= 10**7
    with pytest.raises(EventFormatError, match="negative"):
        write_events(target, neg, SENSOR)
    with pytest.raises(EventFormatError, match="cannot write format"):
        write_events(target, events, SENSOR, format="evt4")
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_the_old_file(tmp_path, events, monkeypatch):
    from edgevision.events.formats import camera_files

    target = write_events(tmp_path / "keep.raw", events, SENSOR)
    before = target.read_bytes()

    def broken(*args, **kwargs):
        raise EventFormatError(target, "disk full (simulated)")

    monkeypatch.setattr(camera_files, "write_camera_file", broken)
    with pytest.raises(EventFormatError, match="disk full"):
        write_events(target, events[:10], SENSOR)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.raw"]


def _valid_file(tmp_path_factory, fmt: str):
    path = tmp_path_factory.mktemp(f"fuzz_{fmt}") / f"ev{EXT[fmt]}"
    return write_events(path, random_events(300, seed=7), SENSOR, format=fmt).read_bytes()


FUZZ_FORMATS = ["npy", "npz", "csv", "evt2", "evt3", "dat", "aedat4", "h5"]


@pytest.mark.parametrize("fmt", FUZZ_FORMATS)
@pytest.mark.filterwarnings("ignore::edgevision.errors.TruncatedEventFileWarning")  # tested in test_truncated.py
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_mutated_files_raise_only_typed_errors(tmp_path_factory, fmt, data):
    original = _cached_file(tmp_path_factory, fmt)
    buf = bytearray(original)
    kind = data.draw(st.sampled_from(["truncate", "flip", "both"]))
    if kind in ("truncate", "both"):
        buf = buf[: data.draw(st.integers(0, len(buf)))]
    if kind in ("flip", "both") and buf:
        for pos in data.draw(st.lists(st.integers(0, len(buf) - 1), min_size=1, max_size=8)):
            buf[pos] ^= data.draw(st.integers(1, 255))
    path = tmp_path_factory.mktemp("m") / f"m{EXT[fmt]}"
    path.write_bytes(bytes(buf))
    try:
        events, chunks = _read_all(path)
    except (EventFormatError, EventValidationError):
        return
    assert events.dtype == EVENT_DTYPE
    assert (np.diff(events["t"]) >= 0).all()


_CACHE: dict[str, bytes] = {}


def _cached_file(tmp_path_factory, fmt: str) -> bytes:
    if fmt not in _CACHE:
        _CACHE[fmt] = _valid_file(tmp_path_factory, fmt)
    return _CACHE[fmt]


def test_evt21_is_refused_cleanly(tmp_path, capfd):
    path = tmp_path / "v21.raw"
    path.write_bytes(b"% evt 2.1\n% format EVT21;width=640;height=480\n% end\n" + bytes(64))
    with pytest.raises(EventFormatError, match="EVT 2.1 is not supported"):
        read_events(path)
    assert "panicked" not in capfd.readouterr().err


def test_aedat4_corrupt_sizes_are_refused_before_decoding(tmp_path, events):
    """Found by the 10,000-file fuzz run: a flipped bit in the header's data-table position or in a packet size made
    the decoder allocate ~1.5 GB and take 10+ s to fail; both are now refused from the headers, in milliseconds."""
    import struct
    import time

    path = write_events(tmp_path / "ev.aedat4", events, SENSOR, format="aedat4")
    data = path.read_bytes()
    size = struct.unpack_from("<i", data, 14)[0]  # IOHeader flatbuffer after the 14-byte magic and its size
    buf = data[18 : 18 + size]
    table = struct.unpack_from("<I", buf, 0)[0]
    vtable = table - struct.unpack_from("<i", buf, table)[0]
    table_pos_at = 18 + table + struct.unpack_from("<H", buf, vtable + 6)[0]  # field 1: dataTablePosition
    for name, at, bit, message in (("table", table_pos_at + 3, 0x40, "data table at byte"),
                                   ("packet", 18 + size + 7, 0x20, "packet at byte")):  # first packet's size
        bad = bytearray(data)
        bad[at] ^= bit
        (tmp_path / f"{name}.aedat4").write_bytes(bad)
        t0 = time.perf_counter()
        with pytest.raises(EventFormatError, match=message):
            read_events(tmp_path / f"{name}.aedat4")
        assert time.perf_counter() - t0 < 2.0
