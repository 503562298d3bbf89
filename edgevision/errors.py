"""Typed errors. Every error a user can cause derives from :class:`EdgevisionError`.

The CLI turns these into a one-line message and exit code 2; anything else is a bug.
"""

from __future__ import annotations


class EdgevisionError(Exception):
    """Base class for errors caused by input, configuration or environment (not bugs)."""


class EventFormatError(EdgevisionError):
    """An event file is truncated, corrupt, of the wrong format, or cannot be written."""

    def __init__(self, path: object, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class EventValidationError(EdgevisionError):
    """An event array breaks an invariant (order, range, polarity, emptiness)."""


class ConfigError(EdgevisionError):
    """A config file or option is missing, malformed or inconsistent."""


class DatasetError(EdgevisionError):
    """A dataset folder does not have the expected layout."""


class IRError(EdgevisionError):
    """A network IR file is malformed, of an unknown version, or inconsistent."""


class CheckpointError(EdgevisionError):
    """A checkpoint is missing, corrupt, or does not match the config."""


class BackendError(EdgevisionError):
    """An inference backend (C simulation, board, compiled engine) is unavailable or failed."""


class TruncatedEventFileWarning(UserWarning):
    """An event file ends early (a partial record, a header cut mid-line): only its complete records are read.

    Readers warn with this category; with ``strict=True`` they raise :class:`EventFormatError` instead.
    """
