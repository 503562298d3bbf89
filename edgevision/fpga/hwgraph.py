"""The accelerator as a chain of streaming modules, derived from the IR (one module per layer, plus the stream
adapters and the forks that feed a layer's output to several consumers). Code generator, C simulation and the
cycle/resource model all read this graph."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from edgevision.errors import IRError
from edgevision.ir.ops import OPS, OpSpec, layer_bounds
from edgevision.ir.schema import Layer, Network, output_spec

LINE_BUFFERED = ("conv3x3_subm", "dwconv3x3_subm")  # the 3x3 submanifold convs (neighbour tables)


def sums_input_channels(spec: OpSpec) -> bool:
    """Whether an op's outputs sum over its input channels (its fan-in grows with ``in_ch``: a dense conv or fc;
    depthwise, add and pool work channel by channel), i.e. whether input-channel parallelism PI applies."""
    return spec.weight is not None and spec.fan_in(2, 1) > spec.fan_in(1, 1)


def has_spatial_kernel(spec: OpSpec) -> bool:
    """Whether an op's weight has kernel axes (rank >= 3: 3x3, 2x2), so it buffers input rows."""
    return spec.weight is not None and len(spec.weight(1, 1)) >= 3


@dataclass
class Stream:
    """One on-chip FIFO: ``kind`` is ``token`` (sparse, ``width`` channels), ``vec`` (int8) or ``lvec`` (int32)."""

    name: str
    kind: str
    width: int
    depth: int = 2

    @property
    def ctype(self) -> str:
        return {"token": "ev::token_t", "vec": "ev::vec_t", "lvec": "ev::lvec_t"}[self.kind] + f"<{self.width}>"


@dataclass
class Module:
    """One dataflow process. ``kind`` is an IR op, ``input``/``output`` (adapters) or ``fork``.

    ``grid`` is the (H, W) of its sparse input; ``pi``/``po`` its input/output channel parallelism (depthwise,
    add and pool use ``po`` lanes only).
    """

    index: int
    name: str
    kind: str
    inputs: list[str]
    outputs: list[str]
    cin: int
    cout: int
    grid: tuple[int, int] = (1, 1)
    layer: Layer | None = None
    pi: int = 1
    po: int = 1
    source: str = ""  # the IR layer whose activation a fork or adapter carries
    elem_bits: int = 8  # output adapter: 8 (int8 vector) or 32 (int32 logits)

    @property
    def tunable(self) -> tuple[bool, bool]:
        """Whether (pi, po) are free parameters of this module: PO for every op, PI for an op that sums over
        its input channels (from its ``OpSpec``)."""
        spec = OPS.get(self.kind)
        if spec is None:  # adapters and forks
            return False, False
        return sums_input_channels(spec), True

    def bounds(self) -> tuple[int, int]:
        return layer_bounds(self.layer.attrs)


