import numpy as np

from edgevision.ir.random import random_network, random_tokens
from edgevision.quant.reference import run_network
from edgevision.quant.torch_int import TorchIntNetwork

from .conftest import window_batch


def test_torch_int_path_equals_numpy_reference_on_1200_windows():
    rng = np.random.default_rng(0)
    densities = [0.0, 1.0, None, 0.01, 0.05, 0.15, 0.4, 0.8]  # None: one site
    checked = 0
    for k in range(12):
        h, w = int(rng.integers(5, 13)), int(rng.integers(5, 15))
        net = random_network(rng, height=h, width=w, in_ch=3, widths=(6, 8), grid=(2, 2), fc_out=4 if k % 2 else None)
        windows = []
        for i in range(100):
            d = densities[i % len(densities)]
            windows.append(random_tokens(rng, h, w, 3, 1.0 / (h * w) if d is None else d))
        out = TorchIntNetwork(net)(window_batch(windows, (h, w), np.int64)).numpy()
        for i, (c, f) in enumerate(windows):
            np.testing.assert_array_equal(out[i], run_network(net, c, f), err_msg=f"network {k} window {i}")
            checked += 1
    assert checked >= 1000


def test_return_all_matches_reference_layer_by_layer():
    rng = np.random.default_rng(5)
    net = random_network(rng, height=10, width=12, in_ch=3, widths=(6,), fc_out=3)
    windows = [random_tokens(rng, 10, 12, 3, d) for d in (0.1, 0.5)]
    acts = TorchIntNetwork(net)(window_batch(windows, (10, 12), np.int64), return_all=True)
    ref = run_network(net, *windows[1], return_all=True)
    for name, val in ref.items():
        got = acts[name]
        if isinstance(val, tuple):
            sel = got.coords[:, 0] == 1
            np.testing.assert_array_equal(got.coords[sel, 1:].numpy(), val[0])
            np.testing.assert_array_equal(got.feats[sel].numpy(), val[1])
        else:
            np.testing.assert_array_equal(got[1].numpy(), val)
