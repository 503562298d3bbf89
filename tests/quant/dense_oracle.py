"""An independent dense-grid implementation of the IR semantics (loops over kernel taps and cells, never over
sites), used as the oracle for the sparse NumPy reference."""

from __future__ import annotations

import numpy as np

from edgevision.ir.ops import requant_bounds
from edgevision.ir.schema import Network


def _req(acc, lay, mult):
    lo, hi = requant_bounds(bool(lay.attrs["relu"]), int(lay.attrs["act_max"]), int(lay.attrs.get("bits", 8)))
    s = int(lay.attrs["shift"])
    return np.clip((acc * mult + (1 << (s - 1))) >> s, lo, hi)


def run_dense(net: Network, coords: np.ndarray, feats: np.ndarray) -> np.ndarray:
    h, w = net.input.height, net.input.width
    grid = np.zeros((h, w, feats.shape[1]), np.int64)
    mask = np.zeros((h, w), bool)
    grid[coords[:, 0], coords[:, 1]] = feats
    mask[coords[:, 0], coords[:, 1]] = True
    acts = {"input": (grid, mask)}
    for lay in net.layers:
        x, m = acts[lay.inputs[0]]
        t = lay.tensors
        if lay.op in ("conv3x3_subm", "dwconv3x3_subm"):
            hh, ww = m.shape
            pad = np.pad(x, ((1, 1), (1, 1), (0, 0)))
            acc = np.zeros((hh, ww, t["weight"].shape[0]), np.int64)
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    win = pad[1 + dy : 1 + dy + hh, 1 + dx : 1 + dx + ww]
                    k = t["weight"][:, dy + 1, dx + 1].astype(np.int64)
                    acc += win * k if lay.op == "dwconv3x3_subm" else win @ k.T
            out = _req(acc + t["bias"], lay, t["mult"]) * m[..., None]
            acts[lay.name] = (out, m)
        elif lay.op == "conv1x1":
            acts[lay.name] = (_req(x @ t["weight"].astype(np.int64).T + t["bias"], lay, t["mult"]) * m[..., None], m)
        elif lay.op == "conv2x2_s2":
            hh, ww = m.shape
            oh, ow = -(-hh // 2), -(-ww // 2)
            xp = np.zeros((2 * oh, 2 * ow, x.shape[2]), np.int64)
            mp = np.zeros((2 * oh, 2 * ow), bool)
            xp[:hh, :ww], mp[:hh, :ww] = x, m
            acc = sum(xp[dy::2, dx::2] @ t["weight"][:, dy, dx].astype(np.int64).T for dy in (0, 1) for dx in (0, 1))
            mo = mp[0::2, 0::2] | mp[0::2, 1::2] | mp[1::2, 0::2] | mp[1::2, 1::2]
            acts[lay.name] = (_req(acc + t["bias"], lay, t["mult"]) * mo[..., None], mo)
        elif lay.op == "add":
            y, _ = acts[lay.inputs[1]]
            acc = x * t["mult_a"] + y * t["mult_b"]
            acts[lay.name] = (_req(acc, lay, 1) * m[..., None], m)
        elif lay.op == "pool":
            gh, gw = lay.attrs["grid"]
            hh, ww = m.shape
            s = int(lay.attrs["shift"])
            lo, hi = requant_bounds(bool(lay.attrs["relu"]), int(lay.attrs["act_max"]))
            out = np.zeros((gh, gw, x.shape[2]), np.int64)
            ys, xs = np.arange(hh) * gh // hh, np.arange(ww) * gw // ww
            for cy in range(gh):
                for cx in range(gw):
                    cm = m & (ys[:, None] == cy) & (xs[None, :] == cx)
                    n = int(cm.sum())
                    if n:
                        ssum = x[cm].sum(0)
                        den = n << s
                        out[cy, cx] = np.clip((ssum * t["mult"] + (den >> 1)) // den, lo, hi)
            acts[lay.name] = (out.reshape(-1), None)
        elif lay.op == "fc":
            acc = t["weight"].astype(np.int64) @ x + t["bias"]
            acts[lay.name] = (acc, None)
    return acts[net.output][0]
