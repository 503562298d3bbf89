"""Event-level augmentation: identity equals the inference tokens, every transform moves the label with the pupil."""

import dataclasses

import numpy as np
import pytest
import torch

from edgevision.events.core import make_events
from edgevision.nn.augment import SequenceParams, draw_params, identity_params, source_slots
from edgevision.nn.config import AugmentConfig, config_from_dict
from edgevision.nn.event_batch import EventStore, build_batch, sequence_starts
from edgevision.nn.eye_data import load_split, make_batch
from edgevision.errors import ConfigError

from .test_nn_train import TINY

SLOT = 10_000


def _cfg(seq_len=12, time_bins=2, **aug):
    d = {**TINY, "input": {"time_bins": time_bins, "input_clip": 255}, "train": {**TINY["train"], "seq_len": seq_len}, "augment": aug}
    return config_from_dict(d)


def _ring_store(cfg, centres, n_per_slot=4000, radius=30.0, seed=0):
    """One recording: per slot, events uniformly on a filled disc around that slot's centre; label = centre at the
    end of the slot (the disc does not move within a slot)."""
    rng = np.random.default_rng(seed)
    n = len(centres)
    slot = np.repeat(np.arange(n), n_per_slot)
    t = slot * SLOT + rng.integers(0, SLOT, slot.size)
    r = radius * np.sqrt(rng.random(slot.size))
    a = rng.uniform(0, 2 * np.pi, slot.size)
    x = np.round(centres[slot, 0] + r * np.cos(a))
    y = np.round(centres[slot, 1] + r * np.sin(a))
    order = np.argsort(t, kind="stable")
    ev = make_events(t[order], x[order], y[order], rng.integers(0, 2, slot.size)[order])
    ev["t"][0] = 0  # slots anchored at t = 0
    labels = np.concatenate([centres, np.zeros((n, 1))], axis=1).astype(np.float32)
    return EventStore([("ring", ev, labels)], cfg, "cpu")


def _centroids(x, n_windows):
    """Count-weighted centroid (x, y) of each window's sites, in sensor pixels (cell centres)."""
    ds = 8
    w = x.coords[:, 0].numpy()
    m = x.feats.sum(1).numpy()
    cx = (x.coords[:, 2].numpy() + 0.5) * ds - 0.5
    cy = (x.coords[:, 1].numpy() + 0.5) * ds - 0.5
    tot = np.bincount(w, m, n_windows)
    return np.stack([np.bincount(w, m * cx, n_windows) / tot, np.bincount(w, m * cy, n_windows) / tot], 1)


def test_identity_batch_equals_inference_tokens(ring_dataset, tmp_path):
    cfg = _cfg(seq_len=20, enabled=False)
    store = EventStore.from_split(ring_dataset, "train", cfg, "cpu")
    recs = load_split(ring_dataset, "train", cfg, tmp_path / "cache")
    starts = sequence_starts(store.n_slots, 20, 10)[[0, 3, 7]]
    x, lab = build_batch(store, starts, 20, identity_params(3), cfg)
    ref, ref_lab = make_batch(recs, starts, 20)
    assert torch.equal(x.coords, ref.coords) and torch.equal(x.feats, torch.clamp(ref.feats, max=cfg.input.input_clip))
    assert torch.equal(lab, ref_lab)


@pytest.mark.parametrize("kind", ["flip", "scale", "rotate", "translate", "all"])
def test_spatial_transforms_move_label_with_the_pupil(kind):
    cfg = _cfg()
    centres = np.tile([[300.0, 250.0]], (14, 1))
    store = _ring_store(cfg, centres)
    p = identity_params(1)
    if kind in ("flip", "all"):
        p.flip[:] = True
    th = np.radians(14.0 if kind in ("rotate", "all") else 0.0)
    sc = {"scale": 1.25, "all": 0.8}.get(kind, 1.0)
    p.affine[:] = sc * np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    if kind in ("translate", "all"):
        p.shift[:] = [37.3, -21.6]
    p.gain[:] = sc**2
    x, lab = build_batch(store, np.array([[0, 0]]), 13, p, cfg)
    err = _centroids(x, 12) - lab[0, :, :2].numpy()
    # Per window the centroid of 4000 events on an 8-px grid is off by sampling noise (< 1 px); over the 12
    # windows no bias remains (a wrongly moved label would be off by pixels).
    assert np.abs(err).max() < 1.2 and np.abs(err.mean(0)).max() < 0.3, err
    # Events scale with scale**2 (the disc covers scale**2 the pixels), so the density per pixel is kept.
    assert abs(x.feats.sum().item() / (12 * 4000 * sc**2) - 1) < 0.02


