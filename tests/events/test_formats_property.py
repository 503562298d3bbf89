"""Property: for every writable format, a write either is refused (EventFormatError naming the output, nothing
left on disk) or reads back exactly; and everything inside the format's documented limits is accepted.

Timestamps are drawn around the boundaries that matter (0, 2^24, 2^32, 2^34, 10^18, the int64 ends) with
gaps up to the whole int64 range, sensors up to 65536 pixels, 0-40 events.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from edgevision.errors import EventFormatError
from edgevision.events import EVENT_DTYPE
from edgevision.events.formats import WRITE_FORMATS, read_events, write_events
from edgevision.events.formats.limits import LIMITS, time_base

EXT = {"npy": ".npy", "npz": ".npz", "h5": ".h5", "h5-3etplus": ".h5", "h5-tonic": ".h5", "csv": ".csv",
       "evt2": ".raw", "evt3": ".raw", "dat": ".dat", "aedat4": ".aedat4"}  # fmt: skip
I64 = (-(2**63), 2**63 - 1)
EDGES = [0, 1, 2**12, 2**24 - 1, 2**24, 2**32 - 1, 2**32, 2**34, 2**36, 1_700_000_000_000_000, 10**18 - 1, 10**18, 2**62]
SIZES = [1, 2, 2047, 2048, 2049, 16383, 16384, 16385, 32767, 32768, 65535, 65536]
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def sensors(draw, max_size=65536):
    side = st.one_of(st.sampled_from([s for s in SIZES if s <= max_size]), st.integers(1, max_size))
    return draw(side), draw(side)


@st.composite
def event_arrays(draw, sensor, t_lo=I64[0], t_hi=I64[1], max_gap_bits=64):
    n = draw(st.integers(0, 40))
    start = draw(st.one_of(st.sampled_from([e for e in EDGES if t_lo <= e <= t_hi]), st.integers(t_lo, t_hi),
                           st.just(t_hi), st.just(t_lo)))  # fmt: skip
    bits = draw(st.sampled_from([b for b in (0, 6, 12, 24, 26, 32, 34, 40, 64) if b <= max_gap_bits]))
    edge_gaps = [g for k in (24, 32, 34, 36, 46) for g in (2**k - 1, 2**k, 2**k + 1) if g <= 2**max_gap_bits]
    gap = st.one_of(st.just(0), st.integers(0, 2**bits), st.integers(0, 3), st.sampled_from(edge_gaps or [0]))
    gaps = draw(st.lists(gap, min_size=n, max_size=n))
    t = np.cumsum([start] + gaps[1:], dtype=object) if n else np.array([], dtype=object)
    assume(n == 0 or t_lo <= int(t[-1]) <= t_hi)
    ev = np.empty(n, EVENT_DTYPE)
    ev["t"] = np.array([int(v) for v in t], np.int64)
    ev["x"] = draw(st.lists(st.integers(0, sensor[0] - 1), min_size=n, max_size=n))
    ev["y"] = draw(st.lists(st.integers(0, sensor[1] - 1), min_size=n, max_size=n))
    ev["p"] = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    return ev


def _inside(fmt, ev, sensor) -> bool:
    lim = LIMITS.get(fmt)
    if lim is None:
        return True
    if lim.max_size is not None and max(sensor) > lim.max_size:
        return False
    if ev.shape[0] == 0:
        return True
    first, last = int(ev["t"][0]), int(ev["t"][-1])
    if lim.t_min is not None and first < lim.t_min or lim.t_max is not None and last > lim.t_max:
        return False
    return lim.max_span is None or last - time_base(fmt, ev["t"]) < lim.max_span


def _check(tmp_path, fmt, ev, sensor, must_accept):
    target = tmp_path / f"p{EXT[fmt]}"
    target.unlink(missing_ok=True)
    try:
        write_events(target, ev, sensor, format=fmt)
    except EventFormatError as exc:
        assert not must_accept, f"refused inside the limits: {exc}"
        assert str(exc).startswith(str(target)) and ".tmp" not in str(exc)
        assert list(tmp_path.iterdir()) == []
        return
    assert _inside(fmt, ev, sensor), "accepted outside the documented limits"
    back, back_sensor = read_events(target)
    np.testing.assert_array_equal(back, ev)
    if fmt not in ("npy", "h5-3etplus", "h5-tonic"):  # those do not store the sensor size
        assert tuple(back_sensor) == tuple(sensor)
    target.unlink()


@pytest.mark.parametrize("fmt", WRITE_FORMATS)
@SETTINGS
@given(data=st.data())
def test_accepted_writes_round_trip_exactly(tmp_path, fmt, data):
    """Anything: refused cleanly, or read back bit for bit."""
    sensor = data.draw(sensors())
    ev = data.draw(event_arrays(sensor))
    _check(tmp_path, fmt, ev, sensor, must_accept=False)


@pytest.mark.parametrize("fmt", WRITE_FORMATS)
@SETTINGS
@given(data=st.data())
def test_everything_inside_the_limits_is_accepted(tmp_path, fmt, data):
    """The documented range is really writable: draws inside every limit must be accepted and read back."""
    lim = LIMITS.get(fmt)
    sensor = data.draw(sensors(lim.max_size if lim and lim.max_size else 65536))
    t_lo = lim.t_min if lim and lim.t_min is not None else I64[0]
    t_hi = lim.t_max if lim and lim.t_max is not None else I64[1]
    span_bits = (lim.max_span.bit_length() - 2) if lim and lim.max_span else 64
    ev = data.draw(event_arrays(sensor, t_lo, t_hi, max_gap_bits=span_bits))
    assume(_inside(fmt, ev, sensor))
    _check(tmp_path, fmt, ev, sensor, must_accept=True)
