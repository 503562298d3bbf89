import numpy as np
from PIL import Image

from edgevision.events.core import make_events
from edgevision.sim.eye_generator import generate_dataset
from edgevision.sim.preview import OFF_RGB, ON_RGB, overlay, write_preview


def test_overlay_colours_events_and_marks_the_label():
    frame = np.full((480, 640), 100, np.uint8)
    ev = make_events([0, 1], [10, 20], [5, 6], [1, 0])
    img = overlay(frame, ev, np.array([300.0, 200.0, 0.0]))
    assert tuple(img[5, 10]) == ON_RGB and tuple(img[6, 20]) == OFF_RGB
    assert tuple(img[200, 300]) == (0, 255, 0)
    closed = overlay(frame, ev, np.array([300.0, 200.0, 1.0]))
    assert tuple(closed[200, 300]) == (255, 0, 255)


def test_write_preview_of_a_generated_dataset(tmp_path):
    generate_dataset(tmp_path, recordings=3, seconds=0.2, seed=2, per_subject=1)
    out = write_preview(tmp_path, seed=2, clip_s=0.2)
    assert out["recording"] == "1_1" and out["slots"] == 20
    png = Image.open(out["png"])
    assert png.size[0] > 600
    gif = Image.open(out["gif"])
    assert gif.n_frames == 10 and gif.size == (320, 240)
