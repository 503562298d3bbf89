"""Where edgevision keeps what it compiles (C-sim libraries, the C++ one-window forward): safe to delete."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(kind: str) -> Path:
    """``$EDGEVISION_CACHE/<kind>``, by default ``~/.cache/edgevision/<kind>`` (not created here)."""
    root = os.environ.get("EDGEVISION_CACHE") or Path.home() / ".cache" / "edgevision"
    return Path(root) / kind
