"""Write recordings in the 3ET+ release layout (and optionally tonic's ThreeET layout), atomically.

Every file is written to a temporary sibling and renamed; a dataset is complete only once
``manifest.json`` (with a SHA-256 per file) is written last by :func:`write_manifest`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from edgevision.atomic import atomic_path
from edgevision.datasets import layouts
from edgevision.errors import DatasetError


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file (streamed in 4 MiB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _write_h5(target: Path, data: np.ndarray, compression: str | None) -> None:
    with atomic_path(target) as tmp:
        with h5py.File(tmp, "w") as f:
            f.create_dataset(layouts.H5_DATASET, data=data, compression=compression)
        tmp.chmod(0o644)


def _write_text(target: Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
        tmp.chmod(0o644)


def _to_release_rows(events: np.ndarray) -> np.ndarray:
    rows = np.empty(events.shape[0], dtype=layouts.H5_EVENT_DTYPE)
    for field in ("t", "x", "y", "p"):
        rows[field] = events[field]
    return rows


def write_recording(
    root: str | Path,
    split: str,
    name: str,
    events: np.ndarray,
    labels: np.ndarray,
    compression: str | None = None,
) -> dict[str, str]:
    """Write one recording (events EVENT_DTYPE sorted, labels [L, 3]); returns {relative path: sha256}.

    Test recordings also get the release's all-zero ``label_zeros.txt`` so the challenge demo loader reads them.
    """
    if events.shape[0] and np.any(events["t"] < 0):
        raise DatasetError(f"{name}: negative timestamps cannot be stored as the release's uint64 t")
    root = Path(root)
    files = [layouts.events_path(root, split, name), layouts.label_path(root, split, name)]
    _write_h5(files[0], _to_release_rows(events), compression)
    _write_text(files[1], layouts.format_labels(labels))
    if split == "test":
        files.append(layouts.placeholder_label_path(root, split, name))
        _write_text(files[2], layouts.format_labels(np.zeros_like(labels)))
    return {str(p.relative_to(root)): sha256_file(p) for p in files}


def write_split_lists(root: str | Path, names: dict[str, list[str]]) -> dict[str, str]:
    """Write ``<split>_files.txt`` for every split in ``names``; returns {relative path: sha256}."""
    out = {}
    for split, split_names in names.items():
        path = layouts.split_list_path(root, split)
        _write_text(path, "".join(f"{n}\n" for n in split_names))
        out[path.name] = sha256_file(path)
    return out


def write_manifest(root: str | Path, files: dict[str, str], info: dict[str, Any]) -> Path:
    """Write ``manifest.json`` last: the marker that the dataset is complete."""
    path = Path(root) / layouts.MANIFEST_FILE
    _write_text(path, json.dumps({"complete": True, **info, "files": files}, indent=1, sort_keys=True))
    return path


def verify_manifest(root: str | Path) -> int:
    """Check every checksum in ``manifest.json``; returns the number of files checked."""
    root = Path(root)
    path = root / layouts.MANIFEST_FILE
    if not path.is_file():
        raise DatasetError(f"{path}: missing; the dataset is incomplete (regenerate it)")
    files = json.loads(path.read_text())["files"]
    for rel, digest in files.items():
        f = root / rel
        if not f.is_file():
            raise DatasetError(f"{f}: listed in {path} but missing")
        if sha256_file(f) != digest:
            raise DatasetError(f"{f}: checksum differs from {path}; the file is corrupt or was modified")
    return len(files)


def write_tonic_recording(
    save_to: str | Path, name: str, events: np.ndarray, labels: np.ndarray, compression: str | None = None
) -> dict[str, str]:
    """Write one recording in tonic's ThreeET layout, downscaled from 640x480 to its 240x180 sensor."""
    sx = layouts.TONIC_SENSOR_SIZE[0] / layouts.SENSOR_SIZE[0]
    sy = layouts.TONIC_SENSOR_SIZE[1] / layouts.SENSOR_SIZE[1]
    rows = np.stack(
        [
            events["t"].astype(np.int64),
            (events["x"] * sx).astype(np.int64),
            (events["y"] * sy).astype(np.int64),
            events["p"].astype(np.int64),
        ],
        axis=1,
    )
    scaled = np.asarray(labels, dtype=np.float64).copy()
    scaled[:, 0] *= sx
    scaled[:, 1] *= sy
    ev_path, lab_path = layouts.tonic_events_path(save_to, name), layouts.tonic_label_path(save_to, name)
    _write_h5(ev_path, rows, compression)
    _write_text(lab_path, layouts.format_tonic_labels(scaled))
    base = Path(save_to)
    return {str(p.relative_to(base)): sha256_file(p) for p in (ev_path, lab_path)}


def finish_tonic_layout(save_to: str | Path, names: dict[str, list[str]]) -> dict[str, str]:
    """Write tonic's split lists and the ``ThreeET_Eyetracking.zip`` marker it checks for (an empty zip)."""
    out = {}
    for split in layouts.TONIC_SPLITS:
        path = layouts.tonic_split_list_path(save_to, split)
        _write_text(path, "".join(f"{n}\n" for n in names.get(split, [])))
        out[str(path.relative_to(Path(save_to)))] = sha256_file(path)
    marker = layouts.tonic_marker_path(save_to)
    # An empty but valid zip archive (end-of-central-directory record only); tonic only checks that it exists.
    _write_text(marker, "PK\x05\x06" + "\x00" * 18)
    out[str(marker.relative_to(Path(save_to)))] = sha256_file(marker)
    return out
