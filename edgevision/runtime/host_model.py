"""The host half of an eye-tracker checkpoint without torch: config + GRU and head weights as NumPy arrays.

On a board the backbone runs on the accelerator from the int8 IR (:func:`edgevision.ir.schema.load_ir`, NumPy
only), which also carries the front end (``net.input``) and the GRU head (``head.npz``,
:mod:`edgevision.ir.head`). A float checkpoint given instead of the IR's head is read here:
:func:`load_host_model` reads its config and GRU + head weights from ``NAME.safetensors`` + ``NAME.json`` with
``safetensors.numpy`` (no torch import anywhere on this path), checked against the config like
:func:`edgevision.nn.checkpoint.load_eye_tracker` checks the full model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgevision.errors import CheckpointError, ConfigError
from edgevision.ir.schema import InputSpec, front_end
from edgevision.ir.head import HEAD_KEYS
from edgevision.nn.sidecar import CHECKPOINT_SCHEMA, CHECKPOINT_VERSION, check_weights, read_sidecar, sidecar  # noqa: F401
from edgevision.runtime.head import GRUHead

# Same values as edgevision.nn.checkpoint (which imports torch); a test checks they agree.


@dataclass
class HostModel:
    """What the tracker loop needs besides a backend: the NumPy GRU head and the checkpoint's config."""

    head: GRUHead
    cfg: Any  # edgevision.nn.config.EyeConfig
    path: Path

    @property
    def feature_dim(self) -> int:
        """Backbone features the GRU expects."""
        return int(self.head.w_ih_t.shape[0])


def config_input(cfg: Any) -> InputSpec:
    """The front end of an ``EyeConfig`` (sensor, downsample, slice, time bins, clip) as an
    :class:`InputSpec` (input scale 1: the float model takes counts)."""
    return InputSpec.from_front_end(front_end(cfg.sensor_size, cfg.to_dict()["input"]))


def load_host_model(path: str | Path) -> HostModel:
    """Config (``NAME.json``) and GRU + head weights (``NAME.safetensors``) of a checkpoint, NumPy only;
    :class:`CheckpointError` naming the file on anything missing or inconsistent."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    from edgevision.nn.config import config_from_dict

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    js = sidecar(path)
    doc = read_sidecar(path)
    check_weights(path, doc)
    try:
        cfg = config_from_dict(doc.get("config"), str(js))
    except ConfigError as exc:
        raise CheckpointError(f"{js}: bad config ({exc})") from None
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{path}: unreadable weights ({exc})") from None
    missing = [k for k in HEAD_KEYS if k not in state]
    if missing:
        extra = sorted(k for k in state if k.startswith("gru.") and k not in HEAD_KEYS)
        hint = f" (a multi-layer or bidirectional GRU: {extra[:2]})" if extra else ""
        raise CheckpointError(f"{path}: no GRU/head weights {missing[:3]}{hint}; the host runs a single-layer GRU + linear head")
    w_ih, w_hh, b_ih, b_hh, w_out, b_out = (np.asarray(state[k], np.float32) for k in HEAD_KEYS)
    hid = int(cfg.gru.hidden)
    want = {"gru.weight_ih_l0": (3 * hid, w_ih.shape[1]), "gru.weight_hh_l0": (3 * hid, hid), "gru.bias_ih_l0": (3 * hid,),
            "gru.bias_hh_l0": (3 * hid,), "head.weight": (3, hid), "head.bias": (3,)}
    got = dict(zip(HEAD_KEYS, (w_ih.shape, w_hh.shape, b_ih.shape, b_hh.shape, w_out.shape, b_out.shape)))
    bad = [f"{k} {got[k]} (want {want[k]})" for k in HEAD_KEYS if tuple(got[k]) != want[k]]
    if bad:
        raise CheckpointError(f"{path}: weights do not match the config in {js.name} ({'; '.join(bad[:2])}); "
                              "re-train or use the matching JSON")
    return HostModel(GRUHead(w_ih, w_hh, b_ih, b_hh, w_out, b_out), cfg, path)
