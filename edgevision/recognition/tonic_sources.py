"""tonic datasets (DVSGesture, NMNIST, ASLDVS, NCALTECH101) read through tonic's own classes, offline.

tonic treats a dataset as present only when its archive file and a full count of extracted files exist
(100 ``.npy`` for DVSGesture, 10000 ``.bin`` for NMNIST, 100800 ``.mat`` for ASL-DVS) and otherwise
downloads. The subclasses here accept any extracted subset in tonic's layout and never download: a missing
layout raises :class:`DatasetError` naming the folder tonic expects.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tonic

from edgevision.errors import DatasetError
from edgevision.events.core import make_events, sort_events
from edgevision.recognition.recordings import Source, hash_split

# Extracted folder (relative to ``<ROOT>/<ClassName>/``) and file type of each class.
LAYOUTS = {
    "DVSGesture": (("ibmGestureTrain", "ibmGestureTest"), ".npy"),
    "NMNIST": (("Train", "Test"), ".bin"),
    "ASLDVS": (("",), ".mat"),
    "NCALTECH101": (("Caltech101",), ".bin"),
}
NCALTECH_SENSOR = (240, 180)  # tonic gives no sensor size (it shifts each recording to start at 0); ATIS crops fit


def _offline(cls: type) -> type:
    """A subclass of the tonic dataset ``cls`` that reads a (possibly partial) extracted copy, never downloading."""
    folders, ext = LAYOUTS[cls.__name__]

    def _check_exists(self) -> bool:
        return any(Path(self.location_on_system, self.folder_name).glob(f"**/*{ext}"))

    def download(self) -> None:
        where = Path(self.location_on_system, self.folder_name)
        raise DatasetError(
            f"{where}: no {ext} files; extract the {cls.__name__} archive there "
            f"(tonic layout, folders {[f or '.' for f in folders]}); edgevision never downloads"
        )

    # Same class name: tonic derives the folder ``<save_to>/<ClassName>`` from it.
    return type(cls.__name__, (cls,), {"_check_exists": _check_exists, "download": download})


OfflineDVSGesture = _offline(tonic.datasets.DVSGesture)
OfflineNMNIST = _offline(tonic.datasets.NMNIST)
OfflineASLDVS = _offline(tonic.datasets.ASLDVS)
OfflineNCALTECH101 = _offline(tonic.datasets.NCALTECH101)


def to_events(raw: np.ndarray) -> np.ndarray:
    """A tonic structured array (any field order/dtypes, p bool or int) -> sorted EVENT_DTYPE array."""
    raw = raw.reshape(-1)
    return sort_events(make_events(raw["t"].astype(np.int64), raw["x"], raw["y"], raw["p"]))


def _check_root(root: str) -> Path:
    path = Path(root).expanduser()
    if not path.is_dir():
        raise DatasetError(f"{path}: dataset root does not exist (pass the folder that contains the tonic class folder)")
    return path


def open_tonic(kind: str, root: str) -> Source:
    """Open ``dvsgesture``/``dvsgesture10``/``nmnist``/``asldvs``/``ncaltech101`` under ``root`` as a :class:`Source`."""
    path = _check_root(root)
    if kind in ("dvsgesture", "dvsgesture10"):
        return _dvsgesture(path, drop_other=kind == "dvsgesture10")
    if kind == "nmnist":
        return _nmnist(path)
    if kind == "asldvs":
        return _asldvs(path)
    if kind == "ncaltech101":
        return _ncaltech101(path)
    raise DatasetError(f"unknown tonic dataset kind {kind!r}")


def _dvsgesture(path: Path, drop_other: bool) -> Source:
    """Official split by subject (users 1-23 train, 24-29 test); a recording is one gesture of one user/lighting."""
    parts = [OfflineDVSGesture(str(path), train=True), OfflineDVSGesture(str(path), train=False)]
    items, labels, recs, subjects, split = [], [], [], [], []
    for is_test, ds in enumerate(parts):
        for i, (file, target, user, light) in enumerate(zip(ds.data, ds.targets, ds.users, ds.lighting)):
            if drop_other and target == 10:
                continue
            items.append((ds, i))
            labels.append(target)
            recs.append(f"user{user:02d}_{light}/{Path(file).stem}")
            subjects.append(f"user{user:02d}")
            split.append(bool(is_test))
    classes = list(tonic.datasets.DVSGesture.classes[: 10 if drop_other else 11])
    return Source(
        "dvsgesture10" if drop_other else "dvsgesture",
        tonic.datasets.DVSGesture.sensor_size[:2],
        classes,
        np.asarray(labels, np.int64),
        recs,
        subjects,
        np.asarray(split, bool),
        lambda k: to_events(items[k][0][items[k][1]][0]),
    )


def _nmnist(path: Path) -> Source:
    """Official split: every ``.bin`` under ``NMNIST/Test`` is a test recording, under ``NMNIST/Train`` a training
    one. A root with only ``Train`` holds out 20 % of it by hash of the file name (validation); a root with only
    ``Test`` has an empty train part (evaluation only). ``official_test`` marks the recordings under ``Test``."""
    parts = []
    for train in (True, False):
        try:
            parts.append((not train, OfflineNMNIST(str(path), train=train)))
        except DatasetError:
            pass
    if not parts:
        raise DatasetError(
            f"{path / 'NMNIST'}: no .bin files under Train/ or Test/; extract the NMNIST archives there "
            "(tonic layout NMNIST/Train|Test/<digit>/<id>.bin); edgevision never downloads"
        )
    items, labels, recs, split = [], [], [], []
    for is_test, ds in parts:
        for i, (file, target) in enumerate(zip(ds.data, ds.targets)):
            items.append((ds, i))
            labels.append(target)
            recs.append(Path(file).relative_to(path).as_posix())
            split.append(is_test)
    official = np.asarray(split, bool)
    split_arr = official.copy() if official.any() else hash_split(recs)
    return Source(
        "nmnist",
        tonic.datasets.NMNIST.sensor_size[:2],
        list(tonic.datasets.NMNIST.classes),
        np.asarray(labels, np.int64),
        recs,
        list(recs),
        split_arr,
        lambda k: to_events(items[k][0][items[k][1]][0]),
        official_test=official,
    )


def _asldvs(path: Path) -> Source:
    """No official split: 20 % of recordings (by hash of the file name) are the test set."""
    ds = OfflineASLDVS(str(path))
    recs = [str(Path(f).relative_to(path)) for f in ds.data]
    return Source(
        "asldvs",
        tonic.datasets.ASLDVS.sensor_size[:2],
        list(tonic.datasets.ASLDVS.classes),
        np.asarray(ds.targets, np.int64),
        recs,
        list(recs),
        hash_split(recs),
        lambda k: to_events(ds[k][0]),
    )


def _ncaltech101(path: Path) -> Source:
    """Classes are the category folders (sorted); 20 % of recordings (by hash) are the test set; coordinates
    beyond the 240x180 frame are clipped to its border."""
    ds = OfflineNCALTECH101(str(path))
    classes = sorted(set(ds.targets))
    recs = [str(Path(f).relative_to(path)) for f in ds.data]
    w, h = NCALTECH_SENSOR

    def load(k: int) -> np.ndarray:
        ev = to_events(ds[k][0])
        np.minimum(ev["x"], w - 1, out=ev["x"])
        np.minimum(ev["y"], h - 1, out=ev["y"])
        return ev

    return Source(
        "ncaltech101",
        NCALTECH_SENSOR,
        classes,
        np.asarray([classes.index(t) for t in ds.targets], np.int64),
        recs,
        list(recs),
        hash_split(recs),
        load,
    )
