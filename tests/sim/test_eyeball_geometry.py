import dataclasses

import cv2
import numpy as np
import pytest

from edgevision.sim.eyeball.camera import look_at
from edgevision.sim.eyeball.dataset import labels_for, recording_world, state_at
from edgevision.sim.eyeball.geometry import Anatomy, ellipse_centre, listing_rotation, pupil_boundary
from edgevision.sim.eyeball.render import Renderer

EYE = Anatomy(globe_r=12.0, apex_z=13.4, cornea_r=7.8, n_aqueous=1.336, iris_z=10.0, iris_r=5.8,
              pupil_offset=(0.0, 0.0), lid_r=14.2, lid_axis=(1.0, 0.0, 0.0), lid_axis_z=5.5, face_z=5.0)
APEX = np.array([0.0, 0.0, EYE.apex_z])


def _paraxial_entrance_pupil(a: Anatomy) -> tuple[float, float]:
    """Depth behind the apex and magnification of the pupil's image through one spherical refracting surface."""
    d = a.apex_z - a.iris_z
    s_i = 1.0 / ((a.n_aqueous - 1.0) / a.cornea_r - a.n_aqueous / d)  # virtual image: negative
    return -s_i, -a.n_aqueous * s_i / d


def _far_camera(yaw_deg: float):
    return look_at(APEX, yaw_deg, 0.0, 0.0, 400.0, np.zeros(3), f=40_000.0)  # 100 px per mm, nearly orthographic


def test_cornea_magnifies_the_pupil_as_paraxial_optics_predicts():
    cam = _far_camera(0.0)
    rot = np.eye(3)[None]
    rims = {r: pupil_boundary(cam, EYE, rot, np.array([0.5]), refract=r)[0] for r in (True, False)}
    radius = {r: np.linalg.norm(p - p.mean(axis=0), axis=1).mean() for r, p in rims.items()}
    _, mag = _paraxial_entrance_pupil(EYE)
    assert mag == pytest.approx(1.12, abs=0.02)
    assert radius[True] / radius[False] == pytest.approx(mag, rel=0.015)


def test_oblique_view_shifts_the_entrance_pupil_towards_the_corneal_apex():
    cam = _far_camera(30.0)
    rot = np.eye(3)[None]
    seen = np.array(ellipse_centre(pupil_boundary(cam, EYE, rot, np.array([2.0]))[0]))
    straight = np.array(ellipse_centre(pupil_boundary(cam, EYE, rot, np.array([2.0]), refract=False)[0]))
    pupil_c, apex = cam.project(np.array([[0.0, 0.0, EYE.iris_z], APEX]))
    # without refraction: the projected pupil centre (up to perspective, which moves an ellipse's centre slightly)
    assert np.allclose(straight, pupil_c, atol=1.0)
    axis = apex - pupil_c
    frac = float(np.dot(seen - pupil_c, axis) / np.dot(axis, axis))
    depth, _ = _paraxial_entrance_pupil(EYE)
    paraxial = (EYE.apex_z - depth - EYE.iris_z) / (EYE.apex_z - EYE.iris_z)  # ~0.16 of the way to the apex
    assert 0.5 * paraxial < frac < 2.0 * paraxial
    off = seen - pupil_c
    assert abs(axis[0] * off[1] - axis[1] * off[0]) / np.linalg.norm(axis) < 0.5  # along the axis' image
    assert np.linalg.norm(seen - pupil_c) > 10  # the shift is large against the 0.5 px label tolerance


def test_listing_rotation_points_the_optical_axis_along_the_gaze():
    yaw, pitch = np.radians(20.0), np.radians(-12.0)
    r = listing_rotation(yaw, pitch)
    g = np.array([np.sin(yaw) * np.cos(pitch), np.sin(pitch), np.cos(yaw) * np.cos(pitch)])
    assert np.allclose(r @ [0, 0, 1], g) and np.allclose(r @ r.T, np.eye(3))
    # Listing's law: the rotation axis lies in the frontal plane (no component along the primary direction)
    w, v = np.linalg.eig(r)
    axis = np.real(v[:, np.argmin(np.abs(w - 1))])
    assert abs(axis[2]) < 1e-9


def _image_pupil_centre(img: np.ndarray, near: np.ndarray) -> np.ndarray:
    """Ellipse fitted to the outline of the dark pupil blob around ``near`` in a rendered image."""
    x0, y0 = int(round(near[0])), int(round(near[1]))
    win = img[y0 - 90 : y0 + 91, x0 - 90 : x0 + 91]
    level = win[90, 90]
    iris = np.percentile(win, 60)
    mask = (win < 0.5 * (level + iris)).astype(np.uint8)
    n, lab = cv2.connectedComponents(mask)
    blob = (lab == lab[90, 90]).astype(np.uint8)
    contours, _ = cv2.findContours(blob, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    (cx, cy), _, _ = cv2.fitEllipse(max(contours, key=len))
    return np.array([cx + x0 - 90, cy + y0 - 90])


@pytest.mark.parametrize("index", [0, 1, 2, 3])
def test_label_matches_the_rendered_pupil_of_a_still_eye(index):
    scene, m, _, _ = recording_world(index, 0.1, seed=21)
    scene = dataclasses.replace(scene, look=dataclasses.replace(scene.look, glint_peak=0.0))
    ren = Renderer(scene, (-1.5, 1.5), (-1.5, 1.5))
    k = 500
    label = labels_for(scene, m, np.array([k]))[0]
    img = ren.frame(state_at(m, k), lids=False)
    found = _image_pupil_centre(img, label[:2])
    assert np.hypot(*(found - label[:2])) < 0.5


def test_edges_move_smoothly_at_sub_pixel_steps():
    scene, m, ren, _ = recording_world(2, 0.1, seed=21)
    st = state_at(m, 500)
    darkness = []
    for r in np.linspace(st.pupil_r, st.pupil_r + 0.02, 9):  # 0.02 mm is about a quarter of a pixel
        img = ren.render_roi(dataclasses.replace(st, pupil_r=float(r)))
        darkness.append(-float(img.sum(dtype=np.float64)))
    step = np.diff(darkness)
    assert np.all(step > 0)  # a wider pupil darkens the image at every step, however small
    assert np.abs(np.diff(step)).max() < 0.2 * step.mean()  # ... by nearly equal amounts: no pixel snapping
