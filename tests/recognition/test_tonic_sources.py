"""tonic datasets read through tonic's own classes from tiny fixtures in the exact on-disk layouts."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io

from edgevision.errors import DatasetError
from edgevision.events.core import EVENT_DTYPE
from edgevision.recognition.sources import open_source


def _events(rng, n, w, h, t_max):
    t = np.sort(rng.integers(0, t_max, n))
    return t, rng.integers(0, w, n), rng.integers(0, h, n), rng.integers(0, 2, n)


def write_dvsgesture(root, rng):
    """ibmGestureTrain/userNN_lighting/<label>.npy with columns (x, y, p, t[ms]); the archive file must exist."""
    base = root / "DVSGesture"
    for folder, users in (("ibmGestureTrain", (1, 2)), ("ibmGestureTest", (24,))):
        for user in users:
            d = base / folder / f"user{user:02d}_fluorescent"
            d.mkdir(parents=True)
            for label in range(11):
                t, x, y, p = _events(rng, 200, 128, 128, 1500)
                np.save(d / f"{label}.npy", np.stack([x, y, p, t], axis=1).astype(np.int64))
    (base / "ibmGestureTrain.tar.gz").touch()
    (base / "ibmGestureTest.tar.gz").touch()


def write_nmnist(root, rng):
    """Train|Test/<digit>/<id>.bin: 5 bytes per event (x, y, p<<7 | t[22:16], t[15:8], t[7:0])."""
    base = root / "NMNIST"
    for folder in ("Train", "Test"):
        for digit in range(10):
            d = base / folder / str(digit)
            d.mkdir(parents=True)
            t, x, y, p = _events(rng, 50, 34, 34, 300_000)
            raw = np.stack([x, y, (p << 7) | (t >> 16), (t >> 8) & 255, t & 255], axis=1).astype(np.uint8)
            raw.tofile(d / "00001.bin")
        (base / f"{folder.lower()}.zip").touch()
    return t, x, y, p


def write_asldvs(root, rng):
    """<letter>/<letter>_NNNN.mat with column vectors ts, x, y, pol; tonic flips y (179 - y)."""
    base = root / "ASLDVS"
    for letter in "abc":
        d = base / letter
        d.mkdir(parents=True)
        for k in range(5):
            t, x, y, p = _events(rng, 80, 240, 180, 100_000)
            scipy.io.savemat(d / f"{letter}_{k:04d}.mat", {"ts": t[:, None], "x": x[:, None], "y": y[:, None], "pol": p[:, None]})
    (base / "ASLDVS.zip").touch()


def test_dvsgesture_through_tonic(tmp_path):
    write_dvsgesture(tmp_path, np.random.default_rng(0))
    src = open_source(f"dvsgesture:{tmp_path}")
    assert len(src) == 33 and src.sensor_size == (128, 128) and len(src.classes) == 11
    assert set(src.subjects[i] for i in src.indices("test")) == {"user24"}
    assert set(src.subjects[i] for i in src.indices("train")) == {"user01", "user02"}
    ev = src.load(0)
    assert ev.dtype == EVENT_DTYPE and ev.shape == (200,) and np.all(np.diff(ev["t"]) >= 0)
    assert ev["t"].max() >= 1000  # ms -> us
    src10 = open_source(f"dvsgesture10:{tmp_path}")
    assert len(src10) == 30 and 10 not in set(src10.labels.tolist()) and len(src10.classes) == 10


def test_nmnist_through_tonic(tmp_path):
    t, x, y, p = write_nmnist(tmp_path, np.random.default_rng(1))
    src = open_source(f"nmnist:{tmp_path}")
    assert len(src) == 20 and src.sensor_size == (34, 34)
    last = src.recordings.index("NMNIST/Test/9/00001.bin")
    assert src.labels[last] == 9 and src.split[last]
    ev = src.load(last)
    np.testing.assert_array_equal(ev["t"], t)
    np.testing.assert_array_equal(ev["x"], x)
    np.testing.assert_array_equal(ev["p"], p)


def test_asldvs_through_tonic(tmp_path):
    write_asldvs(tmp_path, np.random.default_rng(2))
    src = open_source(f"asldvs:{tmp_path}")
    assert len(src) == 15 and src.sensor_size == (240, 180)
    assert sorted(set(src.labels.tolist())) == [0, 1, 2]
    raw = scipy.io.loadmat(tmp_path / "ASLDVS" / "b" / "b_0003.mat")
    ev = src.load(src.recordings.index("ASLDVS/b/b_0003.mat"))
    order = np.argsort(raw["ts"].ravel(), kind="stable")
    np.testing.assert_array_equal(ev["y"], 179 - raw["y"].ravel()[order])


def test_missing_layout_never_downloads(tmp_path):
    (tmp_path / "NMNIST").mkdir()
    with pytest.raises(DatasetError, match="never downloads"):
        open_source(f"nmnist:{tmp_path}")
    with pytest.raises(DatasetError, match="synth-gesture"):
        open_source(str(tmp_path / "nope"))


def test_ncaltech101_through_tonic(tmp_path):
    """Caltech101/<category>/image_NNNN.bin in the N-MNIST binary format; tonic shifts x, y to start at 0."""
    base = tmp_path / "NCALTECH101"
    rng = np.random.default_rng(3)
    for cat in ("airplanes", "BACKGROUND_Google"):
        d = base / "Caltech101" / cat
        d.mkdir(parents=True)
        for k in range(3):
            t, x, y, p = _events(rng, 40, 230, 170, 300_000)
            raw = np.stack([x + 5, y + 3, (p << 7) | (t >> 16), (t >> 8) & 255, t & 255], axis=1).astype(np.uint8)
            raw.tofile(d / f"image_{k:04d}.bin")
    (base / "N-Caltech101-archive.zip").touch()
    src = open_source(f"ncaltech101:{tmp_path}")
    assert len(src) == 6 and src.classes == ["BACKGROUND_Google", "airplanes"]
    ev = src.load(src.recordings.index("NCALTECH101/Caltech101/airplanes/image_0002.bin"))
    assert ev["x"].min() == 0 and ev["y"].min() == 0 and ev.dtype == EVENT_DTYPE
