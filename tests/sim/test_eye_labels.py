"""Label audit: the label (eye_dataset.LABEL_CONVENTION) is where the rendered pixels put the full pupil ellipse."""

import dataclasses

import cv2
import numpy as np
import pytest

from edgevision.sim.eye_geometry import EyeCamera, sample_subject
from edgevision.sim.eye_render import EyeRenderer


def _still(subject, yaw: float, pitch: float, lid_open: float, lids: bool = True):
    """Camera, renderer and the one-sample state of a still eye; without ``lids`` both lid curves are moved out of
    the eye region (the lid mask then covers all of it and lids, lashes and crease fall outside)."""
    cam = EyeCamera(subject)
    st = cam.state(np.array([yaw]), np.array([pitch]), np.ones(1), np.array([lid_open]))
    st.glint_visible[:] = False  # glints inside the pupil would bias the pixel fit
    r = EyeRenderer(cam)
    if not lids:
        xs = np.linspace(-2000.0, 2000.0, r.u.shape[0])
        r.lid_polylines = lambda open_eff, slip: (np.stack([xs, np.full_like(xs, -2000.0)], 1),
                                                  np.stack([xs, np.full_like(xs, 2000.0)], 1))
    return cam, r, st


def _window(shape, centre: np.ndarray, axes: np.ndarray, angle_deg: float) -> np.ndarray:
    """Normalised elliptical radius of every pixel (1 on the ellipse)."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    a = np.radians(angle_deg)
    u = (xx - centre[0]) * np.cos(a) + (yy - centre[1]) * np.sin(a)
    v = -(xx - centre[0]) * np.sin(a) + (yy - centre[1]) * np.cos(a)
    return np.hypot(u / axes[0], v / axes[1])


def _dark_mask(img: np.ndarray, centre: np.ndarray, axes: np.ndarray, angle_deg: float) -> np.ndarray:
    """Pixels darker than half-way between the pupil's and the iris's grey levels, near the expected pupil."""
    rho = _window(img.shape, centre, axes, angle_deg)
    margin = max(6.0, 0.25 * axes[1]) / axes[1]
    f = img.astype(np.float64)
    dark = np.median(f[rho < 0.6])
    bright = np.median(f[(rho > 1 + margin) & (rho < 1 + 2 * margin)])
    return (f < 0.5 * (dark + bright)) & (rho < 1 + margin)


def _fit_pupil(img: np.ndarray, centre: np.ndarray, axes: np.ndarray, angle_deg: float) -> np.ndarray:
    """Centre of cv2.fitEllipse on the pupil edge: along 360 rays from inside the pupil, the first sub-pixel
    crossing of the half-way grey level (rays that leave the image are dropped)."""
    rho = _window(img.shape, centre, axes, angle_deg)
    margin = max(6.0, 0.25 * axes[1]) / axes[1]
    f = img.astype(np.float32)
    dark = np.median(f[rho < 0.6])
    mid = 0.5 * (dark + np.median(f[(rho > 1 + margin) & (rho < 1 + 2 * margin)]))
    phi = np.linspace(0, 2 * np.pi, 360, endpoint=False)[:, None]
    rad = np.arange(0.3 * axes[1], (1 + margin) * axes[0], 0.1)[None]
    xs, ys = centre[0] + rad * np.cos(phi), centre[1] + rad * np.sin(phi)
    inside = ((xs >= 0) & (xs <= img.shape[1] - 1) & (ys >= 0) & (ys <= img.shape[0] - 1)).all(axis=1)
    vals = cv2.remap(f, xs.astype(np.float32), ys.astype(np.float32), cv2.INTER_LINEAR)
    above = vals > mid
    k = np.argmax(above, axis=1)
    ok = inside & above.any(axis=1) & (k > 0)
    rows = np.flatnonzero(ok)
    v0, v1 = vals[rows, k[rows] - 1], vals[rows, k[rows]]
    r_edge = rad[0, k[rows] - 1] + 0.1 * (mid - v0) / (v1 - v0)
    pts = np.stack([centre[0] + r_edge * np.cos(phi[rows, 0]), centre[1] + r_edge * np.sin(phi[rows, 0])], 1)
    (x, y), _, _ = cv2.fitEllipse(pts.astype(np.float32))
    return np.array([x, y])


def _subjects():
    base = [sample_subject(s, "train", recording_seed=100 + s) for s in range(4)]
    # off-centre, rolled, from above / straight on / from below; all in the train sub-ranges' spirit
    yield dataclasses.replace(base[0], roll_deg=24.0, offset_px=(-150.0, 80.0), cam_pitch_deg=-25.0), 8.0, 5.0
    yield dataclasses.replace(base[1], roll_deg=-18.0, offset_px=(140.0, -70.0), cam_pitch_deg=0.0), -12.0, -4.0
    yield dataclasses.replace(base[2], cam_pitch_deg=30.0, cam_yaw_deg=-25.0, focus_blur=1.5), 15.0, 8.0
    yield base[3], -5.0, 3.0


@pytest.mark.parametrize("case", list(_subjects()), ids=lambda c: f"subject{c[0].seed}")
def test_label_is_the_pixel_centre_of_the_pupil_ellipse(case):
    subject, yaw, pitch = case
    cam, r, st = _still(subject, yaw, pitch, 1.0, lids=False)
    found = _fit_pupil(r.render(st, 0), st.pupil_xy[0], st.pupil_axes[0], st.angle_deg[0])
    assert np.hypot(*(found - st.pupil_xy[0])) < 0.5


def test_labels_of_random_subjects_have_no_offset_from_the_pixels():
    """Random train-domain subjects and gazes: the fit's noise (iris texture at the edge, about 0.13 px sd) stays
    small and shows no systematic offset between labels and pixels."""
    d = []
    for seed in range(100, 112):
        rng = np.random.default_rng(seed)
        cam, r, st = _still(sample_subject(seed, "train", recording_seed=seed + 1), rng.uniform(-15, 15),
                            rng.uniform(-10, 10), 1.0, lids=False)
        d.append(_fit_pupil(r.render(st, 0), st.pupil_xy[0], st.pupil_axes[0], st.angle_deg[0]) - st.pupil_xy[0])
    err = np.hypot(*np.array(d).T)
    assert np.median(err) < 0.25 and err.max() < 0.75
    assert np.all(np.abs(np.mean(d, axis=0)) < 0.1)


def test_label_is_the_full_ellipse_where_the_upper_lid_covers_the_pupil():
    """Downward gaze on a subject with a low upper lid: the lid hides the top of the pupil; the label stays at the
    centre of the whole pupil disk (fitted in a lid-free render of the same state), below the visible part's."""
    subject = dataclasses.replace(
        sample_subject(11, "train", recording_seed=3), lid_upper=0.8, lid_gaze_coupling=0.028, lid_centre_dy=0.3,
        pupil_radius_mm=3.0, roll_deg=10.0, offset_px=(60.0, -40.0), cam_pitch_deg=10.0,
    )
    centre = None
    for lids in (True, False):
        cam, r, st = _still(subject, 0.0, -16.0, 1.0, lids=lids)
        centre, axes, angle = st.pupil_xy[0], st.pupil_axes[0], st.angle_deg[0]
        img = r.render(st, 0)
        if lids:
            assert st.closed[0] == 0.0
            visible = _dark_mask(img, centre, axes, angle)
        else:
            full = _dark_mask(img, centre, axes, angle)
            found = _fit_pupil(img, centre, axes, angle)
    assert visible.sum() < 0.9 * full.sum()  # the lid really covers part of the pupil
    assert np.hypot(*(found - centre)) < 0.5
    yy = np.mgrid[0 : visible.shape[0], 0 : visible.shape[1]][0]
    assert yy[visible].mean() - centre[1] > 1.0  # the visible part's centre is lower: not what the label measures
