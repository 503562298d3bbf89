import json

import numpy as np
import pytest

from edgevision.errors import DatasetError
from edgevision.events.core import EVENT_DTYPE, validate_events
from edgevision.recognition.sources import open_source
from edgevision.recognition.synth import CLASSES, SynthConfig, synthesize


def test_set_layout_and_subject_split(tiny_set):
    meta = json.loads((tiny_set / "meta.json").read_text())
    assert meta["classes"] == CLASSES and meta["sensor_size"] == [64, 64]
    src = open_source(str(tiny_set))
    assert len(src) == 20 and sorted(set(src.labels.tolist())) == list(range(10))
    train_subj = {src.subjects[i] for i in src.indices("train")}
    test_subj = {src.subjects[i] for i in src.indices("test")}
    assert train_subj and test_subj and not train_subj & test_subj
    for i in (0, 13):
        ev = src.load(i)
        assert ev.dtype == EVENT_DTYPE and len(ev) > 500
        validate_events(ev, (64, 64))


def _x_trend(ev):
    """Slope of the event x centroid over time (pixels per second)."""
    t = (ev["t"] - ev["t"][0]) / 1e6
    return np.polyfit(t, ev["x"].astype(float), 1)[0]


def test_swipes_move_the_events(tiny_set):
    src = open_source(str(tiny_set))
    left = src.load(CLASSES.index("swipe_left"))
    right = src.load(CLASSES.index("swipe_right"))
    assert _x_trend(left) < -5 and _x_trend(right) > 5


def test_refuses_to_overwrite_and_too_few(tiny_set, tmp_path):
    with pytest.raises(DatasetError, match="already holds"):
        synthesize(tiny_set, 20, seed=0, cfg=SynthConfig(size=32, fps=50), progress=False)
    with pytest.raises(DatasetError, match=">= 20"):
        synthesize(tmp_path / "x", 5, seed=0, progress=False)