def test_time_stretch_resamples_the_trajectory():
    cfg = _cfg(seq_len=12)
    centres = np.stack([200 + 6.0 * np.arange(40), np.full(40, 240.0)], 1)  # 6 px per slot to the right
    store = _ring_store(cfg, centres)
    for k in (0.8, 1.25):
        p = identity_params(1)
        p.stretch[:] = k
        span = source_slots(12, 0.8)
        x, lab = build_batch(store, np.array([[0, 2]]), span, p, cfg)
        # Output label j = source trajectory at (j + 1) / k slots after the first slot's start.
        expect = 200 + 6.0 * (2 + (np.arange(1, 13) / k) - 1)
        assert np.abs(lab[0, :, 0].numpy() - expect).max() < 1e-3
        # The events of output slot j come from source time [j, j + 1) / k slots; each source slot holds its
        # end-of-slot centre, so their centroid sits at the mean source slot, floor of (j + 0.5) / k on average.
        src = np.arange(12)[:, None] + (np.arange(200) + 0.5)[None] / 200  # output slot j, 200 instants
        mean_slot = np.floor(src / k).mean(1)
        got = _centroids(x, 12)[:, 0]
        assert np.abs(got - (200 + 6.0 * (2 + mean_slot))).max() < 0.8


def test_rates_noise_and_hot_pixels():
    cfg = _cfg()
    store = _ring_store(cfg, np.tile([[320.0, 240.0]], (14, 1)))
    base, _ = build_batch(store, np.array([[0, 0]]), 12, identity_params(1), cfg)
    p = identity_params(1)
    p.gain[:] = [[0.5, 1.5]]  # OFF halved, ON x1.5
    x, _ = build_batch(store, np.array([[0, 0]]), 12, p, cfg)
    off_on = x.feats.reshape(-1, 2, 2).sum((0, 1)).numpy() / base.feats.reshape(-1, 2, 2).sum((0, 1)).numpy()
    assert np.allclose(off_on, [0.5, 1.5], atol=0.05)
    p = identity_params(1)
    p.noise_hz[:] = 0.2
    p.hot_pixels[:] = 5
    p.hot_rate_hz[:] = 400.0
    x, _ = build_batch(store, np.array([[0, 0]]), 12, p, cfg)
    added = x.feats.sum().item() - base.feats.sum().item()
    expect = 0.2 * 640 * 480 * 0.12 + 5 * 400 * 0.12
    assert abs(added / expect - 1) < 0.1
    assert x.shape == base.shape and (x.coords[:, 0] < 12).all()


def test_draws_are_reproducible_and_within_ranges():
    cfg = AugmentConfig()
    a = draw_params(cfg, 64, np.random.default_rng(5))
    b = draw_params(cfg, 64, np.random.default_rng(5))
    assert all(np.array_equal(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(SequenceParams))
    sc = np.sqrt(np.abs(np.linalg.det(a.affine)))
    assert (sc >= 0.8 - 1e-9).all() and (sc <= 1.25 + 1e-9).all() and not a.identity
    assert draw_params(dataclasses.replace(cfg, enabled=False), 4, np.random.default_rng(0)).identity


@pytest.mark.parametrize("bad", [{"scale": [1.2, 0.9]}, {"drop": [0.0, 1.0]}, {"flip": 2}, {"noise_hz": "x"}, {"enabled": 3}])
def test_bad_augment_config_is_refused(bad):
    with pytest.raises(ConfigError, match="augment"):
        _cfg(**bad)


def test_a_sequence_is_augmented_the_same_whatever_shares_its_batch(ring_dataset):
    """Per-sequence streams: a batch split over processes draws what one process draws (distributed training)."""
    cfg = _cfg(seq_len=12)
    store = EventStore.from_split(ring_dataset, "train", cfg, "cpu")
    span = source_slots(12, cfg.augment.time_stretch[0])
    starts = sequence_starts(store.n_slots, span, 10)[:4]
    params = draw_params(cfg.augment, 4, np.random.default_rng(7))
    whole, lab = build_batch(store, starts, span, params, cfg)
    part, lab_part = build_batch(store, starts[2:], span, params.take(slice(2, 4)), cfg)
    rows = whole.coords[:, 0] >= 24
    assert torch.equal(whole.feats[rows], part.feats) and torch.equal(whole.coords[rows, 1:], part.coords[:, 1:])
    assert torch.equal(lab[2:], lab_part)
