"""Event data: the in-memory type, validation, file formats, windows and representations."""

from edgevision.events.core import EVENT_DTYPE, SensorSize, empty_events, make_events, sort_events, validate_events
from edgevision.events.tokens import Tokens, histogram_tokens, tokens_to_dense

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
]
