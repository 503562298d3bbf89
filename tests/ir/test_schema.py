import json

import numpy as np
import pytest

from edgevision.errors import IRError
from edgevision.ir import InputSpec, Layer, Network, load_ir, save_ir


def _net() -> Network:
    rng = np.random.default_rng(0)
    req = {"shift": 16, "relu": True, "act_max": 127, "scale": 0.05, "bits": 8}
    return Network(
        "tiny",
        InputSpec(6, 8, 2),
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
    g["version"] = 1
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
