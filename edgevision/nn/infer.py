"""One-window float inference of a :class:`~edgevision.nn.backbone.SparseBackbone` with few PyTorch calls.

The training path (:mod:`edgevision.nn.layers`) is general: batches, autograd, BatchNorm modules, searchsorted
neighbour lookup. A real-time loop runs one window at a time in eval mode on ~100-500 active sites, where the
cost is the number of PyTorch calls, not arithmetic: a loop thread that slept until its window was ready wakes
with cold caches, and then every call costs 10-60 us. :class:`WindowBackbone` is built once from a trained
backbone and computes the same function (equal up to float rounding) in about 40 calls:

* one numba call (:func:`~edgevision.nn.window_geometry.window_inputs`) prepares the clipped input and the
  index tables of every resolution;
* activations are *augmented*: [N + 1, C + 1] with a ones column and an all-zero padding row N. BatchNorm
  (eval statistics) is folded into each conv, and the bias rides on the ones column as one more weight row,
  so a conv is a plain ``mm`` that keeps the padding row zero (ReLU / ReLU6, one ``clamp_``, keep 0 and 1);
* 3x3 submanifold and 2x2 stride-2 convs are one ``index_select`` into the augmented activations (absent
  neighbours or taps read the padding row) + ``mm``; the 2x2 gather has a fifth tap, one active input, whose
  ones column carries the bias;
* a depthwise conv is ``index_select`` + multiply + sum, its bias added in proportion to the output's ones
  column (zero on the padding row);
* a residual add of ``skip + conv(x)`` (the conv's only use) is one ``addmm`` onto the skip, the conv emitting
  a zero ones column; the grid pool is one ``mm`` with the window's mean weights.

The steps are issued from C++ (``window_forward.cpp``, built by :mod:`edgevision.nn.window_native`): the same
ATen ops without a Python call each; :meth:`WindowBackbone._forward_python` is the same loop in Python, used
when no compiler is available and as the reference the C++ loop is tested against (bit-identical).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from edgevision.nn.backbone import SparseBackbone
from edgevision.nn.layers import AddNode, ConvNode, PoolNode, fold_bn
from edgevision.nn.window_geometry import window_inputs

# per conv: (weight taps, gathered rows per output site, the row whose ones column carries the bias)
_TAPS = {"conv3x3_subm": (9, 9, 4), "conv2x2_s2": (4, 5, 4), "conv1x1": (1, 1, 0)}  # 2x2: four taps + bias tap
_ACT = {None: None, "relu": (0.0, None), "relu6": (0.0, 6.0)}


@dataclass
class _Step:
    """``kind`` conv / dw / pool on slot ``src``: gather through index table ``table`` (-1: none) viewed as
    ``view``, then ``mm`` with the augmented ``weight`` (``addmm`` onto slot ``skip`` when >= 0: a residual
    add) or, for dw, multiply, sum and ``bias``; ``act`` the (min, max) clamp."""

    kind: str
    src: int
    weight: torch.Tensor | None = None
    table: int = -1
    view: tuple[int, ...] = ()
    skip: int = -1
    bias: torch.Tensor | None = None
    act: tuple[float, float | None] | None = None


def _augmented(node: ConvNode, ones: float) -> torch.Tensor:
    """[rows * (Ci + 1), Co + 1]: the folded weight per gathered tap, the bias on the ones row of the bias tap and
    ``ones`` as the output's ones column."""
    w, bias = fold_bn(node)
    co = w.shape[0]
    taps, rows, bias_tap = _TAPS[node.op]
    ci = w.numel() // co // taps
    blocks = torch.zeros(rows, ci + 1, co + 1)
    blocks[:taps, :ci, :co] = w.reshape(co, -1).t().reshape(taps, ci, co)
    blocks[bias_tap, ci, :co] = bias
    blocks[bias_tap, ci, co] = ones
    return blocks.reshape(-1, co + 1).contiguous()


def _augmented_dw(node: ConvNode) -> tuple[torch.Tensor, torch.Tensor]:
    """Depthwise: [9, C + 1] weights (the centre tap passes the ones column on) and the bias [C + 1] (0 on the
    ones column), added in proportion to the output's ones column so that the padding row stays zero."""
    w, bias = fold_bn(node)
    c = w.shape[0]
    weight = torch.zeros(9, c + 1)
    weight[:, :c] = w.reshape(c, 9).t()
    weight[4, c] = 1.0
    return weight, torch.cat([bias, bias.new_zeros(1)])


