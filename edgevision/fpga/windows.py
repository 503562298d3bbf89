"""Input windows for C simulation and the cycle model: event slices of an eye dataset -> int8 tokens of the IR.

Input settings (downsample factor, slice length, time bins, count clip) come from the IR's ``meta.config``
written by ``edgevision quantize``; without them the IR input spec decides: factor = 640 // width, time bins =
channels // 2, 10 ms slices, counts clipped to the int8 range at the input scale.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgevision.errors import DatasetError
from edgevision.ir.schema import Network

Window = tuple[np.ndarray, np.ndarray]  # (coords int32 [N, 2] (y, x), feats int8 [N, C])


def input_settings(net: Network) -> dict:
    cfg = net.meta.get("config", {}) if isinstance(net.meta, dict) else {}
    inp = cfg.get("input", {}) if isinstance(cfg, dict) else {}
    spec = net.input
    sensor = tuple(cfg.get("sensor_size", (640, 480)))
    return {
        "sensor_size": (int(sensor[0]), int(sensor[1])),
        "downsample": int(inp.get("downsample", max(1, int(sensor[0]) // spec.width))),
        "slice_us": int(inp.get("slice_us", 10_000)),
        "time_bins": int(inp.get("time_bins", max(1, spec.channels // 2))),
        "input_clip": float(inp.get("input_clip", 127 * spec.scale)),
    }


def eye_windows(net: Network, root: str | Path, n_windows: int, split: str = "train") -> list[Window]:
    """The first ``n_windows`` slices (recording after recording) of a 3ET+-layout dataset as int8 tokens."""
    from edgevision.datasets.threeet import ThreeETPlus
    from edgevision.nn.config import InputConfig
    from edgevision.nn.inputs import slice_tokens
    from edgevision.quant.reference import quantize_input

    s = input_settings(net)
    if s["time_bins"] * 2 != net.input.channels:
        raise DatasetError(f"IR input has {net.input.channels} channels but time_bins {s['time_bins']} gives "
                           f"{2 * s['time_bins']}; the IR meta.config.input does not match the network")
    cfg = InputConfig(downsample=s["downsample"], slice_us=s["slice_us"], time_bins=s["time_bins"],
                      input_clip=s["input_clip"])
    ds = ThreeETPlus(root, split)
    out: list[Window] = []
    for i in range(len(ds)):
        events, _ = ds[i]
        if events.shape[0] == 0:
            continue
        for tk in slice_tokens(events, s["sensor_size"], cfg)[: n_windows - len(out)]:
            if tuple(tk.shape) != (net.input.height, net.input.width):
                raise DatasetError(f"{root}: windows are {tk.shape[0]}x{tk.shape[1]} but the IR input is "
                                   f"{net.input.height}x{net.input.width}; check the IR's input settings")
            out.append((tk.coords, quantize_input(np.minimum(tk.feats, s["input_clip"]), net.input)))
        if len(out) >= n_windows:
            break
    if not out:
        raise DatasetError(f"{root}: no events found in split {split!r}")
    return out
