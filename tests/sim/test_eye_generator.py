import json

import pytest

from edgevision.cli import main
from edgevision.errors import ConfigError
from edgevision.sim.eye_generator import GENERATOR_VERSION, generate_dataset


def test_manifest_records_version_domain_and_label_convention(tmp_path):
    summary = generate_dataset(tmp_path, recordings=2, seconds=0.05, seed=1, per_subject=2,
                               domain="heldout:pupil_radius")
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert GENERATOR_VERSION == "eye-v3" == manifest["generator_version"] == summary["generator"]
    assert manifest["domain"] == "heldout:pupil_radius" == summary["domain"]
    assert "full pupil ellipse" in manifest["label_convention"]
    pupil = next(f for f in manifest["factors"] if f["name"] == "pupil_radius")
    assert pupil["train"] == [1.3, 3.0] and pupil["level"] == "subject"


def test_bad_domain_and_jobs_are_refused_before_anything_is_written(tmp_path, capsys):
    with pytest.raises(ConfigError, match="heldout:<factor>"):
        generate_dataset(tmp_path / "a", recordings=1, seconds=0.05, seed=0, domain="heldout:colour")
    with pytest.raises(ConfigError, match="--jobs"):
        generate_dataset(tmp_path / "b", recordings=1, seconds=0.05, seed=0, workers=0)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    assert main(["data", "synth-eye", "--out", str(tmp_path / "c"), "--domain", "nope", "--jobs", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'train', 'full' or 'heldout:<factor>'" in err[0]


@pytest.mark.slow
def test_jobs_give_the_same_bytes_as_one_process(tmp_path):
    kw = {"recordings": 3, "seconds": 0.1, "seed": 4, "domain": "full", "compression": "gzip"}  # not lzf: see
    one = generate_dataset(tmp_path / "one", workers=1, **kw)  # tests/sim/test_eyeball_dataset.py
    two = generate_dataset(tmp_path / "two", workers=2, **kw)
    files = [json.loads((tmp_path / d / "manifest.json").read_text())["files"] for d in ("one", "two")]
    assert files[0] == files[1] and one["events"] == two["events"]
