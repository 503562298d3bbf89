"""C simulation of the HLS modules against the NumPy integer reference (bit-exact), edge cases included."""

from __future__ import annotations

import numpy as np
import pytest

from edgevision.errors import BackendError
from edgevision.ir.random import random_tokens
from edgevision.ir.stream import EOF_FLAG, pack_tokens
from edgevision.quant.reference import run_network


def _tokens(sites: np.ndarray, w: int, c: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    flat = np.unique(np.asarray(sites, np.int64))
    coords = np.stack([flat // w, flat % w], 1).astype(np.int32)
    return coords, rng.integers(-128, 128, (len(flat), c)).astype(np.int8)


def edge_windows(h: int, w: int, c: int, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    grid = np.arange(h * w).reshape(h, w)
    border = np.concatenate([grid[0], grid[-1], grid[:, 0], grid[:, -1]])
    wins = {
        "empty": _tokens(np.zeros(0), w, c, rng),
        "single_top_left": _tokens([0], w, c, rng),
        "single_bottom_right": _tokens([h * w - 1], w, c, rng),
        "single_centre": _tokens([(h // 2) * w + w // 2], w, c, rng),
        "borders": _tokens(border, w, c, rng),
        "all_active": _tokens(grid.ravel(), w, c, rng),
        "last_row_only": _tokens(grid[-1], w, c, rng),
        "two_far_rows": _tokens(np.concatenate([grid[1, ::2], grid[-2, 1::3]]), w, c, rng),
    }
    for d in (0.1, 0.3, 0.6):
        wins[f"random_{d}"] = _tokens(rng.choice(h * w, int(d * h * w), replace=False), w, c, rng)
    return wins


def _check(design, windows: dict) -> None:
    res = design.run(list(windows.values()))
    for (name, (c, f)), got in zip(windows.items(), res.outputs):
        want = run_network(design.graph.net, c, f)
        assert got.dtype == want.dtype, name
        np.testing.assert_array_equal(got, want, err_msg=f"window {name}")


def test_chain_of_all_sparse_modules_is_bit_exact_on_edge_cases(chain_design):
    net = chain_design.graph.net
    _check(chain_design, edge_windows(net.input.height, net.input.width, net.input.channels))


def test_identity_readout_shows_every_site(chain_design):
    """The readout is a dense map: an all-active window must give nonzero output in many cells (not a no-op)."""
    net = chain_design.graph.net
    c, f = edge_windows(net.input.height, net.input.width, net.input.channels)["all_active"]
    out = chain_design.run([(c, f)]).outputs[0]
    assert np.count_nonzero(out) > out.size // 2


def test_global_pool_and_requantized_fc(fcq_design):
    net = fcq_design.graph.net
    _check(fcq_design, edge_windows(net.input.height, net.input.width, net.input.channels, seed=1))


def test_random_network_logits_many_windows(logits_design):
    net = logits_design.graph.net
    rng = np.random.default_rng(5)
    wins = {f"w{i}": random_tokens(rng, net.input.height, net.input.width, net.input.channels, d)
            for i, d in enumerate(np.linspace(0.0, 0.5, 40))}
    _check(logits_design, wins)


def test_read_while_empty_fails_the_simulation(chain_design):
    net = chain_design.graph.net
    c, f = edge_windows(net.input.height, net.input.width, net.input.channels)["borders"]
    words = pack_tokens(c, f)
    truncated = words[:4]  # two whole tokens, then nothing: no end-of-frame word
    with pytest.raises(BackendError, match="read while empty"):
        chain_design.run_words([truncated], [len(c)])


def test_out_of_order_tokens_are_rejected(chain_design):
    net = chain_design.graph.net
    c, f = edge_windows(net.input.height, net.input.width, net.input.channels)["random_0.3"]
    words = pack_tokens(c[::-1].copy(), f[::-1].copy())
    with pytest.raises(BackendError, match="raster order"):
        chain_design.run_words([words], [len(c)])


def test_extra_words_after_end_of_frame_are_reported(chain_design):
    words = np.array([EOF_FLAG, EOF_FLAG], np.uint64)
    with pytest.raises(BackendError, match="left unread"):
        chain_design.run_words([words], [0])
