"""Event data: the in-memory type, validation, file formats, windows and representations."""

import importlib

from edgevision.events.core import EVENT_DTYPE, SensorSize, empty_events, make_events, sort_events, validate_events
from edgevision.events.tokens import Tokens, histogram_tokens, tokens_to_dense

# Imported on first use (PEP 562): the format readers pull in numba and h5py, which the light imports above avoid.
_LAZY = {
    "read_events": "edgevision.events.formats",
    "write_events": "edgevision.events.formats",
    "iter_events": "edgevision.events.formats",
    "detect_format": "edgevision.events.formats",
    "time_windows": "edgevision.events.windows",
    "count_windows": "edgevision.events.windows",
    "iter_windows": "edgevision.events.windows",
    "stream_time_windows": "edgevision.events.windows",
    "stream_count_windows": "edgevision.events.windows",
    "count_histogram": "edgevision.events.representations",
    "window_tokens": "edgevision.events.representations",
    "WindowTokenizer": "edgevision.events.representations",
    "iter_window_tokens": "edgevision.events.representations",
    "time_surface": "edgevision.events.representations",
    "voxel_grid": "edgevision.events.representations",
    "point_cloud": "edgevision.events.representations",
    "downsample": "edgevision.events.representations",
    "event_file_info": "edgevision.events.info",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'edgevision.events' has no attribute {name!r}")


__all__ = [
    "EVENT_DTYPE",
    "SensorSize",
    "Tokens",
    "empty_events",
    "histogram_tokens",
    "make_events",
    "sort_events",
    "tokens_to_dense",
    "validate_events",
    *_LAZY,
]
