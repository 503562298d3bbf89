"""Config loading errors name the file and the field."""

import pytest

from edgevision.errors import ConfigError
from edgevision.nn.config import config_from_dict, load_config

LAYERS = {"layers": [{"op": "conv3x3_subm", "out": 4}, {"op": "pool"}]}


def test_defaults_and_types(tmp_path):
    p = tmp_path / "m.yaml"
    p.write_text("input: {time_bins: 3}\nbackbone: {layers: [{op: conv1x1, out: 4}, {op: pool}]}\ntrain: {lr: 1}\n")
    cfg = load_config(p)
    assert cfg.name == "m" and cfg.input.channels == 6 and cfg.train.lr == 1.0 and isinstance(cfg.train.lr, float)
    assert cfg.input.grid((640, 480)) == (60, 80)
    assert config_from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize(
    "data, message",
    [
        ([1, 2], "top level must be a mapping"),
        ({"backbone": LAYERS, "inputs": {}}, "unknown top-level key"),
        ({"backbone": LAYERS, "input": {"bins": 2}}, r"input: unknown key\(s\) \['bins'\]"),
        ({"backbone": LAYERS, "input": {"time_bins": "two"}}, "input.time_bins: expected a number"),
        ({"backbone": LAYERS, "train": {"epochs": 1.5}}, "train.epochs: expected an integer"),
        ({"backbone": LAYERS, "input": {"downsample": 0}}, "input.downsample must be >= 1"),
        ({"backbone": LAYERS, "train": {"val_fraction": 1.0}}, "val_fraction"),
        ({"backbone": {"layers": []}}, "backbone.layers must be a non-empty list"),
        ({"backbone": LAYERS, "gru": [64]}, "gru: expected a mapping"),
    ],
)
def test_config_errors(data, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(data, "cfg.yaml")


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("input: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        load_config(bad)
