"""A simulated PYNQ overlay with the exact object surface :mod:`edgevision.runtime.pynq_driver` uses.

``SimOverlay`` exposes ``ip_dict`` and one attribute per IP: the accelerator (MMIO-style ``read``/``write`` at
the offsets of :mod:`edgevision.ir.stream`, a ``register_map`` view) and an AXI DMA (``sendchannel`` /
``recvchannel`` with ``transfer(buf, start, nbytes)``, ``idle`` and ``wait()``), plus ``allocate(shape, dtype)``.
Behind the stream sits ``compute(words, num_tokens) -> (output vector, cycles)``, given the raw input words
the DMA delivered: the C-simulated design (:meth:`edgevision.fpga.csim.CsimDesign.run_words`) or the NumPy
integer reference (:func:`reference_words`). The accelerator behaves like the hardware on bad input: without
the end-of-frame word (TLAST) it keeps waiting for tokens, and a stream the design rejects leaves it hung
(``error`` says why), so the driver sees a DMA that never completes.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from edgevision.errors import EdgevisionError
from edgevision.ir.stream import (
    CTRL_DONE,
    CTRL_IDLE,
    CTRL_READY,
    CTRL_START,
    EOF_FLAG,
    REGISTERS,
    TOP_FUNCTION,
    pack_output,
    unpack_tokens,
)

Compute = Callable[[np.ndarray, int], "tuple[np.ndarray, int]"]
ACCEL_NAME = f"{TOP_FUNCTION}_0"
DMA_NAME = "axi_dma_0"


class SimBuffer(np.ndarray):
    """A numpy array standing in for ``pynq.allocate``'s contiguous buffer (cache ops are no-ops)."""

    physical_address: int = 0

    def flush(self) -> None:
        """Write back the CPU cache (nothing to do in simulation)."""

    def invalidate(self) -> None:
        """Invalidate the CPU cache (nothing to do in simulation)."""

    def freebuffer(self) -> None:
        """Release the buffer (nothing to do in simulation)."""


def reference_words(net: Any) -> Compute:
    """``compute`` for :class:`SimOverlay` by the NumPy integer reference (reports 0 cycles)."""
    from edgevision.quant.reference import run_network

    channels = net.input.channels

    def compute(words: np.ndarray, num_tokens: int) -> tuple[np.ndarray, int]:
        coords, feats = unpack_tokens(words, channels)  # like the design, read until the end-of-frame word
        return run_network(net, coords, feats), 0

    return compute


def allocate(shape: int | tuple[int, ...], dtype: type = np.uint64) -> SimBuffer:
    """``pynq.allocate`` off-board: a zeroed :class:`SimBuffer`."""
    buf = np.zeros(shape, dtype).view(SimBuffer)
    buf.physical_address = 0x1000_0000 + id(buf) % 0x100_0000 * 64
    return buf


class SimRegisterMap:
    """Read-only attribute view of the accelerator registers (``register_map.cycles``, ...)."""

    def __init__(self, accel: "SimAccelerator") -> None:
        self._accel = accel

    def __getattr__(self, name: str) -> int:
        if name not in REGISTERS:
            raise AttributeError(f"no register {name!r}; registers are {sorted(REGISTERS)}")
        return self._accel.regs[REGISTERS[name]]


