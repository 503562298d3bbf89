"""On-disk dataset layouts, described once and used by both the writer and the readers.

3ET+ (AIS 2024 / CVPR 2025 event-based eye-tracking challenge release, sensor 640x480)::

    <root>/train_files.txt, val_files.txt, test_files.txt   one recording name per line
    <root>/train/<name>/<name>.h5     dataset "events": compound rows (t, x, y, p), each '<u8'; t in us, p in {0, 1}
    <root>/train/<name>/label.txt     one line "(x, y, closed)" per 10 ms (100 Hz), x/y in sensor pixels
    <root>/test/<name>/<name>.h5
    <root>/test/<name>/label_zeros.txt  the real release ships only this all-zero placeholder for test recordings

Train and val recordings both live under ``train/`` (the split lists decide); the demo loader
(EETChallenge/challenge_demo_code ``dataset/ThreeET_plus.py``) reads ``f["events"][:]``, converts p to -1/+1 and
parses labels with ``line.strip('()\\n').split(', ')``. Our generator also writes the true ``label.txt`` for test
recordings (the real release withholds them) beside the placeholder.

tonic ``ThreeET_Eyetracking`` (original synthetic 3ET, sensor 240x180)::

    <save_to>/ThreeET_Eyetracking/ThreeET_Eyetracking.zip   tonic treats the data as present when this file exists
    <save_to>/ThreeET_Eyetracking/train_files.txt, val_files.txt
    <save_to>/ThreeET_Eyetracking/data/<name>.h5      dataset "events": int array [N, 4] columns t, x, y, p
    <save_to>/ThreeET_Eyetracking/labels/<name>.txt   whitespace-separated rows "x y closed" (240x180 pixels)
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from edgevision.errors import DatasetError
from edgevision.events.formats.hdf5 import THREEET_PLUS_DTYPE, THREEET_PLUS_SENSOR, TONIC_THREEET_SENSOR

LABEL_PERIOD_US = 10_000
SENSOR_SIZE = THREEET_PLUS_SENSOR
SPLITS = ("train", "val", "test")
SPLIT_DIRS = {"train": "train", "val": "train", "test": "test"}
H5_DATASET = "events"
H5_EVENT_DTYPE = THREEET_PLUS_DTYPE
LABEL_FILE = "label.txt"
PLACEHOLDER_LABEL_FILE = "label_zeros.txt"
MANIFEST_FILE = "manifest.json"

TONIC_FOLDER = "ThreeET_Eyetracking"
TONIC_ZIP = "ThreeET_Eyetracking.zip"
TONIC_SENSOR_SIZE = TONIC_THREEET_SENSOR
TONIC_SPLITS = ("train", "val")

_LABEL_LINE = re.compile(r"^\(\s*([-+0-9.eE]+)\s*,\s*([-+0-9.eE]+)\s*,\s*([-+0-9.eE]+)\s*\)$")


def split_list_path(root: str | Path, split: str) -> Path:
    """``<root>/<split>_files.txt``."""
    check_split(split)
    return Path(root) / f"{split}_files.txt"


def recording_dir(root: str | Path, split: str, name: str) -> Path:
    """``<root>/train/<name>`` for train and val, ``<root>/test/<name>`` for test."""
    check_split(split)
    return Path(root) / SPLIT_DIRS[split] / name


def events_path(root: str | Path, split: str, name: str) -> Path:
    """``<recording dir>/<name>.h5``."""
    return recording_dir(root, split, name) / f"{name}.h5"


def label_path(root: str | Path, split: str, name: str) -> Path:
    """``<recording dir>/label.txt``."""
    return recording_dir(root, split, name) / LABEL_FILE


def placeholder_label_path(root: str | Path, split: str, name: str) -> Path:
    """``<recording dir>/label_zeros.txt`` (the real test release's all-zero labels)."""
    return recording_dir(root, split, name) / PLACEHOLDER_LABEL_FILE


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}; expected one of {SPLITS}")


def format_labels(labels: np.ndarray) -> str:
    """Rows (x, y, closed) -> the release's text: ``(x, y, closed)`` per line, closed as an integer."""
    labels = np.asarray(labels, dtype=np.float64)
    if labels.ndim != 2 or labels.shape[1] != 3:
        raise DatasetError(f"labels must have shape [L, 3] (x, y, closed), got {labels.shape}")
    return "".join(f"({x:.2f}, {y:.2f}, {int(round(c))})\n" for x, y, c in labels)


def parse_labels(text: str, source: str | Path) -> np.ndarray:
    """The release's label text -> float32 [L, 3]; raises DatasetError naming the file and line."""
    rows = []
    for i, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        m = _LABEL_LINE.match(line)
        if m is None:
            raise DatasetError(f"{source}: line {i} is {line!r}; expected '(x, y, closed)' with numbers")
        rows.append([float(v) for v in m.groups()])
    return np.asarray(rows, dtype=np.float32).reshape(-1, 3)


def format_tonic_labels(labels: np.ndarray) -> str:
    """Rows (x, y, closed) -> whitespace-separated lines, as tonic's ThreeET_Eyetracking parses them."""
    return "".join(f"{x:.2f} {y:.2f} {int(round(c))}\n" for x, y, c in np.asarray(labels, dtype=np.float64))


def tonic_data_dir(save_to: str | Path) -> Path:
    """``<save_to>/ThreeET_Eyetracking``."""
    return Path(save_to) / TONIC_FOLDER


def tonic_marker_path(save_to: str | Path) -> Path:
    """``<save_to>/ThreeET_Eyetracking/ThreeET_Eyetracking.zip`` (tonic's ``location_on_system/filename``)."""
    return tonic_data_dir(save_to) / TONIC_ZIP


def tonic_events_path(save_to: str | Path, name: str) -> Path:
    return tonic_data_dir(save_to) / "data" / f"{name}.h5"


def tonic_label_path(save_to: str | Path, name: str) -> Path:
    return tonic_data_dir(save_to) / "labels" / f"{name}.txt"


def tonic_split_list_path(save_to: str | Path, split: str) -> Path:
    if split not in TONIC_SPLITS:
        raise DatasetError(f"tonic's ThreeET_Eyetracking has splits {TONIC_SPLITS}, not {split!r}")
    return tonic_data_dir(save_to) / f"{split}_files.txt"
