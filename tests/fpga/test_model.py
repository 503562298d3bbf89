"""The cycle model against the C simulation's instrumented cycle counts."""

from __future__ import annotations

import numpy as np

from edgevision.fpga.boards import get_board
from edgevision.fpga.model import estimate, estimate_counts, latency_cycles, mean_counts, measure_counts, module_cycles
from edgevision.ir.random import random_tokens


def blob_windows(h: int, w: int, c: int, n: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Eye-like windows: a noisy ring (pupil edge) plus sparse background noise, in raster order."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    out = []
    for _ in range(n):
        cy, cx, r = rng.uniform(0.3 * h, 0.7 * h), rng.uniform(0.3 * w, 0.7 * w), rng.uniform(0.1, 0.25) * h
        ring = np.abs(np.hypot(yy - cy, xx - cx) - r) < rng.uniform(0.8, 2.0)
        active = ring & (rng.random((h, w)) < 0.7) | (rng.random((h, w)) < 0.01)
        flat = np.flatnonzero(active)
        coords = np.stack([flat // w, flat % w], 1).astype(np.int32)
        out.append((coords, rng.integers(0, 16, (len(flat), c)).astype(np.int8)))
    return out


def _measured(design, windows):
    res = design.run(windows)
    names = [m.name for m in design.graph.modules]
    return [dict(zip(names, row.astype(float))) for row in res.cycles]


def test_model_matches_csim_cycles_per_module_on_realistic_windows(logits_design):
    g = logits_design.graph
    net = g.net
    wins = blob_windows(net.input.height, net.input.width, net.input.channels, 12)
    board = get_board("zcu102")
    for (c, _), meas in zip(wins, _measured(logits_design, wins)):
        model = estimate(g, measure_counts(g, c), board)
        for name, cyc in meas.items():
            assert abs(model.cycles[name] - cyc) <= 0.15 * max(cyc, 1), name
        lat = latency_cycles(g, meas)
        assert abs(model.latency_cycles - lat) <= 0.15 * lat


def test_density_only_estimate_within_15_percent_on_uniform_windows(logits_design):
    g = logits_design.graph
    net = g.net
    rng = np.random.default_rng(2)
    for d in (0.03, 0.1, 0.3):
        wins = [random_tokens(rng, net.input.height, net.input.width, net.input.channels, d) for _ in range(6)]
        meas = _measured(logits_design, wins)
        lat_meas = float(np.mean([latency_cycles(g, m) for m in meas]))
        model = estimate(g, estimate_counts(g, d), get_board("zcu102"))
        assert abs(model.latency_cycles - lat_meas) <= 0.15 * lat_meas, d


def test_more_parallelism_means_fewer_cycles_more_dsp(logits_design):
    g = logits_design.graph
    c, _ = blob_windows(g.net.input.height, g.net.input.width, g.net.input.channels, 1)[0]
    counts = mean_counts([measure_counts(g, c)])
    board = get_board("zcu102")
    saved = g.parallelism()
    try:
        g.set_parallelism({k: (1, 1) for k in saved})
        slow = estimate(g, counts, board)
        g.set_parallelism(saved)
        fast = estimate(g, counts, board)
    finally:
        g.set_parallelism(saved)
    assert fast.latency_cycles < slow.latency_cycles
    assert fast.resources.dsp > slow.resources.dsp


def test_empty_window_costs_only_fixed_overheads(logits_design):
    g = logits_design.graph
    empty = (np.zeros((0, 2), np.int32), np.zeros((0, g.net.input.channels), np.int8))
    meas = _measured(logits_design, [empty])[0]
    model = estimate(g, measure_counts(g, empty[0]), get_board("zcu102"))
    assert model.cycles == meas
    assert meas["input_adapter"] == 1  # just the end-of-frame word


def test_csim_counters_equal_the_model_exactly_on_every_module(chain_design, fcq_design):
    """The HLS modules' pipelined-iteration counters and the cycle model are the same accounting, window by
    window (edge cases included): a change to a module's loops must change both."""
    from .test_csim_modules import edge_windows

    for design in (chain_design, fcq_design):
        g = design.graph
        wins = list(edge_windows(g.net.input.height, g.net.input.width, g.net.input.channels).values())
        for (c, _), meas in zip(wins, _measured(design, wins)):
            counts = measure_counts(g, c)
            assert {m.name: module_cycles(m, counts[m.name]) for m in g.modules} == meas
