"""3ET+ event-based eye-tracking data (AIS 2024 / CVPR 2025 challenge layout): loader, label windows, live camera.

The layout itself is described in :mod:`edgevision.datasets.layouts`. Works on the real release and on the
output of ``edgevision data synth-eye`` alike.

Label/slot convention (verified in EETChallenge/challenge_demo_code ``dataset/custom_transforms.py``,
``SliceByTimeEventsTargets``): slices start at the FIRST EVENT's timestamp ``t0`` and step by the window, and
slice ``k`` is paired with label ``k`` (after the labels are subsampled to the window rate). At 100 Hz this is:
label ``i`` belongs to the events with ``t0 + i * 10 ms <= t < t0 + (i + 1) * 10 ms``. Our generator starts
recordings at t = 0 and samples label ``i`` at the END of that slot (``(i + 1) * 10 ms``), the pupil position
after all of the slot's events.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgevision.datasets import layouts
from edgevision.datasets.layouts import LABEL_PERIOD_US, SENSOR_SIZE
from edgevision.errors import DatasetError
from edgevision.events.formats import read_events

__all__ = ["LABEL_PERIOD_US", "SENSOR_SIZE", "ThreeETPlus", "label_windows", "read_recording"]


def read_recording(path: str | Path) -> np.ndarray:
    """A recording's events file read by the one HDF5 reader (:mod:`edgevision.events.formats.hdf5`): EVENT_DTYPE
    inside the 640x480 sensor. Events out of time order are refused (EventFormatError naming the file and the
    first decreasing step), never sorted here."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: missing; expected the recording's events file <name>/<name>.h5")
    return read_events(path, format="h5", sensor_size=SENSOR_SIZE)[0]


def label_windows(
    events: np.ndarray, n_labels: int, period_us: int = LABEL_PERIOD_US, t0: int | None = None
) -> np.ndarray:
    """[n_labels, 2] (start, stop) indices: label i pairs with ``events[start:stop]``, its 10 ms slot.

    Slot i is ``[t0 + i * period, t0 + (i + 1) * period)`` with ``t0`` the first event's timestamp, as in the
    challenge demo code (pass ``t0=0`` to anchor the slots at the recording's clock instead).
    """
    t = events["t"]
    if t0 is None:
        t0 = int(t[0]) if t.shape[0] else 0
    edges = t0 + np.arange(n_labels + 1, dtype=np.int64) * int(period_us)
    idx = np.searchsorted(t, edges, side="left")
    return np.stack([idx[:-1], idx[1:]], axis=1)


class ThreeETPlus:
    """tonic-style dataset: ``ds[i] -> (events, labels)``, events EVENT_DTYPE (:func:`read_recording`), labels
    float32 [L, 3]."""

    sensor_size = (SENSOR_SIZE[0], SENSOR_SIZE[1], 2)

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        transform: Callable[[np.ndarray], Any] | None = None,
        target_transform: Callable[[np.ndarray], Any] | None = None,
    ) -> None:
        layouts.check_split(split)
        self.root = Path(root)
        self.split = split
        self.transform = transform
        self.target_transform = target_transform
        lst = layouts.split_list_path(self.root, split)
        if not lst.is_file():
            raise DatasetError(
                f"{lst}: missing; a 3ET+ root holds train_files.txt, val_files.txt, test_files.txt and train/, test/"
            )
        self.names = [n.strip() for n in lst.read_text().splitlines() if n.strip()]
        for name in self.names:
            d = layouts.recording_dir(self.root, split, name)
            if not d.is_dir():
                raise DatasetError(f"{d}: missing; {lst.name} lists {name!r} but its folder does not exist")

    def __len__(self) -> int:
        return len(self.names)

    def label_file(self, i: int) -> Path:
        """``label.txt``, or for a real test release its placeholder ``label_zeros.txt``."""
        name = self.names[i]
        path = layouts.label_path(self.root, self.split, name)
        if not path.is_file() and self.split == "test":
            path = layouts.placeholder_label_path(self.root, self.split, name)
        if not path.is_file():
            raise DatasetError(f"{path}: missing; expected one '(x, y, closed)' line per 10 ms")
        return path

    def __getitem__(self, i: int) -> tuple[Any, Any]:
        if not 0 <= i < len(self.names):
            raise IndexError(f"recording index {i} out of range for {len(self.names)} recordings")
        name = self.names[i]
        events = read_recording(layouts.events_path(self.root, self.split, name))
        path = self.label_file(i)
        labels = layouts.parse_labels(path.read_text(), path)
        if self.transform is not None:
            events = self.transform(events)
        if self.target_transform is not None:
            labels = self.target_transform(labels)
        return events, labels
