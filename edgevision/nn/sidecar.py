"""The JSON beside an eye-tracker checkpoint (``NAME.json`` next to ``NAME.safetensors``): read and checked without
torch, so the torch-free board path (:mod:`edgevision.runtime.host_model`) and the torch loader share one reader."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from edgevision.errors import CheckpointError

CHECKPOINT_SCHEMA = "edgevision.eye_checkpoint"
CHECKPOINT_VERSION = 1


def sidecar(path: str | Path) -> Path:
    """The JSON file beside a ``.safetensors`` checkpoint."""
    return Path(path).with_suffix(".json")


def read_sidecar(path: str | Path) -> dict[str, Any]:
    """The checkpoint's JSON document (config, meta), checked."""
    js = sidecar(path)
    if not js.is_file():
        raise CheckpointError(f"{js}: missing; a checkpoint is NAME.safetensors plus NAME.json (written by `edgevision train eye`)")
    try:
        doc = json.loads(js.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{js}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("schema") != CHECKPOINT_SCHEMA:
        raise CheckpointError(f"{js}: not an eye-tracker checkpoint (schema must be {CHECKPOINT_SCHEMA!r})")
    if doc.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"{js}: checkpoint version {doc.get('version')!r} unsupported (expected {CHECKPOINT_VERSION})")
    return doc


def check_weights(path: str | Path, doc: dict[str, Any]) -> None:
    """Refuse weights that are not the ones ``doc`` describes (its ``weights_sha256``; absent in checkpoints written
    before it was added): a kill between the two writes of a pair leaves new weights beside the old JSON."""
    want = doc.get("weights_sha256")
    if want is not None and hashlib.sha256(Path(path).read_bytes()).hexdigest() != want:
        raise CheckpointError(f"{path}: not the weights {sidecar(path).name} describes (sha256 differs; a write "
                              "interrupted between the two files?); rerun `edgevision train eye --resume`")
