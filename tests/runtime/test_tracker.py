"""The tracker loop: GRU state across windows, overload policy, backends, registry."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from edgevision.errors import ConfigError
from edgevision.events.tokens import histogram_tokens
from edgevision.nn.inputs import collate_tokens
from edgevision.runtime.host_model import config_input
from edgevision.runtime.backends import BACKENDS, Inference, make_backend, register_backend
from edgevision.runtime.sim_overlay import reference_words
from edgevision.runtime.sources import ReplaySource
from edgevision.runtime.tracker import TrackerLoop

SENSOR = (640, 480)


class SlowBackend:
    """Takes ``delay`` seconds per window (an overloaded accelerator)."""

    name = "slow"

    def __init__(self, delay: float, dim: int) -> None:
        self.delay, self.feature_dim = delay, dim

    def infer(self, tokens):
        time.sleep(self.delay)
        return Inference(np.full(self.feature_dim, tokens.feats.sum() * 1e-4, np.float32), self.delay)


def test_loop_matches_offline_sequence_model(tiny, blob_windows):
    """Running window by window with the GRU state carried equals the model's forward over the sequence."""
    model, cfg, _ = tiny
    wins = blob_windows(12)
    loop = TrackerLoop(make_backend("torch", model=model, input_clip=cfg.input.input_clip), model, config_input(cfg))
    summary = loop.run(ReplaySource(wins, SENSOR, realtime=False))
    assert summary["windows"] == 12 and summary["dropped"] == 0
    toks = [histogram_tokens(w.events, SENSOR, factor=8, time_bins=2, t_start=w.t_start, t_end=w.t_end) for w in wins]
    with torch.no_grad():
        ref = model(collate_tokens(toks, cfg.input.input_clip), 1, len(wins))[0].numpy()
    got = np.array([[p.x / SENSOR[0], p.y / SENSOR[1]] for p in loop.predictions])
    np.testing.assert_allclose(got, ref[:, :2], atol=1e-5)
    assert {"p5", "p10", "mean_distance"} <= set(summary)


def test_overload_drops_oldest_and_never_blocks_the_source(tiny, blob_windows):
    model, cfg, _ = tiny
    wins = blob_windows(30, events=200)
    loop = TrackerLoop(SlowBackend(0.03, model.backbone.feature_dim), model, config_input(cfg), queue_size=2)
    t0 = time.perf_counter()
    summary = loop.run(ReplaySource(wins, SENSOR, realtime=True))
    wall = time.perf_counter() - t0
    assert summary["dropped"] > 5
    assert summary["windows"] + summary["dropped"] == 30
    assert summary["source_max_handover_ms"] < 5.0  # the producer never waited for the consumer
    assert wall < 0.3 + 3 * 0.03 + 0.5  # stays real time: no backlog of 30 x 30 ms
    idx = [p.index for p in loop.predictions]
    assert idx == sorted(idx) and idx[-1] == 29  # freshest windows survive


def test_one_warm_up_window_runs_before_the_source_and_is_not_reported(tiny, blob_windows):
    model, cfg, _ = tiny
    backend = SlowBackend(0.0, model.backbone.feature_dim)
    calls = []
    infer = backend.infer
    backend.infer = lambda tokens: calls.append(tokens.coords.shape[0]) or infer(tokens)
    loop = TrackerLoop(backend, model, config_input(cfg))
    summary = loop.run(ReplaySource(blob_windows(5), SENSOR, realtime=False))
    assert len(calls) == 6 and calls[0] == 1  # the warm-up: 8 events on one site at the sensor centre
    assert summary["windows"] == 5 and [p.index for p in loop.predictions] == [0, 1, 2, 3, 4]


def test_offline_replay_is_lossless_under_overload(tiny, blob_windows):
    model, cfg, _ = tiny
    loop = TrackerLoop(SlowBackend(0.005, model.backbone.feature_dim), model, config_input(cfg), queue_size=2)
    summary = loop.run(ReplaySource(blob_windows(20, events=100), SENSOR, realtime=False))
    assert summary["windows"] == 20 and summary["dropped"] == 0


def test_integer_backends_agree_and_csim_reports_cycles(tiny, blob_windows):
    model, cfg, net = tiny
    wins = blob_windows(5)
    outs = {}
    for name in ("int", "csim", "engine", "torch-int"):
        # csim here: the driver + simulated overlay path, computing with the reference (C-sim: test_driver)
        be = make_backend(name, model=model, net=net, input_clip=15.0, compute=reference_words(net))
        loop = TrackerLoop(be, model, config_input(cfg))
        loop.run(ReplaySource(wins, SENSOR, realtime=False))
        outs[name] = np.array([[p.x, p.y, p.closed_prob] for p in loop.predictions])
        if name == "csim":
            assert all(p.cycles is not None for p in loop.predictions)
    np.testing.assert_array_equal(outs["int"], outs["csim"])
    np.testing.assert_array_equal(outs["int"], outs["engine"])
    np.testing.assert_array_equal(outs["int"], outs["torch-int"])


