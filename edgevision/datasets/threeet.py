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

import h5py
import numpy as np

from edgevision.datasets import layouts
from edgevision.datasets.layouts import LABEL_PERIOD_US, SENSOR_SIZE
from edgevision.errors import DatasetError
from edgevision.events.core import make_events

__all__ = ["LABEL_PERIOD_US", "SENSOR_SIZE", "ThreeETPlus", "label_windows", "read_events_h5"]


def read_events_h5(path: str | Path) -> np.ndarray:
    """Read a release ``.h5`` (dataset ``events``: compound t/x/y/p rows or an [N, 4] array) -> sorted EVENT_DTYPE."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: missing; expected the recording's events file <name>/<name>.h5")
    try:
        with h5py.File(path, "r") as f:
            if layouts.H5_DATASET not in f:
                raise DatasetError(f"{path}: no dataset {layouts.H5_DATASET!r} (found {list(f.keys())})")
            raw = f[layouts.H5_DATASET][()]
    except OSError as exc:
        raise DatasetError(f"{path}: not a readable HDF5 file ({exc})") from exc
    if raw.dtype.names is not None:
        missing = [c for c in ("t", "x", "y", "p") if c not in raw.dtype.names]
        if missing:
            raise DatasetError(f"{path}: events lack field(s) {missing}; expected compound fields t, x, y, p")
        t, x, y, p = (raw[c] for c in ("t", "x", "y", "p"))
    elif raw.ndim == 2 and raw.shape[1] == 4:
        t, x, y, p = raw.T
    else:
        raise DatasetError(f"{path}: events have shape {raw.shape} dtype {raw.dtype}; expected (t, x, y, p) rows")
    events = make_events(t.astype(np.int64), x, y, p)
    if events.shape[0] > 1 and np.any(events["t"][1:] < events["t"][:-1]):
        events = events[np.argsort(events["t"], kind="stable")]
    return events


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
    """tonic-style dataset: ``ds[i] -> (events, labels)``, events EVENT_DTYPE sorted, labels float32 [L, 3]."""

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
        events = read_events_h5(layouts.events_path(self.root, self.split, name))
        path = self.label_file(i)
        labels = layouts.parse_labels(path.read_text(), path)
        if self.transform is not None:
            events = self.transform(events)
        if self.target_transform is not None:
            labels = self.target_transform(labels)
        return events, labels
