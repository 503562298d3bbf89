"""Shared test data for tests/events (imported by name: pytest puts this folder on sys.path)."""

import numpy as np

from edgevision.events import make_events

SENSOR = (64, 48)


def random_events(n: int, sensor=SENSOR, seed: int = 0, t0: int = 1_000, span: int = 200_000) -> np.ndarray:
    """Sorted random events with repeated timestamps (the hard case for chunk borders)."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(t0, t0 + span, n))
    return make_events(t, rng.integers(0, sensor[0], n), rng.integers(0, sensor[1], n), rng.integers(0, 2, n))