@dataclass
class HwGraph:
    """Modules in call (topological) order and the streams between them."""

    net: Network
    modules: list[Module]
    streams: dict[str, Stream] = field(default_factory=dict)

    @property
    def output_kind(self) -> str:
        return self.streams[self.modules[-1].inputs[0]].kind

    @property
    def output_length(self) -> int:
        return self.streams[self.modules[-1].inputs[0]].width

    def output_words(self) -> int:
        per = 8 if self.output_kind == "vec" else 2
        return -(-self.output_length // per)

    def parallelism(self) -> dict[str, tuple[int, int]]:
        return {m.name: (m.pi, m.po) for m in self.modules if any(m.tunable)}

    def set_parallelism(self, par: dict[str, tuple[int, int]]) -> None:
        for m in self.modules:
            if m.name in par:
                m.pi, m.po = (int(v) for v in par[m.name])
                check_parallelism(m)


def cident(name: str) -> str:
    """A C identifier for an IR layer name."""
    s = re.sub(r"\W", "_", name)
    return s if s and not s[0].isdigit() else f"l_{s}"


def check_parallelism(m: Module) -> None:
    tin, tout = m.tunable
    if (m.pi != 1 and not tin) or (m.po != 1 and not tout) or m.pi < 1 or m.po < 1:
        raise IRError(f"module {m.name!r} ({m.kind}): parallelism PI={m.pi} PO={m.po} not allowed (PI must be 1 "
                      f"for {m.kind}; both >= 1)")
    if m.pi > max(m.cin, 1) or m.po > max(m.cout, 1):
        raise IRError(f"module {m.name!r}: PI={m.pi} PO={m.po} exceed its channels {m.cin} -> {m.cout}")


def _out_stream(net: Network, lay: Layer) -> Stream:
    name = f"s_{cident(lay.name)}"
    if OPS[lay.op].sparse_out:
        return Stream(name, "token", int(lay.attrs["out_ch"]))
    length, dtype = output_spec(net, lay.name)
    return Stream(name, "vec" if dtype == np.int8 else "lvec", length)


def build_graph(net: Network) -> HwGraph:
    """The module chain of ``net``; raises :class:`IRError` when the network cannot be mapped."""
    out_layer = net.layer(net.output)
    if OPS[out_layer.op].sparse_out:
        raise IRError(f"IR output {net.output!r} is a sparse activation ({out_layer.op}); the accelerator streams a "
                      "dense vector out: end the network with a pool (and optionally fc) layer")
    consumers: dict[str, list[str]] = {"input": []}
    for lay in net.layers:
        consumers[lay.name] = []
        for src in lay.inputs:
            consumers[src].append(lay.name)
    consumers[net.output].append("<output>")
    for name, users in consumers.items():
        if not users:
            raise IRError(f"IR: the output of {name!r} is never used; remove the layer (the accelerator would stall)")
    shapes = net.shapes()
    streams: dict[str, Stream] = {}
    modules: list[Module] = []
    # feeds[(src, consumer)] = stream the consumer reads its copy of src from
    feeds: dict[tuple[str, str], str] = {}

    def add(m: Module) -> Module:
        m.index = len(modules)
        modules.append(m)
        return m

    def produce(src: str, stream: Stream) -> None:
        """Register that ``stream`` carries ``src``; insert forks when ``src`` has several consumers."""
        streams[stream.name] = stream
        users = consumers[src]
        cur = stream.name
        for k, user in enumerate(users[:-1]):
            a = Stream(f"{stream.name}_to_{cident(user)}", stream.kind, stream.width)
            rest = Stream(f"{stream.name}_f{k}", stream.kind, stream.width)
            streams[a.name], streams[rest.name] = a, rest
            add(Module(0, f"fork_{cident(src)}_{k}", "fork", [cur], [a.name, rest.name], stream.width, stream.width,
                       shapes.get(src, (1, 1)), source=src))
            feeds[(src, user)] = a.name
            cur = rest.name
        feeds[(src, users[-1])] = cur

    s_in = Stream("s_input", "token", net.input.channels)
    add(Module(0, "input_adapter", "input", ["axis_in"], [s_in.name], net.input.channels, net.input.channels,
               shapes["input"], source="input"))
    produce("input", s_in)
    for lay in net.layers:
        ins = [feeds[(src, lay.name)] for src in lay.inputs]
        out = _out_stream(net, lay)
        cin = int(lay.attrs["in_ch"])
        add(Module(0, cident(lay.name), lay.op, ins, [out.name], cin, int(lay.attrs["out_ch"]),
                   shapes.get(lay.inputs[0], (1, 1)), layer=lay, source=lay.name))
        produce(lay.name, out)
    last = feeds[(net.output, "<output>")]
    add(Module(0, "output_adapter", "output", [last], ["axis_out"], streams[last].width, streams[last].width,
               source=net.output, elem_bits=8 if streams[last].kind == "vec" else 32))
    graph = HwGraph(net, modules, streams)
    _size_skip_fifos(graph)
    return graph


def module_delay_tokens(m: Module) -> int:
    """Tokens a module holds back before its first output: two rows of sites for an op with a spatial kernel
    (3x3 line buffer, 2x2 stride-2 row pair), else 2."""
    spec = OPS.get(m.kind)
    if spec is not None and has_spatial_kernel(spec):
        return 2 * m.grid[1] + 2
    return 2


def _size_skip_fifos(graph: HwGraph) -> None:
    """Depth of each residual-add input FIFO: the other branch's delay back to the fork (tokens), so the
    skip path never blocks the fork while the main branch fills its line buffers."""
    producer = {s: m for m in graph.modules for s in m.outputs}

    def branch(stream: str) -> tuple[str, int]:
        delay, cur = 0, stream
        while True:
            m = producer[cur]
            if m.kind in ("fork", "input"):
                return cur, delay
            delay += module_delay_tokens(m)
            cur = m.inputs[0]

    for m in graph.modules:
        if m.kind not in OPS or OPS[m.kind].n_inputs < 2:  # the residual add
            continue
        (sa, da), (sb, db) = branch(m.inputs[0]), branch(m.inputs[1])
        graph.streams[sa].depth = max(graph.streams[sa].depth, db - da + 2)
        graph.streams[sb].depth = max(graph.streams[sb].depth, da - db + 2)
