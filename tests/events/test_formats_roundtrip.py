import numpy as np
import pytest

from edgevision.events.formats import WRITE_FORMATS, detect_format, iter_events, read_events, write_events

from events_testdata import SENSOR, random_events

EXT = {
    "npy": ".npy",
    "npz": ".npz",
    "h5": ".h5",
    "h5-3etplus": ".h5",
    "h5-tonic": ".h5",
    "csv": ".csv",
    "evt2": ".raw",
    "evt3": ".raw",
    "dat": ".dat",
    "aedat4": ".aedat4",
}
# formats that store the sensor size (the others infer it, or use their dataset layout's sensor)
STORES_SENSOR = {"npz", "h5", "csv", "evt2", "evt3", "dat", "aedat4"}


@pytest.mark.parametrize("fmt", WRITE_FORMATS)
def test_every_format_round_trips_exactly(tmp_path, events, fmt):
    path = write_events(tmp_path / f"ev{EXT[fmt]}", events, SENSOR, format=fmt)
    back, sensor = read_events(path)
    np.testing.assert_array_equal(back, events)
    assert back.dtype == events.dtype
    if fmt in STORES_SENSOR:
        assert sensor == SENSOR
    chunks = list(iter_events(path, chunk_events=700))
    np.testing.assert_array_equal(np.concatenate(chunks), events)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary files left


@pytest.mark.parametrize("fmt", ["evt2", "evt3", "dat", "aedat4", "h5", "csv"])
def test_absolute_unix_timestamps_round_trip(tmp_path, fmt):
    ev = random_events(500, t0=1_700_000_000_000_000)  # AEDAT4-style absolute microseconds
    path = write_events(tmp_path / f"ev{EXT[fmt]}", ev, SENSOR, format=fmt)
    np.testing.assert_array_equal(read_events(path)[0], ev)


@pytest.mark.parametrize("fmt", ["npy", "h5", "csv", "evt3", "aedat4"])
def test_empty_files_round_trip(tmp_path, fmt):
    ev = random_events(0)
    path = write_events(tmp_path / f"ev{EXT[fmt]}", ev, SENSOR, format=fmt)
    back, _ = read_events(path)
    assert back.shape == (0,)


def test_npy_mmap_read_is_zero_copy(tmp_path, events):
    path = write_events(tmp_path / "ev.npy", events, SENSOR)
    back, _ = read_events(path, mmap=True)
    assert not back.flags.writeable and not back.flags.owndata  # a view of the mapped file
    np.testing.assert_array_equal(back, events)


def test_detect_by_magic_beats_extension(tmp_path, events):
    path = write_events(tmp_path / "ev.h5", events, SENSOR)
    disguised = tmp_path / "ev.npy"
    path.rename(disguised)
    assert detect_format(disguised) == "h5"
    np.testing.assert_array_equal(read_events(disguised)[0], events)


def test_sensor_size_inferred_or_given(tmp_path, events):
    path = write_events(tmp_path / "ev.npy", events, SENSOR)
    ext = (int(events["x"].max()) + 1, int(events["y"].max()) + 1)
    assert read_events(path)[1] == ext
    assert read_events(path, sensor_size=(100, 100))[1] == (100, 100)
    chunks = iter_events(path, chunk_events=100)
    list(chunks)
    assert chunks.resolved_sensor() == ext
