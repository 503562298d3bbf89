import numpy as np
import pytest

from edgevision.errors import ConfigError
from edgevision.sim import eye_domain
from edgevision.sim.eye_domain import FACTORS, HELDOUT_FACTORS, draw_factor, parse_domain
from edgevision.sim.eye_geometry import sample_subject
from edgevision.sim.eye_motion import sample_motion_params


def test_table_is_consistent_and_names_the_tested_heldout_factors():
    assert {"dvs_threshold", "pupil_radius", "camera_pitch", "illumination"} <= set(HELDOUT_FACTORS)
    for name, f in FACTORS.items():
        assert f.full[0] <= f.train[0] < f.train[1] <= f.full[1], name
        assert f.level in ("subject", "recording") and f.law in ("uniform", "log", "int"), name
    for name in HELDOUT_FACTORS:
        assert str(parse_domain(f"heldout:{name}")) == f"heldout:{name}"


@pytest.mark.parametrize("bad", ["", "Train", "heldout:", "heldout:nope", "heldout:brow", "test"])
def test_bad_domain_strings_raise_config_error_naming_the_valid_values(bad):
    with pytest.raises(ConfigError, match="'train', 'full' or 'heldout:<factor>'"):
        parse_domain(bad)


def test_draws_stay_in_their_range():
    u = np.linspace(0, 1, 101, endpoint=False)
    for name, f in FACTORS.items():
        train = np.array([draw_factor(name, parse_domain("train"), x) for x in u])
        full = np.array([draw_factor(name, parse_domain("full"), x) for x in u])
        assert train.min() >= f.train[0] and train.max() <= f.train[1], name
        assert full.min() >= f.full[0] and full.max() <= f.full[1], name
        if f.train != f.full:
            held = np.array([draw_factor(name, parse_domain(f"heldout:{name}"), x) for x in u])
            assert held.min() >= f.full[0] and held.max() <= f.full[1], name
            assert not np.any((held > f.train[0]) & (held < f.train[1])), name


def test_heldout_changes_only_its_factor():
    base = sample_subject(5, "train", recording_seed=9)
    for name, field in (("pupil_radius", "pupil_radius_mm"), ("camera_pitch", "cam_pitch_deg"),
                        ("illumination", "illumination")):
        held = sample_subject(5, f"heldout:{name}", recording_seed=9)
        f = FACTORS[name]
        assert not f.train[0] <= getattr(held, field) <= f.train[1]
        changed = {k for k in base.__dataclass_fields__ if getattr(base, k) != getattr(held, k)}
        assert changed == {field}
    held = sample_subject(5, "heldout:dvs_threshold", recording_seed=9)
    mean = np.sqrt(held.dvs_threshold_on * held.dvs_threshold_off)
    assert not FACTORS["dvs_threshold"].train[0] <= mean <= FACTORS["dvs_threshold"].train[1]
    assert sample_motion_params(3, "train") == sample_motion_params(3, "heldout:camera_pitch")


def test_subject_anatomy_is_shared_by_sessions_and_recording_factors_are_not():
    a, b = sample_subject(7, recording_seed=1), sample_subject(7, recording_seed=2)
    assert a.pupil_radius_mm == b.pupil_radius_mm and a.iris_level == b.iris_level
    assert a.cam_pitch_deg != b.cam_pitch_deg and a.dvs_threshold_on != b.dvs_threshold_on
    assert eye_domain.Domain() == parse_domain("train")
