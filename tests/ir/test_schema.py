import json
from pathlib import Path

import numpy as np
import pytest

from edgevision.errors import IRError
from edgevision.ir import InputSpec, Layer, Network, load_ir, save_ir
from edgevision.ir.schema import front_end, output_spec, validate

ROOT = Path(__file__).resolve().parents[2]
FRONT = front_end((64, 48), {"downsample": 8, "slice_us": 5_000, "time_bins": 1, "input_clip": 15.0})


def _net() -> Network:
    rng = np.random.default_rng(0)
    req = {"shift": 16, "relu": True, "act_max": 127, "scale": 0.05, "bits": 8}
    return Network(
        "tiny",
        InputSpec.from_front_end(FRONT),
        [
            Layer("stem", "conv3x3_subm", ["input"], {"in_ch": 2, "out_ch": 4, **req},
                  {"weight": rng.integers(-127, 128, (4, 3, 3, 2)).astype(np.int8),
                   "bias": np.zeros(4, np.int32), "mult": np.full(4, 1000, np.int32)}),
            Layer("down", "conv2x2_s2", ["stem"], {"in_ch": 4, "out_ch": 4, **req},
                  {"weight": rng.integers(-127, 128, (4, 2, 2, 4)).astype(np.int8),
                   "bias": np.zeros(4, np.int32), "mult": np.full(4, 1000, np.int32)}),
            Layer("gap", "pool", ["down"], {"in_ch": 4, "out_ch": 4, "grid": [1, 1], **req},
                  {"mult": np.full(4, 1 << 16, np.int32)}),
        ],
        "gap",
    )


def test_roundtrip(tmp_path):
    net = _net()
    save_ir(net, tmp_path)
    back = load_ir(tmp_path)
    assert [l.name for l in back.layers] == ["stem", "down", "gap"]
    np.testing.assert_array_equal(back.layer("stem").tensors["weight"], net.layer("stem").tensors["weight"])
    assert back.shapes()["down"] == (3, 4)


def test_schema_errors(tmp_path):
    save_ir(_net(), tmp_path)
    g = json.loads((tmp_path / "network.json").read_text())
    g["version"] = 99
    (tmp_path / "network.json").write_text(json.dumps(g))
    with pytest.raises(IRError, match="version 99"):
        load_ir(tmp_path)
    g["version"] = 2
    g["layers"][1]["op"] = "conv5x5"
    (tmp_path / "network.json").write_text(json.dumps(g))
    with pytest.raises(IRError, match="unsupported op"):
        load_ir(tmp_path)
    (tmp_path / "network.json").write_text("{not json")
    with pytest.raises(IRError, match="not valid JSON"):
        load_ir(tmp_path)
    (tmp_path / "tensors.npz").write_bytes(b"garbage")
    with pytest.raises(IRError):
        load_ir(tmp_path)


def test_channel_mismatch_rejected():
    net = _net()
    net.layers[1].attrs["in_ch"] = 3
    with pytest.raises(IRError, match="in_ch 3"):
        save_ir(net, "/nonexistent-never-written")


def test_front_end_roundtrips_typed(tmp_path):
    back = load_ir(save_ir(_net(), tmp_path)).input
    assert back == InputSpec(6, 8, 2, 64, 48, 8, 5_000, 1, 15.0)
    assert back.sensor_size == (64, 48) and back.polarities == 2
    assert json.loads((tmp_path / "network.json").read_text())["version"] == 2


@pytest.mark.parametrize("field, value, match", [
    ("channels", 3, r"input.channels is 3 but time_bins x polarities = 1 x 2 = 2"),
    ("height", 7, r"input.height is 7 but ceil\(sensor_height / downsample\) = ceil\(48 / 8\) = 6"),
    ("sensor_width", 70, r"input.width is 8 but ceil\(sensor_width / downsample\) = ceil\(70 / 8\) = 9"),
    ("downsample", 0, r"input.downsample must be a positive integer, got 0"),
    ("slice_us", 2.5, r"input.slice_us must be a positive integer"),
    ("polarities", 3, r"input.polarities must be 1 or 2"),
    ("input_clip", 0.0, r"input.input_clip must be a positive number"),
    ("scale", -1.0, r"input.scale must be a positive number"),
    ("bits", 9, r"input.bits must be an integer in 2..8"),
])
def test_input_spec_validation_names_the_field(field, value, match):
    net = _net()
    setattr(net.input, field, value)
    with pytest.raises(IRError, match=match):
        validate(net)


def test_missing_and_unknown_input_fields(tmp_path):
    save_ir(_net(), tmp_path)
    g = json.loads((tmp_path / "network.json").read_text())
    del g["input"]["slice_us"]
    (tmp_path / "network.json").write_text(json.dumps(g))
    with pytest.raises(IRError, match=r"input is missing field\(s\) \['slice_us'\]"):
        load_ir(tmp_path)
    g["input"].update(slice_us=5_000, window_ms=10)
    (tmp_path / "network.json").write_text(json.dumps(g))
    with pytest.raises(IRError, match=r"unknown field\(s\) \['window_ms'\]"):
        load_ir(tmp_path)


def _as_v1(tmp_path, meta):
    save_ir(_net(), tmp_path)
    g = json.loads((tmp_path / "network.json").read_text())
    g["version"], g["meta"] = 1, meta
    g["input"] = {k: g["input"][k] for k in ("height", "width", "channels", "scale", "bits")}
    (tmp_path / "network.json").write_text(json.dumps(g))
    return tmp_path


def test_v1_reads_the_front_end_from_meta_config(tmp_path):
    cfg = {"sensor_size": [64, 48], "input": {"downsample": 8, "slice_us": 5_000, "time_bins": 1, "input_clip": 15.0}}
    assert load_ir(_as_v1(tmp_path, {"config": cfg})).input == InputSpec.from_front_end(FRONT)
    # keys a v1 config leaves out take version 1's defaults: 640x480 would not give this grid
    cfg = {"sensor_size": [64, 48], "input": {"downsample": 8}}
    spec = load_ir(_as_v1(tmp_path, {"config": cfg})).input
    assert (spec.slice_us, spec.time_bins, spec.input_clip) == (10_000, 1, 127.0)


def test_v1_classifier_reads_model_config_and_window(tmp_path):
    meta = {"sensor_size": [64, 48], "window": {"window_us": 5_000, "step_us": 5_000},
            "model_config": {"downsample": 8, "time_bins": 1, "input_clip": 15.0, "layers": []}}
    assert load_ir(_as_v1(tmp_path, meta)).input == InputSpec.from_front_end(FRONT)


def test_v1_without_meta_config_asks_to_requantize(tmp_path):
    with pytest.raises(IRError, match=r"version-1 IR without meta.config.*re-run `edgevision quantize`") as err:
        load_ir(_as_v1(tmp_path, {"activation_ranges": {}}))
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("ir", ["eye_small_int8", "nmnist_esda_int8"])
def test_shipped_irs_are_v2_and_resave_unchanged(ir, tmp_path):
    src = ROOT / "models" / ir
    assert json.loads((src / "network.json").read_text())["version"] == 2
    net = load_ir(src)
    save_ir(net, tmp_path)
    assert (tmp_path / "network.json").read_text() == (src / "network.json").read_text()
    with np.load(src / "tensors.npz") as a, np.load(tmp_path / "tensors.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        assert all(a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]) for k in a.files)


def test_output_spec():
    net = _net()
    assert output_spec(net) == (4, np.int8)
    with pytest.raises(IRError, match="sparse"):
        output_spec(net, "stem")
