import numpy as np
import pytest

from edgevision.events.core import validate_events
from edgevision.sim.eye_dataset import EyeScene, labels_at, simulate_recording, stream_scene
from edgevision.sim.eye_geometry import sample_subject
from edgevision.sim.eye_motion import generate_motion


@pytest.fixture(scope="module")
def recording():
    return simulate_recording(subject_id=3, session=1, seconds=1.0, seed=11)


def test_recording_statistics_are_realistic(recording):
    ev, labels = recording.events, recording.labels
    validate_events(ev, (640, 480), allow_empty=False)
    rate = ev.shape[0] / 1.0
    assert 5e3 < rate < 5e6
    assert 0.3 < ev["p"].mean() < 0.7  # polarity balance
    assert labels.shape == (100, 3) and labels.dtype == np.float32
    assert set(np.unique(labels[:, 2])) <= {0.0, 1.0}
    assert np.all((labels[:, 0] > 0) & (labels[:, 0] < 640) & (labels[:, 1] > 0) & (labels[:, 1] < 480))


def test_events_concentrate_on_the_eye(recording):
    ev, labels = recording.events, recording.labels
    d = np.hypot(ev["x"] - labels[:, 0].mean(), ev["y"] - labels[:, 1].mean())
    # the eye region (lids, iris, pupil) is a small part of the sensor but holds most events
    assert np.mean(d < 200) > 0.8
    area_fraction = np.pi * 200**2 / (640 * 480)
    assert np.mean(d < 200) > 2 * area_fraction


def test_generation_is_deterministic_for_a_seed():
    a = simulate_recording(2, 1, 0.2, seed=5)
    b = simulate_recording(2, 1, 0.2, seed=5)
    c = simulate_recording(2, 1, 0.2, seed=6)
    assert np.array_equal(a.events, b.events) and np.array_equal(a.labels, b.labels)
    assert not np.array_equal(a.labels, c.labels)


def test_blink_labels_follow_the_lid():
    scene = EyeScene(sample_subject(0), 0)
    m = generate_motion(1.0, np.random.default_rng(0))
    m.lid_open[:] = 1.0
    m.lid_open[2000:3000] = 0.0  # shut from 0.4 s to 0.6 s
    labels = labels_at(scene.state(m), m.grid_us, 100)
    closed = labels[:, 2]
    assert closed[45:55].all() and not closed[:35].any() and not closed[65:].any()


def test_stream_yields_10ms_slots_in_order():
    scene = EyeScene(sample_subject(1), 1)
    slots = list(stream_scene(scene, 0.3, np.random.default_rng(0)))
    assert len(slots) == 30
    for i, (ev, label) in enumerate(slots):
        assert label.shape == (3,)
        if ev.shape[0]:
            assert ev["t"][0] >= i * 10_000 and ev["t"][-1] < (i + 1) * 10_000


def test_events_fall_on_image_edges():
    import cv2

    from edgevision.sim.preview import preview_clip

    clip = preview_clip(subject_id=2, session=1, seconds=1.0, seed=3, clip_s=0.4)
    on_edge = total = 0
    edge_area = []
    for frame, ev, _ in clip:
        f = frame.astype(np.float32)
        grad = np.hypot(cv2.Sobel(f, cv2.CV_32F, 1, 0), cv2.Sobel(f, cv2.CV_32F, 0, 1))
        edges = cv2.dilate((grad > 80).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        on_edge += int(edges[ev["y"], ev["x"]].sum())
        total += ev.shape[0]
        edge_area.append(edges.mean())
    # edges (pupil, iris, lids, lashes, glints) cover a small part of the sensor but collect most events
    assert total > 0 and np.mean(edge_area) < 0.2
    assert on_edge / total > 0.6


def test_stream_continues_clock_and_gaze_across_calls():
    scene = EyeScene(sample_subject(4), 4)
    rng = np.random.default_rng(1)
    first = list(stream_scene(scene, 0.1, rng))
    second = list(stream_scene(scene, 0.1, rng))
    for ev, _ in second:
        if ev.shape[0]:
            assert ev["t"][0] >= 100_000
    jump = np.hypot(*(second[0][1][:2] - first[-1][1][:2]))
    assert jump < 20.0  # pixels in 10 ms: no teleport between calls
