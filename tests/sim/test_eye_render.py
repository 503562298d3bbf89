import numpy as np

from edgevision.sim.eye_geometry import EyeCamera, sample_subject
from edgevision.sim.eye_render import EyeRenderer


def scene(seed: int):
    cam = EyeCamera(sample_subject(seed))
    return cam, EyeRenderer(cam)


def test_pupil_is_dark_at_the_label_and_ellipse_foreshortens_with_gaze():
    cam, r = scene(4)
    yaw = np.array([0.0, 20.0, -20.0])
    st = cam.state(yaw, np.zeros(3), np.ones(3), np.ones(3))
    for k in range(3):
        img = r.render(st, k)
        assert img.shape == (480, 640) and img.dtype == np.uint8
        x, y = np.round(st.pupil_xy[k]).astype(int)
        assert img[y, x] < cam.s.pupil_level + st.ambient[k] + 10  # ambient light adds to every pixel
        assert img[y, x] < 0.5 * np.median(img)
    ratio = st.pupil_axes[:, 1] / st.pupil_axes[:, 0]
    assert np.all(ratio <= 1) and ratio.min() < 0.98
    assert not st.closed.any()


def test_closed_lids_cover_the_pupil():
    cam, r = scene(2)
    st = cam.state(np.zeros(2), np.zeros(2), np.ones(2), np.array([1.0, 0.0]))
    assert st.closed.tolist() == [0.0, 1.0]
    img = r.render(st, 1)
    x, y = np.round(st.pupil_xy[1]).astype(int)
    assert img[y, x] > cam.s.pupil_level + 20  # skin, not pupil


def test_subjects_differ_and_are_deterministic():
    a, b = sample_subject(1), sample_subject(2)
    assert a != b and sample_subject(1) == a
    img_a = scene(1)[1].background
    assert np.array_equal(img_a, scene(1)[1].background)
    assert not np.array_equal(img_a, scene(2)[1].background)
