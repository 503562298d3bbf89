"""The board driver for the generated accelerator: AXI DMA streams + AXI-Lite control, as in FINN's driver.

Works on ``pynq.Overlay`` on a board and on :class:`edgevision.runtime.sim_overlay.SimOverlay` off-board (the
same code path). ``pynq`` is imported only by :func:`open_board_overlay`, on the board.

One inference: pack tokens (:func:`edgevision.ir.stream.pack_tokens`) into the contiguous input buffer, write
``num_tokens``, set ``ap_start``, arm the S2MM channel, send the MM2S buffer, poll both channels (timeout ->
:class:`BackendError`), wait for ``ap_done``, read ``cycles``, unpack the output vector.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgevision.errors import BackendError, IRError
from edgevision.ir.schema import Network, output_spec
from edgevision.ir.stream import CTRL_DONE, CTRL_START, EOF_FLAG, REGISTERS, TOP_FUNCTION, pack_tokens, words_per_token


@dataclass(frozen=True)
class StreamSpec:
    """Buffer geometry derived from the IR: input grid/channels, output length and dtype."""

    height: int
    width: int
    channels: int
    out_len: int
    out_dtype: type

    @property
    def max_tokens(self) -> int:
        return self.height * self.width

    @property
    def in_words(self) -> int:
        """Words of the largest input stream: every site active, plus the end-of-frame word."""
        return self.max_tokens * words_per_token(self.channels) + 1

    @property
    def out_words(self) -> int:
        per = 8 if self.out_dtype == np.int8 else 2
        return -(-self.out_len // per)


def stream_spec(net: Network) -> StreamSpec:
    """The :class:`StreamSpec` of an IR network (:func:`~edgevision.ir.schema.output_spec` gives the output)."""
    try:
        length, dtype = output_spec(net)
    except IRError as exc:
        raise BackendError(f"{exc}; the accelerator streams a dense pool/fc vector") from None
    return StreamSpec(net.input.height, net.input.width, net.input.channels, length, dtype)


@dataclass
class AcceleratorRun:
    """One accelerator call: the output vector and the cycle count the accelerator reported."""

    output: np.ndarray
    cycles: int
    seconds: float


def _find_ip(overlay: Any, match: Callable[[str], bool], what: str) -> Any:
    for name, info in overlay.ip_dict.items():
        if match(str(info.get("type", ""))):
            obj = overlay
            for part in str(info.get("fullpath", name)).split("/"):
                obj = getattr(obj, part)
            return obj
    types = sorted(str(i.get("type")) for i in overlay.ip_dict.values())
    raise BackendError(f"overlay has no {what} IP (found types {types}); was the bitstream built by `edgevision fpga build`?")


class AcceleratorDriver:
    """Drives ``edgevision_top`` through an AXI DMA on ``overlay`` (a ``pynq.Overlay`` or a ``SimOverlay``)."""

    def __init__(self, overlay: Any, spec: StreamSpec, allocate: Callable[..., np.ndarray], timeout_s: float = 1.0) -> None:
        self.overlay = overlay
        self.spec = spec
        self.timeout_s = timeout_s
        self.accel = _find_ip(overlay, lambda t: f":{TOP_FUNCTION}:" in t, f"accelerator ({TOP_FUNCTION})")
        self.dma = _find_ip(overlay, lambda t: t.startswith("xilinx.com:ip:axi_dma:"), "AXI DMA (xilinx.com:ip:axi_dma)")
        self.in_buf = allocate(shape=(spec.in_words,), dtype=np.uint64)
        self.out_buf = allocate(shape=(spec.out_words,), dtype=np.uint64)

    def run(self, coords: np.ndarray, feats: np.ndarray) -> AcceleratorRun:
        """Run one window: ``coords`` int [N, 2] (y, x) in raster order, ``feats`` int8 [N, C]."""
        s = self.spec
        coords = np.asarray(coords)
        if feats.dtype != np.int8 or feats.ndim != 2 or feats.shape[1] != s.channels or coords.shape != (feats.shape[0], 2):
            raise BackendError(
                f"accelerator input must be coords [N, 2] and int8 feats [N, {s.channels}], got {coords.shape} and "
                f"{feats.dtype} {feats.shape}; quantize the tokens first"
            )
        if coords.size and ((coords < 0).any() or (coords[:, 0] >= s.height).any() or (coords[:, 1] >= s.width).any()):
            raise BackendError(f"token coordinates outside the accelerator's {s.height}x{s.width} input grid")
        if coords.shape[0] > 1:
            key = coords[:, 0].astype(np.int64) * s.width + coords[:, 1]
            if (np.diff(key) <= 0).any():
                raise BackendError("tokens must be unique and in raster order (y, then x); build them with histogram_tokens")
        return self.run_words(pack_tokens(coords, feats), coords.shape[0])

    def run_words(self, words: np.ndarray, num_tokens: int) -> AcceleratorRun:
        """Send an already packed input stream; the accelerator must answer within ``timeout_s``."""
        if words.size > self.in_buf.shape[0]:
            raise BackendError(f"input stream of {words.size} words exceeds the {self.in_buf.shape[0]}-word DMA buffer")
        t0 = time.perf_counter()
        self.in_buf[: words.size] = words
        _cache(self.in_buf, "flush")
        self.accel.write(REGISTERS["num_tokens"], int(num_tokens))
        self.accel.write(REGISTERS["CTRL"], CTRL_START)
        self.dma.recvchannel.transfer(self.out_buf)
        self.dma.sendchannel.transfer(self.in_buf, nbytes=int(words.size) * 8)
        deadline = t0 + self.timeout_s
        self._poll(lambda: self.dma.sendchannel.idle, deadline, "the input DMA (MM2S) did not finish")
        ends_ok = words.size > 0 and words[-1] == EOF_FLAG
        hint = "" if ends_ok else " (the input stream does not end with the end-of-frame word: TLAST missing)"
        self._poll(lambda: self.dma.recvchannel.idle, deadline, "no output from the accelerator (S2MM never completed)" + hint)
        self.dma.sendchannel.wait()
        self.dma.recvchannel.wait()
        self._poll(lambda: self.accel.read(REGISTERS["CTRL"]) & CTRL_DONE, deadline, "ap_done never set")
        cycles = int(self.accel.read(REGISTERS["cycles"]))
        _cache(self.out_buf, "invalidate")
        out = np.asarray(self.out_buf).view(np.dtype(self.spec.out_dtype))[: self.spec.out_len].copy()
        return AcceleratorRun(out, cycles, time.perf_counter() - t0)

    def _poll(self, done: Callable[[], Any], deadline: float, what: str) -> None:
        while not done():
            if time.perf_counter() > deadline:
                raise BackendError(f"accelerator timeout after {self.timeout_s:g} s: {what}; check the bitstream and the token stream")
            time.sleep(0)


def _cache(buf: Any, op: str) -> None:
    fn = getattr(buf, op, None)
    if fn is not None:
        fn()


def open_board_overlay(bitstream: str | Path) -> tuple[Any, Callable[..., np.ndarray]]:
    """Load ``bitstream`` (with its ``.hwh`` beside it) onto the board: ``(pynq.Overlay, pynq.allocate)``."""
    path = Path(bitstream)
    if not path.is_file():
        raise BackendError(f"{path}: bitstream not found; build it with the FPGA flow and copy X.bit and X.hwh to the board")
    if not path.with_suffix(".hwh").is_file():
        raise BackendError(f"{path.with_suffix('.hwh')}: missing; PYNQ needs the .hwh beside the .bit to find the IPs")
    try:
        import pynq
    except ImportError:
        raise BackendError(
            "no PYNQ board: the pynq package is not installed (it ships with the PYNQ board image; "
            "run this on the board, see host/README.md)"
        ) from None
    try:
        overlay = pynq.Overlay(str(path))
    except Exception as exc:  # pynq raises plain RuntimeError/OSError ("No Devices Found") off-board
        raise BackendError(f"no PYNQ board: cannot load {path} ({exc})") from None
    return overlay, pynq.allocate
