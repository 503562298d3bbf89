import dataclasses
import json

import numpy as np
import pytest

from edgevision.datasets.threeet import ThreeETPlus
from edgevision.datasets.writer import verify_manifest
from edgevision.errors import ConfigError
from edgevision.events.core import validate_events
from edgevision.sim.eyeball import generate_family_dataset, simulate_recording
from edgevision.sim.eyeball.dataset import LABEL_US, labels_for, recording_world
from edgevision.sim.eyeball.motion import SACCADE


@pytest.fixture(scope="module")
def recording():
    return simulate_recording(1, 0.5, seed=5)  # has fixations and saccades


def test_events_and_labels_are_sane(recording):
    ev, labels = recording.events, recording.labels
    validate_events(ev, (640, 480), allow_empty=False)
    assert ev["t"][0] == 0 and np.all(np.diff(ev["t"]) >= 0)
    assert 1e4 < ev.shape[0] / 0.5 < 5e6  # events per second
    assert labels.shape == (50, 3) and labels.dtype == np.float32
    assert np.all((labels[:, 0] > 0) & (labels[:, 0] < 639) & (labels[:, 1] > 0) & (labels[:, 1] < 479))
    assert set(np.unique(labels[:, 2])) <= {0.0, 1.0}


def test_saccades_give_bursts_of_balanced_polarity(recording):
    ev, phase = recording.events, recording.phase
    slot = np.minimum(ev["t"] // LABEL_US, phase.shape[0] - 1)
    counts = np.bincount(slot, minlength=phase.shape[0])
    sacc = phase == SACCADE
    assert sacc.any() and (~sacc).any()
    assert np.median(counts[sacc]) > 3 * np.median(counts[~sacc])
    on = ev["p"][sacc[slot]].mean()
    assert 0.25 < on < 0.75  # a moving pupil edge: ON on one side, OFF on the other


def test_closed_flag_follows_the_lids():
    scene, m, _, _ = recording_world(0, 0.2, seed=3)
    k = np.array([1000])
    open_label = labels_for(scene, m, k)[0]
    shut = dataclasses.replace(m, theta_u=m.theta_l - 0.1)
    closed_label = labels_for(scene, shut, k)[0]
    assert open_label[2] == 0 and closed_label[2] == 1
    assert np.allclose(open_label[:2], closed_label[:2])  # the label is the whole pupil, hidden or not


def test_simulation_is_deterministic_per_seed():
    a, b, c = simulate_recording(0, 0.1, 9), simulate_recording(0, 0.1, 9), simulate_recording(0, 0.1, 10)
    assert np.array_equal(a.events, b.events) and np.array_equal(a.labels, b.labels)
    assert not np.array_equal(a.labels, c.labels)


def test_generate_family_dataset_writes_a_3etplus_test_split(tmp_path):
    out = tmp_path / "family"
    summary = generate_family_dataset(out, 2, 0.2, seed=4)
    assert summary["recordings"] == 2 and summary["splits"]["test"] == 2 and summary["events"] > 0
    ds = ThreeETPlus(out, "test")
    assert len(ds) == 2
    for i in range(2):
        ev, labels = ds[i]
        assert labels.shape == (20, 3) and ev.shape[0] > 0
    assert verify_manifest(out) == 2 * 3 + 3  # h5, label.txt, label_zeros.txt per recording + split lists
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["renderer"] == "eyeball" and manifest["seed"] == 4
    with pytest.raises(ConfigError):
        generate_family_dataset(out, 1, 0.01, seed=4)


@pytest.mark.slow
def test_parallel_jobs_give_the_same_files(tmp_path):
    files = []
    for jobs in (1, 2):
        # gzip: zlib's bytes depend only on the data; liblzf (the lzf default) leaves its hash table uninitialized,
        # so its bytes (never the decoded events) can differ with the history of the process that compresses
        generate_family_dataset(tmp_path / str(jobs), 2, 0.1, seed=8, jobs=jobs, compression="gzip")
        files.append(json.loads((tmp_path / str(jobs) / "manifest.json").read_text())["files"])
    assert files[0] == files[1]


def test_synth_eye_cli_renderer_eyeball(tmp_path, capsys):
    from edgevision.cli import main

    out = tmp_path / "cli"
    args = ["data", "synth-eye", "--renderer", "eyeball", "--out", str(out), "--recordings", "1", "--seconds", "0.1",
            "--preview", "--json"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["renderer"] == "eyeball" and summary["splits"]["test"] == 1
    assert (out / "preview.png").is_file() and verify_manifest(out) == 6
    assert main(["data", "synth-eye", "--renderer", "eyeball", "--out", str(out), "--seconds", "0.01"]) == 2
