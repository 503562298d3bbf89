import numpy as np

from edgevision.datasets.layouts import LABEL_PERIOD_US, SENSOR_SIZE
from edgevision.events import EVENT_DTYPE, validate_events
from edgevision.sim.eye_camera import SyntheticEyeCamera


def test_stream_yields_one_sorted_slot_per_10ms_and_is_deterministic():
    a = list(SyntheticEyeCamera(seed=3).stream(0.2))
    b = list(SyntheticEyeCamera(seed=3).stream(0.2))
    assert len(a) == 20
    for i, ((ev, label), (ev2, label2)) in enumerate(zip(a, b)):
        assert ev.dtype == EVENT_DTYPE
        validate_events(ev, SENSOR_SIZE, source=f"slot {i}")
        if ev.size:
            assert i * LABEL_PERIOD_US <= ev["t"][0] and ev["t"][-1] < (i + 1) * LABEL_PERIOD_US
        np.testing.assert_array_equal(ev, ev2)
        np.testing.assert_array_equal(label, label2)
        assert label.shape == (3,) and 0 <= label[0] < SENSOR_SIZE[0] and 0 <= label[1] < SENSOR_SIZE[1]
    assert sum(ev.size for ev, _ in a) > 0
