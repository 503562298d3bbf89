"""Shared fixtures: the designs are compiled once per test session (content-hashed .so cache in a tmp dir)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from edgevision.ir.random import _conv, random_network
from edgevision.ir.schema import Layer, Network, grid_input, save_ir, validate


def identity_pool(name: str, src: str, ch: int, grid: tuple[int, int]) -> Layer:
    """A pool with one cell per site: its output is the sparse input scattered densely (exact for int8)."""
    attrs = {"in_ch": ch, "out_ch": ch, "grid": list(grid), "shift": 16, "relu": False, "act_max": 127, "scale": 0.1, "bits": 8}
    return Layer(name, "pool", [src], attrs, {"mult": np.full(ch, 1 << 16, np.int32)})


def chain_network(h: int = 7, w: int = 9) -> Network:
    """Every sparse module in one chain, read out site by site: 3x3 -> depthwise 3x3 -> 1x1 -> residual add
    -> 2x2 stride 2 -> identity pool."""
    rng = np.random.default_rng(3)
    layers = [_conv(rng, "c3", "conv3x3_subm", "input", 3, 5, False),
              _conv(rng, "dw", "dwconv3x3_subm", "c3", 5, 5, True),
              _conv(rng, "pw", "conv1x1", "dw", 5, 5, False)]
    attrs = {"in_ch": 5, "out_ch": 5, "shift": 15, "relu": False, "act_max": 127, "scale": 0.05, "bits": 8}
    layers.append(Layer("add", "add", ["dw", "pw"], attrs, {"mult_a": rng.integers(20000, 40000, 5).astype(np.int32),
                                                              "mult_b": rng.integers(20000, 40000, 5).astype(np.int32)}))
    layers.append(_conv(rng, "down", "conv2x2_s2", "add", 5, 6, False))
    layers.append(identity_pool("readout", "down", 6, (-(-h // 2), -(-w // 2))))
    return validate(Network("chain", grid_input(h, w, 3), layers, "readout"))


def fc_requant_network() -> Network:
    """1x1 -> global average pool -> requantized fc (int8 output)."""
    rng = np.random.default_rng(4)
    layers = [_conv(rng, "pw", "conv1x1", "input", 4, 8, True)]
    attrs = {"in_ch": 8, "out_ch": 8, "grid": [1, 1], "shift": 16, "relu": True, "act_max": 127, "scale": 0.05, "bits": 8}
    layers.append(Layer("gap", "pool", ["pw"], attrs, {"mult": rng.integers(40000, 90000, 8).astype(np.int32)}))
    fc = {"in_ch": 8, "out_ch": 6, "requant": True, "scale": 0.1, "shift": 12, "relu": False, "act_max": 127, "bits": 8}
    layers.append(Layer("fc", "fc", ["gap"], fc, {"weight": rng.integers(-127, 128, (6, 8)).astype(np.int8),
                                                   "bias": rng.integers(-500, 500, 6).astype(np.int32),
                                                   "mult": rng.integers(100, 3000, 6).astype(np.int32)}))
    return validate(Network("fcq", grid_input(10, 12, 4), layers, "fc"))


def logits_network() -> Network:
    return random_network(np.random.default_rng(0), height=30, width=40, widths=(8, 16), fc_out=5)


@pytest.fixture(scope="session", autouse=True)
def csim_cache(tmp_path_factory: pytest.TempPathFactory):
    old = os.environ.get("EDGEVISION_CACHE")
    os.environ["EDGEVISION_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        del os.environ["EDGEVISION_CACHE"]
    else:
        os.environ["EDGEVISION_CACHE"] = old


def _compile(net: Network, tmp_path_factory: pytest.TempPathFactory, par: dict | None = None):
    from edgevision.fpga.csim import compile_design
    from edgevision.fpga.hwgraph import build_graph

    graph = build_graph(net)
    if par:
        graph.set_parallelism(par)
    return compile_design(graph, tmp_path_factory.mktemp(net.name))


@pytest.fixture(scope="session")
def chain_design(tmp_path_factory, csim_cache):
    # uneven parallelism (channels not multiples of PI/PO) exercises the ceil() tails
    return _compile(chain_network(), tmp_path_factory, {"c3": (2, 3), "dw": (1, 2), "pw": (5, 2), "add": (1, 5), "down": (3, 4)})


@pytest.fixture(scope="session")
def fcq_design(tmp_path_factory, csim_cache):
    return _compile(fc_requant_network(), tmp_path_factory, {"pw": (2, 4), "gap": (1, 3), "fc": (3, 2)})


@pytest.fixture(scope="session")
def logits_design(tmp_path_factory, csim_cache):
    from edgevision.fpga.flow import plan
    from edgevision.ir.random import random_windows

    net = logits_network()
    graph, _ = plan(net, "zcu102", random_windows(net, 4, 0.1))
    from edgevision.fpga.csim import compile_design

    return compile_design(graph, tmp_path_factory.mktemp("logits"))


@pytest.fixture(scope="session")
def logits_ir(tmp_path_factory):
    return save_ir(logits_network(), tmp_path_factory.mktemp("logits_ir"))
