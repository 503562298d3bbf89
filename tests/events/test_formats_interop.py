"""Files written by other libraries read back identically, and ours read identically in theirs."""

import h5py
import numpy as np
import pytest
import tonic
import tonic.transforms as T
from events_testdata import SENSOR, random_events
from expelliarmus import Wizard

from edgevision.events.formats import read_events, write_events
from edgevision.events.representations import count_histogram

EXPELLIARMUS_DTYPE = np.dtype([("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("p", "u1")])


def test_3etplus_layout_written_by_h5py(tmp_path, events):
    # the 3ET+ release: dataset "events" of uint64 fields t, x, y, p; no size attributes; 640x480 sensor
    table = np.zeros(events.shape[0], [("t", "<u8"), ("x", "<u8"), ("y", "<u8"), ("p", "<u8")])
    for f in "txyp":
        table[f] = events[f]
    path = tmp_path / "1_1.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("events", data=table)
    back, sensor = read_events(path)
    np.testing.assert_array_equal(back, events)
    assert sensor == (640, 480)


def test_tonic_threeet_layout_written_by_h5py(tmp_path, events):
    path = tmp_path / "user1.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("events", data=np.stack([events[n].astype(np.int64) for n in "txyp"], axis=1))
    back, sensor = read_events(path)
    np.testing.assert_array_equal(back, events)
    assert sensor == (240, 180)


def test_group_of_columns_layout(tmp_path, events):
    path = tmp_path / "cols.h5"
    with h5py.File(path, "w") as f:
        for name, field in (("ts", "t"), ("xs", "x"), ("ys", "y"), ("ps", "p")):
            f.create_dataset(f"events/{name}", data=events[field])
    np.testing.assert_array_equal(read_events(path)[0], events)


def test_tonic_threeet_dataset_reads_our_file(tmp_path, events):
    root = tmp_path / "ThreeET_Eyetracking"
    (root / "data").mkdir(parents=True)
    (root / "labels").mkdir()
    (root / "ThreeET_Eyetracking.zip").write_bytes(b"")  # tonic treats the data as present when this exists
    (root / "train_files.txt").write_text("user1\n")
    (root / "val_files.txt").write_text("")
    (root / "labels" / "user1.txt").write_text("0.5 0.5 0\n")
    write_events(root / "data" / "user1.h5", events, SENSOR, format="h5-tonic")
    theirs, _ = tonic.datasets.ThreeET_Eyetracking(str(tmp_path), split="train")[0]
    for f in "txyp":
        np.testing.assert_array_equal(theirs[f], events[f])


@pytest.mark.parametrize("encoding,ext", [("evt2", ".raw"), ("dat", ".dat")])
def test_expelliarmus_files_read_identically(tmp_path, events, encoding, ext):
    arr = np.zeros(events.shape[0], EXPELLIARMUS_DTYPE)
    for f in "txyp":
        arr[f] = events[f]
    path = tmp_path / f"ex{ext}"
    Wizard(encoding=encoding).save(path, arr)
    back, _ = read_events(path, sensor_size=SENSOR)
    np.testing.assert_array_equal(back, events)


@pytest.mark.parametrize("encoding,ext", [("evt2", ".raw"), ("dat", ".dat")])
def test_expelliarmus_reads_our_files(tmp_path, events, encoding, ext):
    # EVT3 is left out on purpose: expelliarmus decodes EVT3 time wraps wrongly (test_evt3_spec.py checks ours)
    path = write_events(tmp_path / f"ours{ext}", events, SENSOR, format=encoding)
    theirs = Wizard(encoding=encoding).read(path)
    for f in "txyp":
        np.testing.assert_array_equal(theirs[f], events[f])


@pytest.mark.parametrize("ext", [".raw", ".aedat4", ".dat", ".csv"])
def test_faery_reads_our_files(tmp_path, events, ext):
    import faery

    path = write_events(tmp_path / f"ours{ext}", events, SENSOR)
    decoder = faery.events_stream_from_file(path)
    theirs = np.concatenate(list(decoder))
    if ext != ".csv":  # faery's CSV reader does not parse the size from the header
        assert tuple(decoder.dimensions()) == SENSOR
    np.testing.assert_array_equal(theirs["t"], events["t"])
    np.testing.assert_array_equal(theirs["x"], events["x"])
    np.testing.assert_array_equal(theirs["on"], events["p"].astype(bool))


def test_tonic_transforms_accept_our_arrays(events):
    frames = T.ToFrame(sensor_size=(*SENSOR, 2), event_count=events.shape[0])(events)
    np.testing.assert_array_equal(frames[0], count_histogram(events, SENSOR))
    kept = T.Denoise(filter_time=10_000)(events)
    assert kept.dtype == events.dtype and 0 < kept.shape[0] <= events.shape[0]
    assert np.isin(kept, events).all()
    down = T.Downsample(spatial_factor=0.5)(events)
    assert down.shape == events.shape


def test_tonic_frame_matches_on_larger_sensor():
    ev = random_events(2000, sensor=(640, 480), seed=3)
    frames = T.ToFrame(sensor_size=(640, 480, 2), event_count=ev.shape[0])(ev)
    np.testing.assert_array_equal(frames[0], count_histogram(ev, (640, 480)))
