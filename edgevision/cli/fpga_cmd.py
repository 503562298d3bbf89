"""Commands of this stage (filled in by its owner)."""

from __future__ import annotations


def register(cli) -> None:
    """Add this module's subcommands to ``cli``."""
