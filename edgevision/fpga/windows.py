"""Input windows for C simulation and the cycle model: event slices of an eye dataset -> int8 tokens of the IR.

The front end (sensor, downsample factor, slice length, time bins, count clip, input scale) is the IR's
:class:`~edgevision.ir.schema.InputSpec` (``net.input``); slices start at each recording's first event, as
the eye tracker's (:func:`edgevision.nn.inputs.slice_tokens`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgevision.datasets.threeet import ThreeETPlus, label_windows
from edgevision.errors import DatasetError
from edgevision.events.tokens import histogram_tokens
from edgevision.ir.schema import Network
from edgevision.quant.reference import quantize_counts

Window = tuple[np.ndarray, np.ndarray]  # (coords int32 [N, 2] (y, x), feats int8 [N, C])


def eye_windows(net: Network, root: str | Path, n_windows: int, split: str = "train") -> list[Window]:
    """The first ``n_windows`` slices (recording after recording) of a 3ET+-layout dataset as int8 tokens."""
    spec = net.input
    if spec.polarities != 2:
        raise DatasetError(f"IR input has {spec.polarities} polarity channel(s); event slices have 2")
    ds = ThreeETPlus(root, split)
    out: list[Window] = []
    for i in range(len(ds)):
        events, _ = ds[i]
        if events.shape[0] == 0:
            continue
        t0 = int(events["t"][0])
        n = min((int(events["t"][-1]) - t0) // spec.slice_us + 1, n_windows - len(out))
        for k, (a, b) in enumerate(label_windows(events, n, spec.slice_us, t0)):
            tk = histogram_tokens(events[a:b], spec.sensor_size, factor=spec.downsample, time_bins=spec.time_bins,
                                  t_start=t0 + k * spec.slice_us, t_end=t0 + (k + 1) * spec.slice_us)
            out.append((tk.coords, quantize_counts(tk.feats, spec)))
        if len(out) >= n_windows:
            break
    if not out:
        raise DatasetError(f"{root}: no events found in split {split!r}")
    return out
