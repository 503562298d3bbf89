"""The integer network IR: one JSON file (graph, attributes) plus one .npz of integer tensors.

It is the single source of truth for the NumPy integer reference, the HLS code generator, the compiled
engine and the latency/resource model. See :mod:`edgevision.ir.ops` for the op semantics.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgevision.atomic import write_bytes_atomic, write_text_atomic
from edgevision.errors import IRError
from edgevision.ir.ops import OPS

IR_SCHEMA = "edgevision.ir"
IR_VERSION = 1
GRAPH_FILE = "network.json"
TENSOR_FILE = "tensors.npz"

_TENSOR_DTYPES = {"weight": np.int8, "bias": np.int32, "mult": np.int32, "mult_a": np.int32, "mult_b": np.int32}


@dataclass
class InputSpec:
    """The network input: int8 features on an (height, width) grid; real value = q * scale."""

    height: int
    width: int
    channels: int
    scale: float = 1.0
    bits: int = 8


@dataclass
class Layer:
    """One node: ``inputs`` name earlier layers (or ``"input"``); tensors are integer numpy arrays."""

    name: str
    op: str
    inputs: list[str]
    attrs: dict[str, Any]
    tensors: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Network:
    """An integer network in dataflow (topological) order."""

    name: str
    input: InputSpec
    layers: list[Layer]
    output: str
    meta: dict[str, Any] = field(default_factory=dict)

    def layer(self, name: str) -> Layer:
        for lay in self.layers:
            if lay.name == name:
                return lay
        raise IRError(f"no layer named {name!r}")

    def shapes(self) -> dict[str, tuple[int, int]]:
        """Grid (H, W) of every sparse activation, by layer name (``"input"`` included)."""
        out = {"input": (self.input.height, self.input.width)}
        for lay in self.layers:
            h, w = out.get(lay.inputs[0], (1, 1))
            out[lay.name] = (-(-h // 2), -(-w // 2)) if lay.op == "conv2x2_s2" else (h, w)
        return out


def validate(net: Network, source: str = "IR") -> Network:
    """Check ops, inputs, tensor shapes/dtypes and channel counts; raise :class:`IRError` naming the layer."""
    seen = {"input": net.input.channels}
    for lay in net.layers:
        where = f"{source}: layer {lay.name!r} ({lay.op})"
        spec = OPS.get(lay.op)
        if spec is None:
            raise IRError(f"{where}: unsupported op; the hardware implements {sorted(OPS)}")
        if lay.name in seen:
            raise IRError(f"{where}: duplicate layer name")
        if len(lay.inputs) != spec.n_inputs:
            raise IRError(f"{where}: expects {spec.n_inputs} input(s), got {lay.inputs}")
        for src in lay.inputs:
            if src not in seen:
                raise IRError(f"{where}: input {src!r} is not an earlier layer (layers must be in dataflow order)")
        missing = [a for a in spec.attrs if a not in lay.attrs]
        if missing:
            raise IRError(f"{where}: missing attribute(s) {missing}")
        in_ch = int(lay.attrs["in_ch"])
        for src in lay.inputs:
            if seen[src] != in_ch:
                raise IRError(f"{where}: in_ch {in_ch} but input {src!r} has {seen[src]} channels")
        for tname, rank in spec.tensors.items():
            if tname not in lay.tensors:
                raise IRError(f"{where}: missing tensor {tname!r}")
        if lay.op == "fc" and lay.attrs.get("requant") and "mult" not in lay.tensors:
            raise IRError(f"{where}: requant fc needs a 'mult' tensor")
        for tname, arr in lay.tensors.items():
            rank = spec.tensors.get(tname, 1)
            if arr.ndim != rank:
                raise IRError(f"{where}: tensor {tname!r} has rank {arr.ndim}, expected {rank}")
            want = _TENSOR_DTYPES.get(tname)
            if want is not None and arr.dtype != want:
                raise IRError(f"{where}: tensor {tname!r} has dtype {arr.dtype}, expected {np.dtype(want)}")
        if "shift" in lay.attrs and lay.op != "fc" and int(lay.attrs["shift"]) < 1:
            raise IRError(f"{where}: shift must be >= 1")
        out = int(lay.attrs["out_ch"])
        if lay.op == "pool":  # a dense vector of gh * gw cells, out_ch channels each
            out *= int(lay.attrs["grid"][0]) * int(lay.attrs["grid"][1])
        seen[lay.name] = out
    if net.output not in seen:
        raise IRError(f"{source}: output {net.output!r} is not a layer")
    return net


def save_ir(net: Network, directory: str | Path) -> Path:
    """Validate and write ``network.json`` + ``tensors.npz`` into ``directory`` (atomically, each file)."""
    validate(net)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    graph = {
        "schema": IR_SCHEMA,
        "version": IR_VERSION,
        "name": net.name,
        "input": vars(net.input),
        "output": net.output,
        "meta": net.meta,
        "layers": [
            {"name": l.name, "op": l.op, "inputs": l.inputs, "attrs": l.attrs, "tensors": sorted(l.tensors)}
            for l in net.layers
        ],
    }
    buf = io.BytesIO()
    np.savez(buf, **{f"{l.name}/{k}": v for l in net.layers for k, v in l.tensors.items()})
    write_bytes_atomic(directory / TENSOR_FILE, buf.getvalue())
    write_text_atomic(directory / GRAPH_FILE, json.dumps(graph, indent=1, default=_json_default))
    return directory


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def load_ir(directory: str | Path) -> Network:
    """Read and validate an IR directory; every problem is an :class:`IRError` naming the file."""
    directory = Path(directory)
    gpath, tpath = directory / GRAPH_FILE, directory / TENSOR_FILE
    if not gpath.is_file() or not tpath.is_file():
        raise IRError(f"{directory}: not an IR directory (needs {GRAPH_FILE} and {TENSOR_FILE}); make one with `edgevision quantize`")
    try:
        graph = json.loads(gpath.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IRError(f"{gpath}: not valid JSON ({exc})") from None
    if not isinstance(graph, dict) or graph.get("schema") != IR_SCHEMA:
        raise IRError(f"{gpath}: not an edgevision IR (schema field must be {IR_SCHEMA!r})")
    if graph.get("version") != IR_VERSION:
        raise IRError(f"{gpath}: IR version {graph.get('version')!r} is not supported (this edgevision reads {IR_VERSION}); re-export")
    try:
        with np.load(tpath, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise IRError(f"{tpath}: unreadable tensor archive ({exc})") from None
    try:
        layers = []
        for d in graph["layers"]:
            tensors = {}
            for k in d["tensors"]:
                key = f"{d['name']}/{k}"
                if key not in arrays:
                    raise IRError(f"{tpath}: missing tensor {key!r}")
                tensors[k] = arrays[key]
            layers.append(Layer(d["name"], d["op"], list(d["inputs"]), dict(d["attrs"]), tensors))
        net = Network(graph["name"], InputSpec(**graph["input"]), layers, graph["output"], graph.get("meta", {}))
    except (KeyError, TypeError) as exc:
        raise IRError(f"{gpath}: malformed graph (missing or wrong field {exc})") from None
    return validate(net, source=str(gpath))
