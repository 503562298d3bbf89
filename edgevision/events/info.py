"""Summary statistics of an event file, computed chunk by chunk (constant memory)."""

from __future__ import annotations

import os
from typing import Any

from edgevision.events.formats import iter_events


def event_file_info(
    path: str | os.PathLike,
    format: str | None = None,
    sensor_size: tuple[int, int] | None = None,
    strict: bool = False,
) -> dict[str, Any]:
    """Count, time span, rate, sensor size and polarity balance of an event file.

    ``duration_us`` is last minus first timestamp; ``rate_ev_s`` is count per second of duration (0 when the
    duration is 0); ``on_fraction`` is the fraction of ON (p = 1) events (0 when empty). ``sensor_source``
    says where the sensor size came from: the file (or ``sensor_size``), the dataset layout, or the events'
    extent. ``truncated`` is True when the file shows it was cut short (RAW/DAT: a partial record, a record
    cut mid-way); it also warns (:class:`~edgevision.errors.TruncatedEventFileWarning`), or with ``strict``
    raises :class:`~edgevision.errors.EventFormatError`. ``decoder`` is the third-party decoder of a camera file
    (faery: info reads in chunks, in bounded memory), None for the other formats.
    """
    chunks = iter_events(path, format=format, sensor_size=sensor_size, strict=strict)
    count = on = 0
    t_first = t_last = None
    for chunk in chunks:
        if t_first is None:
            t_first = int(chunk["t"][0])
        t_last = int(chunk["t"][-1])
        count += int(chunk.shape[0])
        on += int(chunk["p"].sum(dtype="int64"))
    sensor = chunks.resolved_sensor()
    if chunks.sensor_size is not None:
        source = "argument" if sensor_size is not None else "file"
    elif chunks.layout_sensor is not None and sensor == chunks.layout_sensor:
        source = "layout"
    else:
        source = "extent"
    duration = 0 if t_first is None else t_last - t_first
    return {
        "path": str(path),
        "format": chunks.format,
        "count": count,
        "t_first_us": t_first,
        "t_last_us": t_last,
        "duration_us": duration,
        "rate_ev_s": count / (duration * 1e-6) if duration > 0 else 0.0,
        "width": sensor.width,
        "height": sensor.height,
        "sensor_source": source,
        "on_fraction": on / count if count else 0.0,
        "truncated": chunks.truncation is not None,
        "decoder": chunks.decoder,
    }
