"""Board table and the parallelism search under each board's budget."""

from __future__ import annotations

import numpy as np
import pytest

from edgevision.errors import ConfigError
from edgevision.fpga.boards import BOARDS, get_board
from edgevision.fpga.hwgraph import build_graph
from edgevision.fpga.model import estimate, estimate_counts
from edgevision.fpga.search import search_parallelism
from edgevision.ir.random import random_network


def test_board_table_has_the_documented_devices():
    assert set(BOARDS) == {"zcu102", "zcu104", "kv260", "ultra96v2", "pynq-z2"}
    assert (get_board("zcu102").dsp, get_board("zcu102").bram18k, get_board("zcu102").lut) == (2520, 1824, 274_080)
    assert (get_board("pynq-z2").dsp, get_board("pynq-z2").bram18k, get_board("pynq-z2").lut) == (220, 280, 53_200)
    assert all(b.power_source for b in BOARDS.values())
    with pytest.raises(ConfigError, match="zcu102"):
        get_board("de10-nano")


@pytest.mark.parametrize("board", sorted(BOARDS))
@pytest.mark.parametrize("fraction", [0.5, 0.8])
def test_search_stays_within_budget(board, fraction):
    net = random_network(np.random.default_rng(1), widths=(16, 32, 64), expand=4, fc_out=10)
    g = build_graph(net)
    b = get_board(board)
    counts = estimate_counts(g, 0.1)
    minimal = estimate(g, counts, b)  # PI = PO = 1 (fresh graph)
    if not minimal.fits(fraction):
        with pytest.raises(ConfigError, match="does not fit"):
            search_parallelism(g, counts, b, fraction)
        return
    est = search_parallelism(g, counts, b, fraction)
    assert est.latency_cycles <= minimal.latency_cycles
    r = est.resources
    assert r.dsp <= fraction * b.dsp and r.bram18k <= fraction * b.bram18k and r.lut <= fraction * b.lut
    for m in g.modules:
        assert m.cin % m.pi == 0 and m.cout % m.po == 0, m.name  # parallelism divides the channels


def test_bigger_board_is_not_slower():
    net = random_network(np.random.default_rng(2), widths=(16, 32), fc_out=4)
    lat = {}
    for board in ("pynq-z2", "zcu102"):
        g = build_graph(net)
        est = search_parallelism(g, estimate_counts(g, 0.05), get_board(board))
        lat[board] = est.latency_cycles
    assert lat["zcu102"] < lat["pynq-z2"]
