"""The integer network IR: one JSON file (graph, attributes) plus one .npz of integer tensors.

It is the single source of truth for the NumPy integer reference, the HLS code generator, the compiled
engine, the latency/resource model and the runtime: :class:`InputSpec` holds the whole front end (sensor,
downsample, slice length, time bins, polarity channels, clip, input scale), :func:`output_spec` the output
vector. See :mod:`edgevision.ir.ops` for the op semantics.

Version 2 stores the front end in ``input``; version-1 files (front end in the free-form ``meta``) are read
by taking it from ``meta.config`` (eye tracker) or ``meta.model_config`` + ``meta.window`` (classifier).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from edgevision.atomic import write_bytes_atomic, write_text_atomic
from edgevision.errors import IRError
from edgevision.ir.ops import OPS
from edgevision.resources import shipped

IR_SCHEMA = "edgevision.ir"
IR_VERSION = 2
GRAPH_FILE = "network.json"
TENSOR_FILE = "tensors.npz"

_TENSOR_DTYPES = {"weight": np.int8, "bias": np.int32, "mult": np.int32, "mult_a": np.int32, "mult_b": np.int32}


@dataclass
class InputSpec:
    """The network input and the front end that makes it from events.

    Events of a ``sensor_width`` x ``sensor_height`` sensor, cut into ``slice_us`` windows, binned by
    ``downsample`` onto a (``height``, ``width``) = ceil(sensor / downsample) grid with ``channels`` =
    ``time_bins`` x ``polarities`` count features, clipped at ``input_clip``; int8 value q = round(count /
    ``scale``) on ``bits`` bits (real value = q * scale).
    """

    height: int
    width: int
    channels: int
    sensor_width: int
    sensor_height: int
    downsample: int
    slice_us: int
    time_bins: int
    input_clip: float
    scale: float = 1.0
    bits: int = 8
    polarities: int = 2

    @property
    def sensor_size(self) -> tuple[int, int]:
        """(width, height) of the sensor."""
        return self.sensor_width, self.sensor_height

    @classmethod
    def from_front_end(cls, front: Mapping[str, Any], scale: float = 1.0, bits: int = 8) -> "InputSpec":
        """The spec of a front end (:func:`front_end`): grid and channels follow from it."""
        ds = int(front["downsample"])
        return cls(-(-int(front["sensor_height"]) // ds), -(-int(front["sensor_width"]) // ds),
                   int(front["time_bins"]) * int(front.get("polarities", 2)), scale=scale, bits=bits, **front)


def front_end(sensor_size: Sequence[int], settings: Mapping[str, Any]) -> dict[str, Any]:
    """The front-end fields of an :class:`InputSpec` from a sensor (width, height) and input settings with
    ``downsample``, ``slice_us``, ``time_bins``, ``input_clip`` (and optionally ``polarities``)."""
    return {"sensor_width": int(sensor_size[0]), "sensor_height": int(sensor_size[1]),
            "downsample": int(settings["downsample"]), "slice_us": int(settings["slice_us"]),
            "time_bins": int(settings["time_bins"]), "input_clip": float(settings["input_clip"]),
            "polarities": int(settings.get("polarities", 2))}


def grid_front(height: int, width: int, channels: int, scale: float = 1.0) -> dict[str, Any]:
    """A front end whose sensor is the grid itself (downsample 1, one polarity, a time bin per channel, 10 ms,
    clip at the int8 range): for networks that no event front end feeds (random IRs, an exported network run
    on ready-made tokens)."""
    return front_end((width, height), {"downsample": 1, "slice_us": 10_000, "time_bins": channels,
                                       "input_clip": 127.0 * scale, "polarities": 1})


def grid_input(height: int, width: int, channels: int, scale: float = 1.0) -> InputSpec:
    """:class:`InputSpec` of :func:`grid_front`."""
    return InputSpec.from_front_end(grid_front(height, width, channels, scale), scale)


def validate_input(spec: InputSpec, source: str = "IR") -> InputSpec:
    """Check the front end is consistent; :class:`IRError` naming the field."""
    where = f"{source}: input"
    for name in ("height", "width", "channels", "sensor_width", "sensor_height", "downsample", "slice_us", "time_bins"):
        v = getattr(spec, name)
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise IRError(f"{where}.{name} must be a positive integer, got {v!r}")
    if spec.polarities not in (1, 2):
        raise IRError(f"{where}.polarities must be 1 or 2, got {spec.polarities!r}")
    if not isinstance(spec.bits, (int, np.integer)) or not 2 <= spec.bits <= 8:
        raise IRError(f"{where}.bits must be an integer in 2..8, got {spec.bits!r}")
    for name in ("scale", "input_clip"):
        v = getattr(spec, name)
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not 0 < v < float("inf"):
            raise IRError(f"{where}.{name} must be a positive number, got {v!r}")
    if spec.channels != spec.time_bins * spec.polarities:
        raise IRError(f"{where}.channels is {spec.channels} but time_bins x polarities = "
                      f"{spec.time_bins} x {spec.polarities} = {spec.time_bins * spec.polarities}")
    for name, sensor in (("height", spec.sensor_height), ("width", spec.sensor_width)):
        want = -(-sensor // spec.downsample)
        if getattr(spec, name) != want:
            raise IRError(f"{where}.{name} is {getattr(spec, name)} but ceil(sensor_{name} / downsample) = "
                          f"ceil({sensor} / {spec.downsample}) = {want}")
    return spec


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
            out[lay.name] = OPS[lay.op].out_grid(h, w)
        return out


def output_spec(net: Network, name: str | None = None) -> tuple[int, type]:
    """(length, dtype) of the dense vector layer ``name`` (default: the network output) produces: pool
    ``gh * gw * out_ch`` int8, fc ``out_ch`` int8 when requantized else int32 (logits); :class:`IRError` for a
    sparse layer."""
    lay = net.layer(net.output if name is None else name)
    if lay.op == "pool":
        return int(lay.attrs["out_ch"]) * int(lay.attrs["grid"][0]) * int(lay.attrs["grid"][1]), np.int8
    if lay.op == "fc":
        return int(lay.attrs["out_ch"]), (np.int8 if lay.attrs.get("requant") else np.int32)
    raise IRError(f"IR {net.name!r}: layer {lay.name!r} ({lay.op}) is a sparse activation, not a dense pool/fc vector")


def validate(net: Network, source: str = "IR") -> Network:
    """Check the input spec, ops, inputs, tensor shapes/dtypes and channel counts; raise :class:`IRError`
    naming the field or layer."""
    validate_input(net.input, source)
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
        if spec.weight is not None and "weight" in lay.tensors:
            want_shape = spec.weight(in_ch, int(lay.attrs["out_ch"]))
            if tuple(lay.tensors["weight"].shape) != want_shape:
                raise IRError(f"{where}: tensor 'weight' has shape {tuple(lay.tensors['weight'].shape)}, expected "
                              f"{want_shape} for in_ch {in_ch}, out_ch {int(lay.attrs['out_ch'])}")
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
        seen[lay.name] = int(lay.attrs["out_ch"]) if spec.sparse_out else output_spec(net, lay.name)[0]
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
    """Read and validate an IR directory; every problem is an :class:`IRError` naming the file. A relative path
    that does not exist here but names a shipped IR (``models/eye_small_int8``) reads the shipped copy, so the
    commands work from any directory and from an installed wheel."""
    directory = Path(directory)
    if not directory.exists() and not directory.is_absolute() and shipped(directory).is_dir():
        directory = shipped(directory)
    gpath, tpath = directory / GRAPH_FILE, directory / TENSOR_FILE
    if not gpath.is_file() or not tpath.is_file():
        raise IRError(f"{directory}: not an IR directory (needs {GRAPH_FILE} and {TENSOR_FILE}); make one with `edgevision quantize`")
    try:
        graph = json.loads(gpath.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IRError(f"{gpath}: not valid JSON ({exc})") from None
    if not isinstance(graph, dict) or graph.get("schema") != IR_SCHEMA:
        raise IRError(f"{gpath}: not an edgevision IR (schema field must be {IR_SCHEMA!r})")
    if graph.get("version") not in (1, IR_VERSION):
        raise IRError(f"{gpath}: IR version {graph.get('version')!r} is not supported (this edgevision reads 1 and "
                      f"{IR_VERSION}); re-export")
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
        meta = graph.get("meta", {})
        inp = _v1_input(graph["input"], meta, gpath) if graph["version"] == 1 else graph["input"]
        names = [f.name for f in fields(InputSpec)]
        unknown = sorted(set(inp) - set(names))
        if unknown:
            raise IRError(f"{gpath}: input has unknown field(s) {unknown}")
        missing = [f.name for f in fields(InputSpec) if f.name not in inp and f.default is MISSING]
        if missing:
            raise IRError(f"{gpath}: input is missing field(s) {missing}")
        net = Network(graph["name"], InputSpec(**inp), layers, graph["output"], meta)
    except (KeyError, TypeError) as exc:
        raise IRError(f"{gpath}: malformed graph (missing or wrong field {exc})") from None
    return validate(net, source=str(gpath))


def _v1_input(inp: dict[str, Any], meta: Any, gpath: Path) -> dict[str, Any]:
    """A version-1 ``input`` (grid, channels, scale, bits) completed with the front end its ``meta`` recorded:
    ``meta.config`` of an eye tracker (``sensor_size``, ``input``; absent keys take the defaults of version 1:
    640x480, downsample 640 // width, 10 ms, channels // 2 time bins, clip 127 x scale) or ``meta.model_config``
    + ``meta.window`` + ``meta.sensor_size`` of a classifier."""
    meta = meta if isinstance(meta, dict) else {}
    scale = float(inp.get("scale", 1.0))
    if isinstance(meta.get("config"), dict):
        cfg = meta["config"]
        sensor = cfg.get("sensor_size", (640, 480))
        settings = {"downsample": max(1, int(sensor[0]) // int(inp["width"])), "slice_us": 10_000,
                    "time_bins": max(1, int(inp["channels"]) // 2), "input_clip": 127 * scale, **cfg.get("input", {})}
    elif isinstance(meta.get("model_config"), dict) and isinstance(meta.get("window"), dict) and "sensor_size" in meta:
        sensor, mc = meta["sensor_size"], meta["model_config"]
        settings = {k: mc[k] for k in ("downsample", "time_bins", "input_clip")} | {"slice_us": meta["window"]["window_us"]}
    else:
        raise IRError(f"{gpath}: version-1 IR without meta.config: its front end (sensor, downsample, slice, time bins, "
                      "clip) is unknown; re-run `edgevision quantize` to write a version-2 IR")
    return {**inp, **front_end(sensor, {k: v for k, v in settings.items() if k in _FRONT_KEYS})}


_FRONT_KEYS = ("downsample", "slice_us", "time_bins", "input_clip")
