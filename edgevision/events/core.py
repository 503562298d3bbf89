"""The in-memory event type: a numpy structured array compatible with tonic.

Fields: ``t`` int64 microseconds, ``x``/``y`` uint16 pixel coordinates, ``p`` uint8 polarity in {0, 1}
(1 = ON, brightness increase). The sensor size travels beside the array as ``(width, height)``, the
order tonic uses (tonic's sensor_size is ``(W, H, P)``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from edgevision.errors import EventValidationError

EVENT_DTYPE = np.dtype([("t", "<i8"), ("x", "<u2"), ("y", "<u2"), ("p", "u1")])


class SensorSize(NamedTuple):
    """Sensor geometry in pixels."""

    width: int
    height: int

    @property
    def tonic(self) -> tuple[int, int, int]:
        """The ``(W, H, 2)`` tuple tonic transforms expect."""
        return (self.width, self.height, 2)


def make_events(t, x, y, p) -> np.ndarray:
    """Build an event array from column arrays (any integer-like dtypes; p may be bool, 0/1 or -1/+1)."""
    t = np.asarray(t)
    n = t.shape[0]
    out = np.empty(n, dtype=EVENT_DTYPE)
    out["t"] = t
    out["x"] = np.asarray(x)
    out["y"] = np.asarray(y)
    p = np.asarray(p)
    out["p"] = (p > 0) if p.dtype.kind in "if" else p.astype(bool)
    return out


def empty_events() -> np.ndarray:
    """An empty event array."""
    return np.empty(0, dtype=EVENT_DTYPE)


def validate_events(
    events: np.ndarray,
    sensor_size: SensorSize | tuple[int, int] | None = None,
    *,
    allow_empty: bool = True,
    source: str = "events",
) -> np.ndarray:
    """Check the invariants of an event array and return it unchanged.

    Raises :class:`EventValidationError` naming ``source`` and the fix for: a wrong dtype, an empty array
    (unless ``allow_empty``), timestamps out of order (use :func:`sort_events`), coordinates outside the
    sensor, polarity other than 0/1.
    """
    if not isinstance(events, np.ndarray) or events.dtype.names is None:
        raise EventValidationError(f"{source}: expected a structured array with fields t, x, y, p")
    missing = [f for f in ("t", "x", "y", "p") if f not in events.dtype.names]
    if missing:
        raise EventValidationError(f"{source}: missing field(s) {missing}; fields are {events.dtype.names}")
    if events.dtype != EVENT_DTYPE:
        raise EventValidationError(
            f"{source}: dtype {events.dtype} is not {EVENT_DTYPE}; convert with make_events(e['t'], e['x'], e['y'], e['p'])"
        )
    n = events.shape[0]
    if n == 0:
        if not allow_empty:
            raise EventValidationError(f"{source}: no events")
        return events
    t = events["t"]
    if n > 1:
        bad = np.flatnonzero(t[1:] < t[:-1])
        if bad.size:
            i = int(bad[0])
            raise EventValidationError(
                f"{source}: timestamps not sorted ({bad.size} decreasing step(s), first at index {i + 1}: "
                f"{int(t[i])} -> {int(t[i + 1])} us); sort with edgevision.events.sort_events"
            )
    if sensor_size is not None:
        w, h = int(sensor_size[0]), int(sensor_size[1])
        for field, limit in (("x", w), ("y", h)):
            over = np.flatnonzero(events[field] >= limit)
            if over.size:
                i = int(over[0])
                raise EventValidationError(
                    f"{source}: {over.size} event(s) with {field} >= sensor {'width' if field == 'x' else 'height'} "
                    f"{limit} (first at index {i}: {field}={int(events[field][i])}); check the sensor size"
                )
    badp = np.flatnonzero(events["p"] > 1)
    if badp.size:
        i = int(badp[0])
        raise EventValidationError(
            f"{source}: polarity must be 0 or 1, found {int(events['p'][i])} at index {i}; map it with make_events"
        )
    return events


def sort_events(events: np.ndarray) -> np.ndarray:
    """Return the events sorted by time (stable, so simultaneous events keep their order)."""
    order = np.argsort(events["t"], kind="stable")
    return events[order]
