"""Design-space search: per-module parallelism (PI, PO) minimizing the dataflow latency within a board budget.

Greedy on the bottleneck (the rate-setting module of a dataflow pipeline, as in ESDA's mapping): start with
PI = PO = 1, repeatedly raise the bottleneck module's PI or PO to its next divisor of the channel count (the
step with the best cycle reduction per added DSP), and stop when the bottleneck cannot be sped up within the
budget (``fraction`` of the board's DSP, BRAM18K and LUT).
"""

from __future__ import annotations

from edgevision.errors import ConfigError
from edgevision.fpga.boards import Board
from edgevision.fpga.hwgraph import HwGraph, Module
from edgevision.fpga.model import Counts, Estimate, estimate, module_cycles, module_resources, tail_cycles


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _steps(m: Module) -> list[tuple[int, int]]:
    tin, tout = m.tunable
    out = []
    if tin:
        nxt = [d for d in divisors(m.cin) if d > m.pi]
        if nxt:
            out.append((nxt[0], m.po))
    if tout:
        nxt = [d for d in divisors(m.cout) if d > m.po]
        if nxt:
            out.append((m.pi, nxt[0]))
    return out


def search_parallelism(graph: HwGraph, counts: dict[str, Counts], board: Board, fraction: float = 0.8,
                       max_iter: int = 2000) -> Estimate:
    """Set ``graph``'s parallelism in place and return the final estimate, within budget; raise
    :class:`ConfigError` when even the all-ones design does not fit."""
    for m in graph.modules:
        m.pi = m.po = 1
    est = estimate(graph, counts, board)
    if not est.fits(fraction):
        r = est.resources.as_dict()
        raise ConfigError(f"network {graph.net.name!r} does not fit {fraction:.0%} of {board.name} even at PI = PO = 1 "
                          f"(needs DSP {r['dsp']}/{board.dsp}, BRAM18K {r['bram18k']}/{board.bram18k}, LUT "
                          f"{r['lut']}/{board.lut}); use a larger board, a higher --fraction or a smaller network")
    for _ in range(max_iter):
        stream = [m for m in graph.modules if any(m.tunable)]
        if not stream:
            break
        bott = max(graph.modules, key=lambda m: est.cycles[m.name] - tail_cycles(m))
        if not any(bott.tunable):
            break  # an adapter or fork sets the rate: more parallelism elsewhere cannot help
        best: tuple[float, tuple[int, int], Estimate] | None = None
        old = (bott.pi, bott.po)
        old_cyc, old_dsp = est.cycles[bott.name], module_resources(bott, board).dsp
        for pi, po in _steps(bott):
            bott.pi, bott.po = pi, po
            cand = estimate(graph, counts, board)
            gain = (old_cyc - module_cycles(bott, counts[bott.name])) / max(module_resources(bott, board).dsp - old_dsp, 0.5)
            if cand.fits(fraction) and (best is None or gain > best[0]):
                best = (gain, (pi, po), cand)
            bott.pi, bott.po = old
        if best is None:
            break
        bott.pi, bott.po = best[1]
        est = best[2]
    return est
