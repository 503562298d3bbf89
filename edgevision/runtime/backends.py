"""One inference interface for every target: an event window (:class:`Tokens`) in, float32 features out.

Backends (``BACKENDS``: name -> factory, extend with :func:`register_backend`):

* ``torch``: the float backbone of an :class:`~edgevision.nn.eye_model.EyeTracker` (CPU).
* ``torch-int``: the quantized network (IR) in PyTorch (:mod:`edgevision.quant.torch_int`), bit-exact with ``int``.
* ``int``: the NumPy integer reference on the IR (:mod:`edgevision.quant.reference`).
* ``csim``: the simulated overlay (:mod:`edgevision.runtime.sim_overlay`) through the real driver code path,
  computing with the C-simulated accelerator when :mod:`edgevision.fpga` provides one, else the reference.
* ``pynq``: the board, through :mod:`edgevision.runtime.pynq_driver` on a ``pynq.Overlay``.
* ``engine``: the compiled sparse CPU engine (:mod:`edgevision.engine`) on the IR, bit-exact with ``int``.

The GRU and head stay on the host (:mod:`edgevision.runtime.tracker`); backends only run the backbone.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np

from edgevision.errors import BackendError, ConfigError
from edgevision.events.tokens import Tokens


@dataclass
class Inference:
    """Features [F] float32, host wall time of the call and (accelerators) the reported cycle count."""

    features: np.ndarray
    seconds: float
    cycles: int | None = None


class Backend(Protocol):
    name: str
    feature_dim: int

    def infer(self, tokens: Tokens) -> Inference: ...


class TorchBackend:
    """The float sparse backbone in PyTorch, one window at a time.

    ``impl`` "window" (default) runs :class:`~edgevision.nn.infer.WindowBackbone` (BatchNorm folded, one-window
    geometry, its ATen ops issued from C++ when that can be built; equal to the model up to float rounding),
    built once from the model's current weights; "torch" and
    "spconv" run the model's own (training-path) forward with those layers (:mod:`edgevision.nn.layers`).
    """

    name = "torch"

    def __init__(self, model: Any, input_clip: float, impl: str = "window") -> None:
        if impl not in ("window", "torch", "spconv"):
            raise ConfigError(f"torch backend: impl must be 'window', 'torch' or 'spconv', got {impl!r}")
        self.model = model.eval()
        self.input_clip = input_clip
        self.impl = impl
        self.compute_name = f"torch {impl}"
        self.feature_dim = int(model.backbone.feature_dim)
        self.in_channels = int(model.backbone.in_channels)
        if impl == "window":
            from edgevision.nn.infer import WindowBackbone

            self.window_backbone = WindowBackbone(model.backbone)
            native = self.window_backbone.plan is not None
            self.compute_name = "torch window (C++ steps)" if native else "torch window (Python steps: C++ not built)"

    def infer(self, tokens: Tokens) -> Inference:
        import torch

        t0 = time.perf_counter()
        if tokens.feats.ndim != 2 or tokens.feats.shape[1] != self.in_channels:
            raise ConfigError(f"window features {tokens.feats.shape} do not match the model's {self.in_channels} input "
                              "channels (time_bins x 2 polarities): use the checkpoint's input settings")
        if self.impl == "window":
            vec = self.window_backbone.forward(tokens.coords, tokens.feats, tokens.shape, self.input_clip)
            return Inference(vec, time.perf_counter() - t0)
        from edgevision.nn.inputs import collate_tokens

        with torch.inference_mode():
            out = self.model.backbone(collate_tokens([tokens], self.input_clip), impl=self.impl)[0]
        return Inference(out.numpy().astype(np.float32, copy=False), time.perf_counter() - t0)


class _IRBackend:
    """Shared by the integer backends: quantize the window (the IR's input spec), run the integer network,
    dequantize."""

    name = "ir"

    def __init__(self, net: Any) -> None:
        from edgevision.runtime.pynq_driver import stream_spec

        self.net = net
        self.spec = stream_spec(net)
        self.feature_dim = self.spec.out_len

    def quantize(self, tokens: Tokens) -> tuple[np.ndarray, np.ndarray]:
        from edgevision.quant.reference import quantize_counts

        if tuple(tokens.shape) != (self.net.input.height, self.net.input.width):
            raise ConfigError(
                f"window grid {tuple(tokens.shape)} does not match the IR input {self.net.input.height}x{self.net.input.width}; "
                "tokenize with the IR's input spec (downsample factor)"
            )
        return tokens.coords, quantize_counts(tokens.feats, self.net.input)

    def _vector(self, coords: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, int | None]:
        raise NotImplementedError

    def infer(self, tokens: Tokens) -> Inference:
        from edgevision.quant.reference import dequantize_output

        t0 = time.perf_counter()
        vec, cycles = self._vector(*self.quantize(tokens))
        return Inference(dequantize_output(self.net, vec), time.perf_counter() - t0, cycles)


class IntBackend(_IRBackend):
    """The NumPy integer reference (bit-exact definition of the accelerator)."""

    name = "int"

    def _vector(self, coords: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, int | None]:
        from edgevision.quant.reference import run_network

        return run_network(self.net, coords, q), None


class TorchIntBackend(_IRBackend):
    """The IR's integer arithmetic in PyTorch (int64 tensors; CPU or a torch device)."""

    name = "torch-int"

    def __init__(self, net: Any, device: str = "cpu") -> None:
        from edgevision.quant.torch_int import TorchIntNetwork

        super().__init__(net)
        self.runner = TorchIntNetwork(net, device)

    def _vector(self, coords: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, int | None]:
        import torch

        from edgevision.nn.tensor import SparseTensor

        x = SparseTensor.from_windows([(coords, q)], (self.net.input.height, self.net.input.width), torch.int64)
        with torch.inference_mode():
            out = self.runner(x)[0].cpu().numpy()
        return out.astype(self.spec.out_dtype), None


class EngineBackend(_IRBackend):
    """The IR on the compiled engine (numba on the CPU, or a torch device)."""

    name = "engine"

    def __init__(self, net: Any, device: str = "cpu") -> None:
        from edgevision.engine.backend import make_engine_backend

        super().__init__(net)
        self.engine = make_engine_backend(net, device)

    def _vector(self, coords: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, int | None]:
        return self.engine.run(coords, q), None


class DriverBackend(_IRBackend):
    """An accelerator behind :class:`~edgevision.runtime.pynq_driver.AcceleratorDriver` (board or simulation)."""

    def __init__(self, name: str, net: Any, overlay: Any, allocate: Callable[..., np.ndarray],
                 timeout_s: float = 1.0, compute_name: str = "") -> None:
        from edgevision.runtime.pynq_driver import AcceleratorDriver

        super().__init__(net)
        self.name = name
        self.compute_name = compute_name
        self.driver = AcceleratorDriver(overlay, self.spec, allocate, timeout_s)

    def _vector(self, coords: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, int | None]:
        run = self.driver.run(coords, q)
        return run.output, run.cycles


def csim_compute(net: Any, board: str = "zcu102") -> tuple[Callable[[np.ndarray, int], tuple[np.ndarray, int]], str]:
    """The simulated overlay's compute: the C-simulated accelerator for ``net`` (generated HLS built with g++,
    cached by content hash) fed the raw DMA words, or the NumPy reference when it cannot be built.

    Returns ``(compute, what)``: ``compute(words, num_tokens) -> (output, cycles)`` with ``cycles`` the largest
    per-module iteration count (the dataflow bottleneck), and ``what`` naming the implementation.
    """
    import tempfile

    from edgevision.runtime.sim_overlay import reference_words

    try:
        from edgevision.fpga.csim import compile_design
        from edgevision.fpga.hwgraph import build_graph

        with tempfile.TemporaryDirectory(prefix="edgevision-csim-") as project:
            design = compile_design(build_graph(net), project, board)
    except (ImportError, BackendError) as exc:
        return reference_words(net), f"reference (C simulation unavailable: {str(exc).splitlines()[0]})"

    def compute(words: np.ndarray, num_tokens: int) -> tuple[np.ndarray, int]:
        res = design.run_words([words], [num_tokens])
        return res.outputs[0], int(res.cycles[0].max()) if res.cycles.size else 0

    return compute, "csim"


def make_int(net: Any, **_: Any) -> Backend:
    return IntBackend(net)


def make_csim(net: Any, timeout_s: float = 1.0, compute: Callable | None = None, **_: Any) -> Backend:
    from edgevision.runtime.sim_overlay import SimOverlay

    what = "given"
    if compute is None:
        compute, what = csim_compute(net)
        if what != "csim":  # never run the reference under the name "csim" (it reports no cycles)
            raise BackendError(f"--backend csim: {what}; install the fpga extra (pip install -e .[fpga]) and g++, "
                               "or choose --backend int (the NumPy integer reference)")
    overlay = SimOverlay(compute, _out_dtype(net))
    return DriverBackend("csim", net, overlay, overlay.allocate, timeout_s, what)


def make_torch_int(net: Any, device: str = "cpu", **_: Any) -> Backend:
    return TorchIntBackend(net, device)


def make_engine(net: Any, device: str = "cpu", **_: Any) -> Backend:
    return EngineBackend(net, device)


def make_pynq(net: Any, bitstream: str | Path | None = None, timeout_s: float = 1.0, **_: Any) -> Backend:
    from edgevision.runtime.pynq_driver import open_board_overlay

    if bitstream is None:
        raise ConfigError("the pynq backend needs --bitstream X.bit (with X.hwh beside it)")
    overlay, allocate = open_board_overlay(bitstream)
    return DriverBackend("pynq", net, overlay, allocate, timeout_s, "board")


def open_accelerator(board: str, net: Any, bitstream: str | Path | None = None, timeout_s: float = 1.0) -> DriverBackend:
    """The accelerator behind the driver: on a PYNQ board (``bitstream`` loaded once) or, for ``board`` "sim",
    the simulated overlay (the C-simulated design when hls4ml's headers and g++ are there, else the NumPy
    reference; ``compute_name`` says which). Named "pynq" on a board, "csim" simulated. No torch."""
    from edgevision.runtime.pynq_driver import open_board_overlay
    from edgevision.runtime.sim_overlay import SimOverlay

    if board == "sim":
        compute, what = csim_compute(net)
        if what != "csim":  # said, not silent: the board test (no fpga extra) runs here on purpose
            print(f"edgevision: simulated overlay: {what}", file=sys.stderr)
        overlay = SimOverlay(compute, _out_dtype(net))
        return DriverBackend("csim", net, overlay, overlay.allocate, timeout_s, what)
    if bitstream is None:
        raise ConfigError("--bitstream X.bit is required on a board (X.hwh beside it); --board sim runs without one")
    overlay, allocate = open_board_overlay(bitstream)
    return DriverBackend("pynq", net, overlay, allocate, timeout_s, board)


def make_torch(model: Any, input_clip: float, impl: str = "window", **_: Any) -> Backend:
    return TorchBackend(model, input_clip, impl)


def _out_dtype(net: Any) -> type:
    from edgevision.runtime.pynq_driver import stream_spec

    return stream_spec(net).out_dtype


BACKENDS: dict[str, Callable[..., Backend]] = {
    "torch": make_torch, "torch-int": make_torch_int, "int": make_int, "csim": make_csim, "pynq": make_pynq,
    "engine": make_engine,
}
NEEDS_IR = {"int", "torch-int", "csim", "pynq", "engine"}


def register_backend(name: str, factory: Callable[..., Backend], needs_ir: bool = False) -> None:
    """Add a backend: ``factory(model=..., net=..., input_clip=..., **options) -> Backend`` (IR backends take
    the clip from ``net.input``)."""
    BACKENDS[name] = factory
    if needs_ir:
        NEEDS_IR.add(name)


def make_backend(name: str, **kwargs: Any) -> Backend:
    """Build backend ``name``; factories take what they need from ``model``, ``net``, ``input_clip`` (the float
    model's; IR backends use ``net.input``), options."""
    if name not in BACKENDS:
        raise ConfigError(f"unknown backend {name!r}; choose one of {sorted(BACKENDS)}")
    if name in NEEDS_IR and kwargs.get("net") is None:
        raise ConfigError(f"backend {name!r} runs the quantized IR: pass --model QDIR (an `edgevision quantize` output)")
    return BACKENDS[name](**kwargs)
