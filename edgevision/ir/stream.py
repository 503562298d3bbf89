"""The accelerator's stream and register protocol, shared by the HLS generator, the PYNQ driver and the
simulated overlay (one source of truth).

AXI-Stream words are 64 bits (TDATA) with TLAST on the last word of a transfer.

Input (host -> accelerator), tokens in raster order, each:
  one header word: bits 0-15 x, bits 16-31 y, bit 63 = 0,
  then ceil(C / 8) feature words: channel c is the signed byte c % 8 (little endian) of word c // 8;
after the last token one end-of-frame word with bit 63 = 1 (TLAST). An empty window is just that word.

Output (accelerator -> host): the network output vector, int8 packed 8 per word (pool / requantized fc),
or int32 packed 2 per word (fc logits without requantization), TLAST on the last word.

AXI-Lite control (Vitis HLS ``s_axilite`` layout): CTRL at 0x00 (bit 0 ap_start, 1 ap_done, 2 ap_idle,
3 ap_ready), GIE 0x04, IER 0x08, ISR 0x0C, ``num_tokens`` (u32, written by the host: the window's token count, informational for
debugging; the design itself reads until the end-of-frame word) at 0x10,
``cycles`` (u32, written by the accelerator: cycles from start to done) at 0x18.
"""

from __future__ import annotations

import numpy as np

EOF_FLAG = np.uint64(1 << 63)
REGISTERS = {"CTRL": 0x00, "GIE": 0x04, "IER": 0x08, "ISR": 0x0C, "num_tokens": 0x10, "cycles": 0x18}
CTRL_START, CTRL_DONE, CTRL_IDLE, CTRL_READY = 0x1, 0x2, 0x4, 0x8
TOP_FUNCTION = "edgevision_top"


def words_per_token(channels: int) -> int:
    """Stream words one token occupies (header + features)."""
    return 1 + -(-channels // 8)


def pack_tokens(coords: np.ndarray, feats: np.ndarray) -> np.ndarray:
    """Pack ``coords`` [N, 2] (y, x) and int8 ``feats`` [N, C] into the input word stream (uint64)."""
    n, c = feats.shape
    fw = -(-c // 8)
    padded = np.zeros((n, fw * 8), np.int8)
    padded[:, :c] = feats
    words = np.empty((n, 1 + fw), np.uint64)
    words[:, 0] = coords[:, 1].astype(np.uint64) | (coords[:, 0].astype(np.uint64) << np.uint64(16))
    words[:, 1:] = padded.view("<u8").reshape(n, fw)
    return np.concatenate([words.reshape(-1), np.array([EOF_FLAG], np.uint64)])


def unpack_tokens(words: np.ndarray, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`pack_tokens`; raises ValueError when the stream is malformed."""
    words = np.asarray(words, np.uint64)
    if words.size == 0 or words[-1] != EOF_FLAG:
        raise ValueError("token stream must end with the end-of-frame word")
    body = words[:-1]
    wpt = words_per_token(channels)
    if body.size % wpt:
        raise ValueError(f"token stream length {body.size} is not a multiple of {wpt} words per token")
    body = body.reshape(-1, wpt)
    head = body[:, 0]
    coords = np.stack([(head >> np.uint64(16)) & np.uint64(0xFFFF), head & np.uint64(0xFFFF)], 1).astype(np.int32)
    feats = np.ascontiguousarray(body[:, 1:]).view(np.int8).reshape(len(body), (wpt - 1) * 8)[:, :channels]
    return coords, feats.copy()


def pack_output(vec: np.ndarray) -> np.ndarray:
    """Pack an int8 or int32 output vector into 64-bit words (zero padded)."""
    vec = np.asarray(vec)
    per = 8 if vec.dtype == np.int8 else 2
    padded = np.zeros(-(-vec.size // per) * per, vec.dtype)
    padded[: vec.size] = vec
    return padded.view("<u8").copy()


def unpack_output(words: np.ndarray, length: int, dtype: type = np.int8) -> np.ndarray:
    """Unpack ``length`` int8/int32 values from output words."""
    return np.asarray(words, np.uint64).view(np.dtype(dtype))[:length].copy()
