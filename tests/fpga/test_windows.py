"""Eye-dataset windows (3ET+ layout written by the dataset writer) -> int8 tokens -> model / CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgevision.cli import main
from edgevision.datasets.writer import write_recording, write_split_lists
from edgevision.errors import DatasetError
from edgevision.events.core import make_events
from edgevision.fpga.boards import BOARDS
from edgevision.fpga.windows import eye_windows
from edgevision.ir.schema import InputSpec, front_end, load_ir, save_ir

from .conftest import logits_network


@pytest.fixture(scope="module")
def eye_root(tmp_path_factory):
    """Two short recordings of a moving blob of events on a 640x480 sensor, 100 Hz labels."""
    rng = np.random.default_rng(0)
    root = tmp_path_factory.mktemp("eye")
    for k, name in enumerate(("rec_a", "rec_b")):
        n = 20_000
        t = np.sort(rng.integers(0, 60_000, n))
        cx = 320 + 100 * np.sin(t / 20_000 + k)
        x = np.clip(cx + rng.normal(0, 30, n), 0, 639).astype(np.uint16)
        y = np.clip(240 + rng.normal(0, 25, n), 0, 479).astype(np.uint16)
        events = make_events(t, x, y, rng.integers(0, 2, n))
        labels = np.zeros((6, 3), np.float32)
        write_recording(root, "train", name, events, labels)
    write_split_lists(root, {"train": ["rec_a", "rec_b"], "val": [], "test": []})
    return root


@pytest.fixture(scope="module")
def eye_ir(tmp_path_factory):
    """The logits network fed by a 640x480 eye-camera front end (factor 16: a 30x40 grid, 2 bins x 2 polarities)."""
    net = logits_network()
    net.input = InputSpec.from_front_end(front_end((640, 480), {"downsample": 16, "slice_us": 10_000, "time_bins": 2,
                                                                "input_clip": 127.0}))
    return save_ir(net, tmp_path_factory.mktemp("eye_ir"))


def test_windows_follow_the_ir_front_end(eye_root, eye_ir):
    net = load_ir(eye_ir)
    net.input.slice_us = 20_000  # 60 ms recordings: 3 slices each
    assert len(eye_windows(net, eye_root, 100)) == 6


def test_eye_windows_are_int8_tokens_in_raster_order(eye_root, eye_ir):
    net = load_ir(eye_ir)
    wins = eye_windows(net, eye_root, 9)
    assert len(wins) == 9  # 6 slices of the first recording, 3 of the second
    for c, f in wins:
        assert f.dtype == np.int8 and f.shape[1] == net.input.channels and len(c) > 0
        keys = c[:, 0].astype(np.int64) * net.input.width + c[:, 1]
        assert np.all(np.diff(keys) > 0)
        assert c[:, 0].max() < net.input.height and c[:, 1].max() < net.input.width


def test_wrong_split_is_a_dataset_error(eye_root, eye_ir):
    with pytest.raises(DatasetError):
        eye_windows(load_ir(eye_ir), eye_root / "missing", 3)


def test_estimate_with_data_reports_per_window_latency(eye_root, eye_ir, capsys):
    rc = main(["estimate", "--model", str(eye_ir), "--board", "zcu102", "--data", str(eye_root), "--split", "train",
                "--windows", "8", "--json"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    rep = json.loads(out.out)
    assert rep["token_counts"] == "mean of 8 windows"
    lat = rep["latency_per_window"]
    assert 0 < lat["median_ms"] <= lat["p95_ms"] <= lat["max_ms"]
    # the conservative figure is the headline: bottleneck <= modelled overlap <= stages one after another
    assert 0 < rep["interval_ms"] <= rep["latency_dataflow_ms"] <= rep["latency_ms"]
    assert lat["dataflow_median_ms"] <= lat["median_ms"]
    assert rep["energy_mj"] == pytest.approx(rep["latency_ms"] * BOARDS["zcu102"].power_w) and rep["energy_dataflow_mj"] < rep["energy_mj"]
