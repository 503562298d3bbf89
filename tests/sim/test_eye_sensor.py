"""Per-recording sensors of eye-v3: lower resolutions keep the 640x480 coordinate convention."""

import dataclasses

import cv2
import numpy as np
import pytest

from edgevision.sim.eye_dataset import EyeScene, subject_dvs_params
from edgevision.sim.eye_geometry import sample_subject


def _quiet(scale: float):
    s = sample_subject(3, recording_seed=4)
    return dataclasses.replace(s, sensor_scale=scale, dvs_leak_hz=0.0, dvs_shot_hz=0.0, dvs_hot_fraction=0.0,
                               dvs_threshold_on=0.2, dvs_threshold_off=0.2, dvs_cutoff_hz=0.0, dvs_refractory_us=0)


@pytest.mark.parametrize("scale", [1.0, 0.5, 0.55, 0.37])
def test_lower_resolution_events_land_where_the_light_changed_in_640x480_pixels(scale):
    scene = EyeScene(_quiet(scale), 0)
    assert (scene.dvs.params.width, scene.dvs.params.height) == (round(640 * scale), round(480 * scale))
    centre = np.array([300.3, 200.7])
    frames = [np.full((480, 640), 60, np.uint8), np.full((480, 640), 60, np.uint8)]
    cv2.circle(frames[1], tuple(np.round(centre * 16).astype(int)), 40 * 16, 200, -1, cv2.LINE_AA, 4)
    scene.renderer.render = lambda st, k: frames[k]
    scene.step(None, 0, 0)
    ev = scene.step(None, 1, 10_000)
    assert ev.shape[0] > 100 and ev["p"].all()
    assert ev["x"].max() < 640 and ev["y"].max() < 480
    r = np.hypot(ev["x"] - centre[0], ev["y"] - centre[1])
    assert r.max() < 40 + 2 / scale
    assert np.hypot(ev["x"].mean() - centre[0], ev["y"].mean() - centre[1]) < 0.5


def test_sensor_parameters_come_from_the_recording():
    s = sample_subject(1, "full", recording_seed=2)
    p = subject_dvs_params(s, 5)
    assert (p.threshold_on, p.threshold_off, p.refractory_us) == (s.dvs_threshold_on, s.dvs_threshold_off,
                                                                  s.dvs_refractory_us)
    assert p.width == round(640 * s.sensor_scale)
