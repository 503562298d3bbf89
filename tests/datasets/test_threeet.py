import json

import h5py
import numpy as np
import pytest

from edgevision.datasets.threeet import LABEL_PERIOD_US, SENSOR_SIZE, ThreeETPlus, label_windows
from edgevision.datasets.writer import verify_manifest, write_recording
from edgevision.errors import DatasetError, EventFormatError
from edgevision.events.core import EVENT_DTYPE, make_events, validate_events
from edgevision.events.formats import read_events
from edgevision.events.formats.hdf5 import THREEET_PLUS_DTYPE
from edgevision.sim.eye_generator import generate_dataset, plan_recordings


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("eye")
    summary = generate_dataset(root, recordings=4, seconds=0.2, seed=1, per_subject=1, tonic_layout=True)
    return root, summary


def test_summary_and_manifest(dataset):
    root, summary = dataset
    assert summary["recordings"] == 4 and summary["splits"] == {"train": 2, "val": 1, "test": 1}
    assert summary["events"] > 0 and 0 <= summary["blink_fraction"] <= 1
    assert verify_manifest(root) > 4 * 2
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["complete"] and manifest["seed"] == 1


def test_layout_read_back_by_loader(dataset):
    root, _ = dataset
    seen = {}
    for split in ("train", "val", "test"):
        ds = ThreeETPlus(root, split)
        assert ds.sensor_size == (640, 480, 2) and SENSOR_SIZE == (640, 480)
        for i in range(len(ds)):
            ev, labels = ds[i]
            validate_events(ev, SENSOR_SIZE)
            assert ev.dtype == EVENT_DTYPE
            assert labels.dtype == np.float32 and labels.shape == (20, 3)
            seen[ds.names[i]] = split
    subjects = {}
    for name, split in seen.items():
        subjects.setdefault(name.split("_")[0], set()).add(split)
    assert all(len(s) == 1 for s in subjects.values())  # no subject in two splits


def test_files_read_as_the_challenge_demo_loader_does(dataset):
    root, _ = dataset
    name = (root / "val_files.txt").read_text().split()[0]
    rec = root / "train" / name  # val recordings live under train/, like the release
    with h5py.File(rec / f"{name}.h5", "r") as f:
        raw = f["events"][:]
        assert raw.dtype == np.dtype([("t", "<u8"), ("x", "<u8"), ("y", "<u8"), ("p", "<u8")])
        events = raw.astype(np.dtype([("t", int), ("x", int), ("y", int), ("p", int)]))
        events["p"] = events["p"] * 2 - 1
    assert set(np.unique(events["p"])) <= {-1, 1}
    with open(rec / "label.txt") as f:
        target = np.array([list(map(float, line.strip("()\n").split(", "))) for line in f], np.float32)
    ev, labels = ThreeETPlus(root, "val")[0]
    np.testing.assert_array_equal(target, labels)
    np.testing.assert_array_equal(events["t"], ev["t"])
    test_name = (root / "test_files.txt").read_text().split()[0]
    zeros = (root / "test" / test_name / "label_zeros.txt").read_text().splitlines()
    assert zeros[0] == "(0.00, 0.00, 0)" and len(zeros) == 20


def test_tonic_loads_the_tonic_layout(dataset):
    import tonic

    root, _ = dataset
    ds = tonic.datasets.ThreeET_Eyetracking(str(root / "tonic"), split="train")
    assert len(ds) == 2
    ev, target = ds[0]
    assert ev["x"].max() < 240 and ev["y"].max() < 180
    assert target.shape == (20, 3)
    ours, labels = ThreeETPlus(root, "train")[0]
    assert ev.shape[0] == ours.shape[0]
    np.testing.assert_allclose(target[:, :2], labels[:, :2] * 240 / 640, atol=0.01)


def test_label_windows_follow_the_demo_slicing():
    t = np.array([5, 100, 10_004, 10_005, 25_000, 39_999, 40_004])
    ev = make_events(t, np.zeros(7), np.zeros(7), np.ones(7))
    w = label_windows(ev, 4)
    # slots start at the first event (t0 = 5): [5, 10005), [10005, 20005), [20005, 30005), [30005, 40005)
    assert w.tolist() == [[0, 3], [3, 4], [4, 5], [5, 7]]
    assert label_windows(ev, 2, t0=0).tolist() == [[0, 2], [2, 4]]
    assert LABEL_PERIOD_US == 10_000


def test_missing_or_malformed_layout_raises_dataset_error(tmp_path):
    with pytest.raises(DatasetError, match="train_files.txt"):
        ThreeETPlus(tmp_path, "train")
    (tmp_path / "train_files.txt").write_text("9_9\n")
    with pytest.raises(DatasetError, match="9_9"):
        ThreeETPlus(tmp_path, "train")
    ev = make_events([0, 1], [1, 2], [1, 2], [0, 1])
    write_recording(tmp_path, "train", "9_9", ev, np.zeros((1, 3)))
    (tmp_path / "train" / "9_9" / "label.txt").write_text("1, 2, 3\n")
    with pytest.raises(DatasetError, match="line 1"):
        ThreeETPlus(tmp_path, "train")[0]
    with pytest.raises(DatasetError, match="manifest"):
        verify_manifest(tmp_path)


def test_recordings_are_read_by_the_event_file_reader(tmp_path):
    """A recording's .h5 goes through edgevision.events.formats: events out of time order or outside the 640x480
    sensor are refused (never sorted) with the reader's one-line error naming the file."""
    ev = make_events([0, 10, 20], [1, 2, 3], [1, 2, 3], [0, 1, 0])
    (tmp_path / "train_files.txt").write_text("1_1\n")
    write_recording(tmp_path, "train", "1_1", ev, np.zeros((1, 3)))
    ds = ThreeETPlus(tmp_path, "train")
    np.testing.assert_array_equal(ds[0][0], ev)
    h5 = tmp_path / "train" / "1_1" / "1_1.h5"
    for order, x, problem in (([0, 2, 1], 3, "timestamps not sorted (first decreasing step at event 2: 20 -> 10 us)"),
                              ([0, 1, 2], 640, "x=640 outside the sensor (640x480)")):
        rows = np.zeros(3, THREEET_PLUS_DTYPE)
        rows["t"], rows["x"] = np.array([0, 10, 20])[order], [1, 2, x]
        with h5py.File(h5, "w") as f:
            f.create_dataset("events", data=rows)
        with pytest.raises(EventFormatError) as got:
            ds[0]
        assert str(got.value).startswith(f"{h5}: {problem}") and "\n" not in str(got.value)
        with pytest.raises(EventFormatError) as direct:
            read_events(h5, sensor_size=SENSOR_SIZE)
        assert str(direct.value) == str(got.value)
    h5.unlink()
    with pytest.raises(DatasetError, match="1_1.h5: missing"):
        ds[0]


def test_manifest_detects_corruption(dataset, tmp_path):
    import shutil

    root, _ = dataset
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    name = (copy / "train_files.txt").read_text().split()[0]
    with open(copy / "train" / name / "label.txt", "a") as f:
        f.write("(1.00, 2.00, 0)\n")
    with pytest.raises(DatasetError, match="checksum"):
        verify_manifest(copy)


def test_plan_splits_by_subject():
    plan = plan_recordings(24, 2)
    splits = {}
    for split, sid, _ in plan:
        splits.setdefault(sid, set()).add(split)
    assert len(splits) == 12 and all(len(v) == 1 for v in splits.values())
    assert [s for s, _, _ in plan].count("train") == 16
