"""Where the files shipped beside the code live: the trained models and the HLS/RTL libraries and build templates.

In a source checkout (or an editable install) they are the repository's ``models/`` and ``fpga/`` folders; a
built wheel carries copies of the same trees under ``edgevision/_shipped/`` (``setup.py`` copies them at build
time). :func:`shipped` is the one lookup for both, so ``pip install .`` works like the checkout.
"""

from __future__ import annotations

from pathlib import Path

SHIPPED_TREES = ("models", "fpga/hls", "fpga/rtl", "fpga/templates")  # what a wheel carries (setup.py reads this)
INSTALLED_ROOT = Path(__file__).resolve().parent / "_shipped"
CHECKOUT_ROOT = Path(__file__).resolve().parent.parent


def shipped(relative: str | Path) -> Path:
    """The shipped file or folder ``relative`` (e.g. ``models/eye_small.yaml``, ``fpga/hls``): the wheel's copy when
    installed, else the checkout's; when neither exists, the checkout path (so an error names where it belongs)."""
    for root in (INSTALLED_ROOT, CHECKOUT_ROOT):
        path = root / relative
        if path.exists():
            return path
    return CHECKOUT_ROOT / relative
