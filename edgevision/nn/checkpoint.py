"""Eye-tracker checkpoints: ``NAME.safetensors`` (weights) + ``NAME.json`` (config, data hash, metrics), atomic."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from edgevision.atomic import write_bytes_atomic, write_text_atomic
from edgevision.errors import CheckpointError, ConfigError
from edgevision.nn.config import EyeConfig, config_from_dict
from edgevision.nn.eye_model import EyeTracker
from edgevision.nn.sidecar import CHECKPOINT_SCHEMA, CHECKPOINT_VERSION, check_weights, read_sidecar, sidecar

def save_checkpoint(path: str | Path, model: EyeTracker, cfg: EyeConfig, meta: dict[str, Any] | None = None) -> Path:
    """Write the weights to ``path`` (.safetensors) and config + ``meta`` to the JSON beside it, which also holds
    the weights' sha256: a kill between the two writes leaves new weights beside the old JSON, and
    :func:`load_eye_tracker` refuses that pair instead of loading weights under another epoch's metadata."""
    from safetensors.torch import save

    path = Path(path)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    data = save(state)
    write_bytes_atomic(path, data)
    doc = {"schema": CHECKPOINT_SCHEMA, "version": CHECKPOINT_VERSION, "config": cfg.to_dict(), "meta": meta or {},
           "weights_sha256": hashlib.sha256(data).hexdigest()}
    write_text_atomic(sidecar(path), json.dumps(doc, indent=1, default=str))
    return path


def load_eye_tracker(path: str | Path, device: str | torch.device = "cpu") -> tuple[EyeTracker, EyeConfig]:
    """Rebuild the model from the JSON config and load the weights (eval mode); CheckpointError on mismatch."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    doc = read_sidecar(path)
    check_weights(path, doc)
    try:
        cfg = config_from_dict(doc.get("config"), str(sidecar(path)))
        model = EyeTracker(cfg)
    except ConfigError as exc:
        raise CheckpointError(f"{sidecar(path)}: bad config ({exc})") from None
    try:
        state = load_file(str(path), device=str(device))
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{path}: unreadable weights ({exc})") from None
    want = model.state_dict()
    missing, extra = sorted(set(want) - set(state)), sorted(set(state) - set(want))
    bad = [k for k in want if k in state and state[k].shape != want[k].shape]
    if missing or extra or bad:
        raise CheckpointError(
            f"{path}: weights do not match the config in {sidecar(path).name} (missing {missing[:3]}, "
            f"unexpected {extra[:3]}, wrong shape {bad[:3]}); re-train or use the matching JSON"
        )
    model.load_state_dict(state)
    return model.to(device).eval(), cfg
