"""Random, valid integer networks and token inputs: test material for every IR consumer."""

from __future__ import annotations

import numpy as np

from edgevision.ir.ops import OPS
from edgevision.ir.schema import Layer, Network, grid_input, validate


def _conv(rng: np.random.Generator, name: str, op: str, src: str, cin: int, cout: int, relu: bool) -> Layer:
    shape = OPS[op].weight(cin, cout)
    w = rng.integers(-127, 128, shape).astype(np.int8)
    fan_in = int(np.prod(shape[1:]))
    shift = 16
    base = (1 << shift) / (np.sqrt(fan_in) * 40.0)  # keeps typical outputs inside int8
    mult = np.maximum(1, base * rng.uniform(0.7, 1.3, cout)).astype(np.int32)
    bias = rng.integers(-2000, 2000, cout).astype(np.int32)
    attrs = {"in_ch": cin, "out_ch": cout, "shift": shift, "relu": relu, "act_max": 127, "scale": 0.05, "bits": 8}
    return Layer(name, op, [src], attrs, {"weight": w, "bias": bias, "mult": mult})


def random_network(
    rng: np.random.Generator,
    height: int = 60,
    width: int = 80,
    in_ch: int = 4,
    widths: tuple[int, ...] = (8, 16),
    expand: int = 2,
    grid: tuple[int, int] = (2, 2),
    fc_out: int | None = None,
) -> Network:
    """An ESDA-style network: stem 3x3, then per width a stride-2 conv and one inverted residual block,
    then grid pooling and optionally a fully connected layer producing int32 logits."""
    layers = [_conv(rng, "stem", "conv3x3_subm", "input", in_ch, widths[0], True)]
    prev, ch = "stem", widths[0]
    for i, w in enumerate(widths):
        layers.append(_conv(rng, f"down{i}", "conv2x2_s2", prev, ch, w, True))
        layers.append(_conv(rng, f"b{i}_expand", "conv1x1", f"down{i}", w, w * expand, True))
        layers.append(_conv(rng, f"b{i}_dw", "dwconv3x3_subm", f"b{i}_expand", w * expand, w * expand, True))
        layers.append(_conv(rng, f"b{i}_project", "conv1x1", f"b{i}_dw", w * expand, w, False))
        ma = rng.integers(20000, 40000, w).astype(np.int32)
        mb = rng.integers(20000, 40000, w).astype(np.int32)
        attrs = {"in_ch": w, "out_ch": w, "shift": 15, "relu": True, "act_max": 127, "scale": 0.05, "bits": 8}
        layers.append(Layer(f"b{i}_add", "add", [f"down{i}", f"b{i}_project"], attrs, {"mult_a": ma, "mult_b": mb}))
        prev, ch = f"b{i}_add", w
    pattrs = {"in_ch": ch, "out_ch": ch, "grid": list(grid), "shift": 16, "relu": True, "act_max": 127, "scale": 0.05, "bits": 8}
    layers.append(Layer("pool", "pool", [prev], pattrs, {"mult": np.full(ch, 1 << 16, np.int32)}))
    out = "pool"
    if fc_out:
        fin = ch * grid[0] * grid[1]
        layers.append(
            Layer("fc", "fc", ["pool"], {"in_ch": fin, "out_ch": fc_out, "requant": False, "scale": 0.01},
                  {"weight": rng.integers(-127, 128, (fc_out, fin)).astype(np.int8),
                   "bias": rng.integers(-1000, 1000, fc_out).astype(np.int32)})
        )
        out = "fc"
    return validate(Network("random", grid_input(height, width, in_ch), layers, out, {"seed_note": "random_network"}))


def random_tokens(
    rng: np.random.Generator, height: int, width: int, channels: int, density: float
) -> tuple[np.ndarray, np.ndarray]:
    """Random active sites (raster order) with int8 event-count features in 0..20 (at least one nonzero)."""
    n = int(round(density * height * width))
    flat = np.sort(rng.choice(height * width, size=n, replace=False))
    coords = np.stack([flat // width, flat % width], 1).astype(np.int32)
    feats = rng.integers(0, 21, (n, channels)).astype(np.int8)
    feats[np.arange(n), rng.integers(0, channels, n)] = rng.integers(1, 21, n)
    return coords, feats


def random_windows(net: Network, n: int, density: float, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n`` :func:`random_tokens` windows on ``net``'s input grid at ``density`` (test material without a dataset)."""
    rng = np.random.default_rng(seed)
    return [random_tokens(rng, net.input.height, net.input.width, net.input.channels, density) for _ in range(n)]
