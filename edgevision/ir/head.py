"""The float GRU head that travels in an IR folder (``head.npz``, written by ``edgevision quantize``).

The eye tracker's recurrent half runs on the host, not on the accelerator: one GRU layer and a linear head
(float32), stored with the checkpoint's names (:data:`HEAD_KEYS`, PyTorch's layouts) so that an IR folder is
everything ``edgevision track --model IR`` needs (:func:`edgevision.runtime.head.load_head`). NumPy only.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from edgevision.atomic import write_bytes_atomic
from edgevision.errors import IRError

HEAD_FILE = "head.npz"
HEAD_KEYS = ("gru.weight_ih_l0", "gru.weight_hh_l0", "gru.bias_ih_l0", "gru.bias_hh_l0", "head.weight", "head.bias")


def save_head(arrays: Mapping[str, np.ndarray], directory: str | Path) -> Path:
    """Write the :data:`HEAD_KEYS` arrays of ``arrays`` (float32) as ``directory/head.npz``, atomically."""
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(arrays[k], np.float32) for k in HEAD_KEYS})
    path = Path(directory) / HEAD_FILE
    write_bytes_atomic(path, buf.getvalue())
    return path


def load_head_arrays(directory: str | Path) -> dict[str, np.ndarray]:
    """The :data:`HEAD_KEYS` arrays of ``directory/head.npz``, shapes checked; :class:`IRError` naming the file."""
    path = Path(directory) / HEAD_FILE
    if not path.is_file():
        raise IRError(f"{path}: missing; this IR carries no GRU head: re-run `edgevision quantize` (it writes "
                      f"{HEAD_FILE}) or pass --checkpoint")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: np.asarray(z[k], np.float32) for k in HEAD_KEYS}
    except KeyError as exc:
        raise IRError(f"{path}: missing array {exc}") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise IRError(f"{path}: unreadable ({exc})") from None
    w_ih, w_hh = arrays["gru.weight_ih_l0"], arrays["gru.weight_hh_l0"]
    hid = int(w_hh.shape[1]) if w_hh.ndim == 2 else 0
    feat = int(w_ih.shape[1]) if w_ih.ndim == 2 else 0
    want = {"gru.weight_ih_l0": (3 * hid, feat), "gru.weight_hh_l0": (3 * hid, hid), "gru.bias_ih_l0": (3 * hid,),
            "gru.bias_hh_l0": (3 * hid,), "head.weight": (3, hid), "head.bias": (3,)}
    bad = [f"{k} {arrays[k].shape} (want {want[k]})" for k in HEAD_KEYS if arrays[k].shape != want[k]]
    if bad or hid < 1 or feat < 1:
        raise IRError(f"{path}: GRU head shapes do not fit together ({'; '.join(bad[:2]) or 'empty weights'})")
    return arrays