def test_registry_and_errors(tiny, blob_windows):
    model, cfg, _ = tiny
    with pytest.raises(ConfigError, match="unknown backend"):
        make_backend("nope")
    with pytest.raises(ConfigError, match="--model QDIR"):
        make_backend("int", model=model, net=None, input_clip=15.0)
    register_backend("slow-test", lambda **kw: SlowBackend(0.0, 64))
    try:
        assert make_backend("slow-test").name == "slow"
    finally:
        del BACKENDS["slow-test"]
    loop = TrackerLoop(SlowBackend(0.0, 64), model, config_input(cfg))
    with pytest.raises(ConfigError, match="sensor"):
        loop.run(ReplaySource(blob_windows(2), (320, 240), realtime=False))


def test_numpy_gru_head_matches_torch_head_step(tiny):
    from edgevision.runtime.head import GRUHead

    model, _, _ = tiny
    head = GRUHead.from_model(model)
    rng = np.random.default_rng(0)
    h_np, h_t = None, None
    for _ in range(5):
        x = rng.normal(0, 2, model.backbone.feature_dim).astype(np.float32)
        ahead = head.step(x, h_np, head.recurrent(h_np))  # the loop's path: recurrent term computed ahead
        o_np, h_np = head.step(x, h_np)
        assert np.array_equal(ahead[0], o_np) and np.array_equal(ahead[1], h_np)
        with torch.no_grad():
            o_t, h_t = model.head_step(torch.from_numpy(x)[None], h_t)
        np.testing.assert_allclose(o_np, o_t[0].numpy(), atol=1e-5)
        np.testing.assert_allclose(h_np, h_t[0, 0].numpy(), atol=1e-5)


def test_window_tokenizer_equals_histogram_tokens(blob_windows):
    from edgevision.events.representations import WindowTokenizer

    tz = WindowTokenizer(SENSOR, 8, 2)
    for w in blob_windows(3) + [blob_windows(1, events=0)[0]] + blob_windows(2):  # counters reset between calls
        a = tz(w.events, w.t_start, w.t_end)
        b = histogram_tokens(w.events, SENSOR, factor=8, time_bins=2, t_start=w.t_start, t_end=w.t_end)
        np.testing.assert_array_equal(a.coords, b.coords)
        np.testing.assert_array_equal(a.feats, b.feats)
        assert tuple(a.shape) == tuple(b.shape)


def test_torch_loop_runs_on_one_intra_op_thread_and_restores_the_count(tiny, blob_windows):
    model, cfg, _ = tiny
    backend = make_backend("torch", model=model, input_clip=cfg.input.input_clip)
    seen = []
    infer = backend.infer
    backend.infer = lambda tokens: (seen.append(torch.get_num_threads()), infer(tokens))[1]
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        TrackerLoop(backend, model, config_input(cfg)).run(ReplaySource(blob_windows(3), SENSOR, realtime=False))
        assert seen == [1, 1, 1, 1] and torch.get_num_threads() == 2  # the warm-up window, then 3 windows
    finally:
        torch.set_num_threads(before)


def test_gru_head_stays_within_1e5_of_torch_head_step_over_a_long_sequence():
    """The shipped architecture's sizes (640 features, hidden 128), 200 recurrent steps: error < 1e-5."""
    from edgevision.nn.config import load_config
    from edgevision.nn.eye_model import EyeTracker
    from edgevision.runtime.head import GRUHead
    from edgevision.runtime.session import resolve

    torch.manual_seed(0)
    model = EyeTracker(load_config(resolve("models/eye_small.yaml"))).eval()
    head = GRUHead.from_model(model)
    rng = np.random.default_rng(1)
    h_np, h_t, err = None, None, 0.0
    for _ in range(200):
        x = rng.gamma(1.0, 1.0, model.backbone.feature_dim).astype(np.float32)  # non-negative, like pooled ReLU output
        o_np, h_np = head.step(x, h_np)
        with torch.no_grad():
            o_t, h_t = model.head_step(torch.from_numpy(x)[None], h_t)
        err = max(err, np.abs(o_np - o_t[0].numpy()).max(), np.abs(h_np - h_t[0, 0].numpy()).max())
    assert err < 1e-5


def test_stage_breakdown_attributes_a_slow_backend_to_the_backbone(tiny, blob_windows):
    """A backend that sleeps 5 ms per window shows up in ``stages_p50_ms.backbone``, not in tokens, head or wait."""
    model, cfg, _ = tiny
    loop = TrackerLoop(SlowBackend(0.005, model.backbone.feature_dim), model, config_input(cfg))
    stages = loop.run(ReplaySource(blob_windows(8), SENSOR, realtime=False))["stages_p50_ms"]
    assert set(stages) == {"wait", "tokens", "backbone", "head", "latency"}
    assert stages["backbone"] >= 5.0
    assert stages["latency"] >= stages["backbone"] > 2 * max(stages["tokens"], stages["head"], stages["wait"])