class SimAccelerator:
    """The ``edgevision_top`` IP: AXI-Lite registers, an input stream sink and an output stream source."""

    def __init__(self, compute: Compute, out_dtype: type = np.int8) -> None:
        self.compute = compute
        self.out_dtype = out_dtype
        self.regs: dict[int, int] = {off: 0 for off in REGISTERS.values()}
        self.regs[REGISTERS["CTRL"]] = CTRL_IDLE
        self.log: list[tuple[str, str, int]] = []  # (op, register name, value) in access order
        self.running = False
        self.error: str | None = None
        self._words: list[np.ndarray] = []
        self.output: np.ndarray | None = None  # words waiting for the S2MM channel
        self.register_map = SimRegisterMap(self)
        self._names = {off: name for name, off in REGISTERS.items()}

    def write(self, offset: int, value: int) -> None:
        self.log.append(("write", self._names.get(offset, hex(offset)), int(value)))
        if offset == REGISTERS["CTRL"]:
            if value & CTRL_START and not self.running:
                self.running = True
                self.error = None
                self.regs[offset] = 0
                self._try_finish()
            return
        if offset == REGISTERS["cycles"]:
            return  # read-only in hardware
        self.regs[offset] = int(value) & 0xFFFF_FFFF

    def read(self, offset: int) -> int:
        value = self.regs.get(offset, 0)
        self.log.append(("read", self._names.get(offset, hex(offset)), value))
        if offset == REGISTERS["CTRL"] and value & CTRL_DONE:
            self.regs[offset] = value & ~CTRL_DONE  # ap_done is clear-on-read
        return value

    def receive(self, words: np.ndarray) -> None:
        """Words arriving on the input AXI-Stream (one DMA transfer)."""
        self._words.append(np.asarray(words, np.uint64).copy())
        self._try_finish()

    def _try_finish(self) -> None:
        if not self.running or not self._words or self._words[-1].size == 0 or self._words[-1][-1] != EOF_FLAG:
            return  # not started, or still waiting for the end-of-frame word
        words = np.concatenate(self._words)
        self._words = []
        try:
            vec, cycles = self.compute(words, int(self.regs[REGISTERS["num_tokens"]]))
        except (ValueError, EdgevisionError) as exc:  # the design rejected the stream: the hardware would hang
            self.error = str(exc)
            return
        self.output = pack_output(np.asarray(vec, self.out_dtype))
        self.regs[REGISTERS["cycles"]] = int(cycles) & 0xFFFF_FFFF
        self.regs[REGISTERS["CTRL"]] = CTRL_DONE | CTRL_IDLE | CTRL_READY
        self.running = False


class SimChannel:
    """One AXI DMA channel: MM2S (``send``) pushes a buffer into the accelerator, S2MM receives its output."""

    def __init__(self, accel: SimAccelerator, direction: str) -> None:
        self.accel = accel
        self.direction = direction
        self._dest: tuple[np.ndarray, int, int] | None = None
        self.transfers: list[int] = []  # bytes per transfer
        self._idle = True

    def transfer(self, buf: np.ndarray, start: int = 0, nbytes: int = 0) -> None:
        nbytes = nbytes or buf.nbytes - start
        self.transfers.append(nbytes)
        if self.direction == "send":
            words = np.frombuffer(buf.tobytes()[start : start + nbytes], np.uint64)
            self.accel.receive(words)
            self._idle = True
        else:
            self._dest = (buf, start, nbytes)
            self._idle = False

    @property
    def idle(self) -> bool:
        if self.direction == "recv" and not self._idle and self.accel.output is not None and self._dest is not None:
            buf, start, nbytes = self._dest
            out = self.accel.output
            if out.nbytes > nbytes:
                raise RuntimeError(f"S2MM buffer of {nbytes} bytes is smaller than the {out.nbytes}-byte output")
            buf.view(np.uint8)[start : start + out.nbytes] = out.view(np.uint8)
            self.accel.output = None
            self._dest = None
            self._idle = True
        return self._idle

    def wait(self) -> None:
        """Return once the transfer completed; a transfer that never completes would block forever."""
        if not self.idle:
            raise RuntimeError("DMA wait() on a transfer that never completes (the board would hang here)")


class SimDMA:
    """``xilinx.com:ip:axi_dma`` with its two channels."""

    def __init__(self, accel: SimAccelerator) -> None:
        self.sendchannel = SimChannel(accel, "send")
        self.recvchannel = SimChannel(accel, "recv")


class SimOverlay:
    """Stands in for ``pynq.Overlay(bitfile)``: ``ip_dict``, IP attributes by name, ``allocate``."""

    def __init__(self, compute: Compute, out_dtype: type = np.int8) -> None:
        accel = SimAccelerator(compute, out_dtype)
        self._ips = {ACCEL_NAME: accel, DMA_NAME: SimDMA(accel)}
        self.ip_dict = {
            ACCEL_NAME: {"type": f"xilinx.com:hls:{TOP_FUNCTION}:1.0", "fullpath": ACCEL_NAME,
                         "registers": {k: {"address_offset": v} for k, v in REGISTERS.items()}},
            DMA_NAME: {"type": "xilinx.com:ip:axi_dma:7.1", "fullpath": DMA_NAME},
        }
        self.allocate = allocate

    def __getattr__(self, name: str):
        ips = self.__dict__.get("_ips", {})
        if name in ips:
            return ips[name]
        raise AttributeError(f"overlay has no IP {name!r}; it has {sorted(ips)}")
