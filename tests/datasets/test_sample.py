import json
from pathlib import Path

from edgevision.cli import main
from edgevision.datasets.threeet import ThreeETPlus
from edgevision.datasets.writer import verify_manifest
from edgevision.sim.eye_generator import generate_dataset

SAMPLE = Path(__file__).resolve().parents[2] / "datasets" / "samples" / "eye-tiny"


def test_committed_sample_loads_and_matches_its_checksums():
    assert verify_manifest(SAMPLE) == 10
    ev, labels = ThreeETPlus(SAMPLE, "test")[0]
    assert ev.shape[0] > 0 and labels.shape == (10, 3)
    assert main(["data", "verify", str(SAMPLE)]) == 0


def test_regenerating_the_sample_gives_identical_files(tmp_path):
    generate_dataset(tmp_path, recordings=3, seconds=0.1, seed=0, per_subject=1, compression="gzip")
    ours = json.loads((tmp_path / "manifest.json").read_text())["files"]
    committed = json.loads((SAMPLE / "manifest.json").read_text())["files"]
    assert ours == committed