class WindowBackbone:
    """``backbone`` compiled for one window: ``(coords [N, 2] (y, x) raster order, feats [N, Ci]) -> [F]``.

    Eval-mode semantics of the source backbone (BatchNorm running statistics); a snapshot of its weights at
    construction time. Thread-compatible: every call allocates its own buffers. ``native`` runs the step loop
    in C++ (:mod:`edgevision.nn.window_native`, built on first use) when it can be built; ``plan`` is None
    when the Python loop runs.
    """

    def __init__(self, backbone: SparseBackbone, native: bool = True) -> None:
        if backbone.training:
            raise ValueError("WindowBackbone folds BatchNorm running statistics: call backbone.eval() first")
        self.in_channels = backbone.in_channels
        self.feature_dim = backbone.feature_dim
        self.out_channels = backbone.out_channels
        nodes = list(backbone.nodes)
        users: dict[str, list] = {}
        for node in nodes:
            for name in node.inputs:
                users.setdefault(name, []).append(node)
        only = lambda name, kind: len(users.get(name, [])) == 1 and isinstance(users[name][0], kind)  # noqa: E731
        slot, res_of, channels = {"input": 0}, {"input": 0}, {"input": backbone.in_channels}
        deferred: dict[str, ConvNode] = {}  # convs folded into the residual add that reads them (no act)
        self.steps: list[_Step] = []
        self.n_res = 1

        def emit(name: str, step: _Step, res: int, ch: int) -> None:
            self.steps.append(step)
            slot[name], res_of[name], channels[name] = len(slot), res, ch

        def conv_step(node: ConvNode, ones: float, skip: int = -1) -> _Step:
            w = _augmented(node, ones)
            r = res_of[node.inputs[0]]
            table = {"conv3x3_subm": 2 * r, "conv1x1": -1, "conv2x2_s2": 2 * r + 1}[node.op]
            return _Step("conv", slot[node.inputs[0]], w, table, (-1, w.shape[0]), skip, act=_ACT[node.act_name])

        with torch.no_grad():
            for node in nodes:
                res = res_of.get(node.inputs[0], 0)
                if isinstance(node, ConvNode) and node.op == "dwconv3x3_subm":
                    w, b = _augmented_dw(node)
                    step = _Step("dw", slot[node.inputs[0]], w, 2 * res, (-1, 9, node.out_ch + 1), bias=b,
                                 act=_ACT[node.act_name])
                    emit(node.name, step, res, node.out_ch)
                elif isinstance(node, ConvNode) and node.op in _TAPS:
                    if node.act_name is None and node.op != "conv2x2_s2" and only(node.name, AddNode):
                        deferred[node.name] = node
                        continue
                    step = conv_step(node, 1.0)
                    if node.op == "conv2x2_s2":
                        res = self.n_res
                        self.n_res += 1
                    emit(node.name, step, res, node.out_ch)
                elif isinstance(node, AddNode):
                    conv = [deferred.pop(n) for n in node.inputs if n in deferred]
                    if len(node.inputs) != 2 or len(conv) != 1:
                        raise TypeError(f"WindowBackbone: add {node.name} must add a conv used only there to another "
                                        "value (as in an inverted residual block)")
                    skip = next(n for n in node.inputs if n != conv[0].name)
                    step = conv_step(conv[0], 0.0, slot[skip])  # skip + conv(x) in one addmm
                    step.act = _ACT[node.act_name]
                    emit(node.name, step, res_of[skip], channels[skip])
                elif isinstance(node, PoolNode):
                    emit(node.name, _Step("pool", slot[node.inputs[0]]), res, channels[node.inputs[0]])
                    self.grid = node.grid
                else:
                    raise TypeError(f"WindowBackbone: unsupported node {type(node).__name__} ({node.name})")
        self.plan = self._compile() if native else None

    def _arrays(self, coords: np.ndarray, feats: np.ndarray, shape: tuple[int, int], clip: float
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return window_inputs(np.asarray(coords).reshape(-1, 2), np.asarray(feats, np.float32), float(clip),
                             int(shape[0]), int(shape[1]), self.n_res, *self.grid)

    def inputs(self, coords: np.ndarray, feats: np.ndarray, shape: tuple[int, int], clip: float
               ) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
        """Augmented input [N + 1, Ci + 1], the index tables (2r: neighbours of resolution r, 2r + 1: 2x2 taps
        from r into r + 1) and the pool weights [cells, N_last + 1] (see :func:`window_inputs`)."""
        x0, index, bounds, pool = self._arrays(coords, feats, shape, clip)
        f, b = torch.from_numpy, bounds.tolist()
        return f(x0), [f(index[b[t] : b[t + 1]]) for t in range(len(b) - 1)], f(pool)

    def forward(self, coords: np.ndarray, feats: np.ndarray, shape: tuple[int, int], clip: float = np.inf
                ) -> np.ndarray:
        """Feature vector [feature_dim] float32 of one window on an (H, W) grid; ``feats`` (counts) are clipped
        at ``clip`` first. Runs the compiled step loop when it is built (``native``), else the Python one."""
        if self.plan is not None:
            return self.plan.forward(*self._arrays(coords, feats, shape, clip))
        with torch.inference_mode():
            return self._forward_python(*self.inputs(coords, feats, shape, clip))

    def _forward_python(self, x0: torch.Tensor, tables: list[torch.Tensor], pool: torch.Tensor) -> np.ndarray:
        """The step loop, one PyTorch call from Python per op (``window_forward.cpp`` issues the same ops)."""
        acts = [x0]
        for s in self.steps:
            x = acts[s.src]
            if s.table >= 0:
                x = x.index_select(0, tables[s.table]).view(s.view)
            if s.kind == "dw":
                y = torch.sum(x.mul_(s.weight), 1)
                y = torch.addcmul(y, y[:, -1:], s.bias)
            elif s.skip >= 0:
                y = torch.addmm(acts[s.skip], x, s.weight)
            elif s.kind == "conv":
                y = torch.mm(x, s.weight)
            else:
                return torch.mm(pool, x).numpy()[:, :-1].reshape(-1)
            if s.act is not None:
                y.clamp_(*s.act)
            acts.append(y)
        raise TypeError("WindowBackbone: the backbone has no pool node")

    def _compile(self) -> Any:
        """The steps as a ``WindowPlan`` of the C++ extension, or None when it cannot be built here."""
        from edgevision.nn import window_native

        module = window_native.load()
        if module is None:
            return None
        plan = module.WindowPlan()
        empty = torch.empty(0)
        for s in self.steps:
            act = 0 if s.act is None else 1 if s.act[1] is None else 2
            plan.add({"conv": 0, "dw": 1, "pool": 2}[s.kind], s.src, s.table, list(s.view),
                     empty if s.weight is None else s.weight, empty if s.bias is None else s.bias, s.skip, act)
        return plan
