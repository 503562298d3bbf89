"""Any sensor onto the model's 640x480: profiles, ROI/scale/fit, vectorized event remap, predictions both ways."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgevision.errors import ConfigError
from edgevision.events.core import make_events
from edgevision.runtime.host_model import config_input
from edgevision.runtime.backends import make_backend
from edgevision.runtime.sensor_map import PROFILES, load_profile, make_sensor_map, resolve_sensor_map
from edgevision.runtime.sources import ReplaySource, TrackWindow
from edgevision.runtime.tracker import TrackerLoop

MODEL = (640, 480)
ROOT = Path(__file__).resolve().parents[2]


def _reference(ev, m):
    """Per-event definition: floor((i + 0.5 - roi) * s + offset), kept when inside ROI and model sensor."""
    out = []
    rx, ry, rw, rh = m.roi
    for e in ev:
        x, y = int(e["x"]), int(e["y"])
        if not (rx <= x < rx + rw and ry <= y < ry + rh):
            continue
        u = int(np.floor((x + 0.5 - rx) * m.scale[0] + m.offset[0]))
        v = int(np.floor((y + 0.5 - ry) * m.scale[1] + m.offset[1]))
        if 0 <= u < m.model[0] and 0 <= v < m.model[1]:
            out.append((int(e["t"]), u, v, int(e["p"])))
    return out


def test_profiles():
    sizes = {"davis346": (346, 260), "dvxplorer": (640, 480), "evk4": (1280, 720), "gen41": (1280, 720), "genx320": (320, 320)}
    for name in PROFILES:
        p = load_profile(name)
        assert p["sensor"] == sizes[name], name
        m = resolve_sensor_map(p["sensor"], MODEL, name)
        assert m.profile == name
    assert resolve_sensor_map((640, 480), MODEL, "dvxplorer").identity
    evk4 = resolve_sensor_map((1280, 720), MODEL, "evk4")
    assert evk4.scale == (0.5, 0.5) and evk4.offset == (0.0, 60.0)  # integer down-scaling, centred
    gx = resolve_sensor_map((320, 320), MODEL, "genx320")
    assert gx.scale == (1.5, 1.5) and gx.offset == (80.0, 0.0)
    davis = resolve_sensor_map((346, 260), MODEL, "davis346")
    assert davis.scale[0] == pytest.approx(480 / 260) and davis.offset[1] == 0.0
    with pytest.raises(ConfigError, match="is for a 346x260 sensor"):
        resolve_sensor_map((1280, 720), MODEL, "davis346")
    with pytest.raises(ConfigError, match="unknown camera profile"):
        load_profile("nope")


def test_profile_file_and_overrides(tmp_path):
    f = tmp_path / "cam.yaml"
    f.write_text("name: mine\nsensor: [1280, 720]\nroi: [160, 0, 960, 720]\n")
    m = resolve_sensor_map((1280, 720), MODEL, str(f))
    assert m.profile == "mine" and m.roi == (160, 0, 960, 720) and m.scale == (2 / 3, 2 / 3) and m.offset == (0.0, 0.0)
    m = resolve_sensor_map((1280, 720), MODEL, str(f), scale=0.5)  # flag wins over the profile
    assert m.scale == (0.5, 0.5) and m.roi == (160, 0, 960, 720) and m.offset == (80.0, 60.0)
    for bad, msg in (("sensor: [1, 2, 3]\n", "list of 2 integers"), ("roi: [0, 0, 1, 1]\n", "needs 'sensor"),
                     ("sensor: [10, 10]\nzoom: 2\n", "unknown camera profile keys"), ("- 1\n", "mapping"),
                     ("sensor: [10, 10]\nscale: fast\n", "scale must be a number")):
        f.write_text(bad)
        with pytest.raises(ConfigError, match=msg):
            load_profile(str(f))


def test_fit_modes_and_errors():
    crop = make_sensor_map((1280, 720), MODEL, fit="crop")
    assert crop.roi == (160, 0, 960, 720) and crop.offset == (0.0, 0.0)
    st = make_sensor_map((1280, 720), MODEL, fit="stretch")
    assert st.scale == (0.5, 480 / 720)
    one = make_sensor_map((1280, 720), MODEL, scale=1)  # no scaling: the centred 640x480 crop
    assert one.roi == (320, 120, 640, 480) and one.offset == (0.0, 0.0)
    up = make_sensor_map((320, 320), MODEL, scale=2)  # integer up-scaling of the centred 320x240
    assert up.roi == (0, 40, 320, 240) and up.offset == (0.0, 0.0)
    with pytest.raises(ConfigError, match="not inside"):
        make_sensor_map((346, 260), MODEL, roi=(300, 0, 100, 10))
    with pytest.raises(ConfigError, match="fit must be"):
        make_sensor_map((346, 260), MODEL, fit="zoom")
    with pytest.raises(ConfigError, match="scale must be"):
        make_sensor_map((346, 260), MODEL, scale=-1.0)


@pytest.mark.parametrize("kw", [dict(camera=(1280, 720), scale=0.5), dict(camera=(346, 260)), dict(camera=(320, 320)),
                                dict(camera=(1280, 720), fit="crop"), dict(camera=(1280, 720), fit="stretch"),
                                dict(camera=(1280, 720), roi=(100, 50, 700, 500), scale=2 / 3),
                                dict(camera=(320, 320), scale=2.0)])
def test_vectorized_remap_equals_the_per_event_definition(kw):
    camera = kw.pop("camera")
    m = make_sensor_map(camera, MODEL, **kw)
    rng = np.random.default_rng(1)
    n = 3000
    ev = make_events(np.sort(rng.integers(0, 10_000, n)), rng.integers(0, camera[0], n), rng.integers(0, camera[1], n),
                     rng.integers(0, 2, n))
    got = m.events(ev)
    assert [(int(e["t"]), int(e["x"]), int(e["y"]), int(e["p"])) for e in got] == _reference(ev, m)
    assert got.dtype == ev.dtype and (np.diff(got["t"]) >= 0).all()
    for p in ((0.0, 0.0), (12.5, 300.25), (camera[0] - 1.0, camera[1] / 2)):
        np.testing.assert_allclose(m.to_camera(*m.to_model(*p)), p, atol=1e-9)


def test_identity_map_returns_the_same_array():
    m = make_sensor_map(MODEL, MODEL)
    ev = make_events([1, 2], [3, 4], [5, 6], [0, 1])
    assert m.identity and m.events(ev) is ev


def _upscale_to_evk4(windows):
    """Blob windows (model px) as an EVK4 would see them under the evk4 profile (x2, 60 px band): every
    model-px event becomes one of the 2x2 camera pixels that map back onto it."""
    rng = np.random.default_rng(3)
    model_w, cam_w = [], []
    for w in windows:
        ev = w.events[(w.events["y"] >= 60) & (w.events["y"] < 420)]
        cam = ev.copy()
        cam["x"] = ev["x"].astype(np.int64) * 2 + rng.integers(0, 2, ev.shape[0])
        cam["y"] = (ev["y"].astype(np.int64) - 60) * 2 + rng.integers(0, 2, ev.shape[0])
        lab = w.label.copy()
        model_w.append(TrackWindow(w.index, w.t_start, w.t_end, ev, w.label))
        lab[0], lab[1] = lab[0] * 2, (lab[1] - 60) * 2
        cam_w.append(TrackWindow(w.index, w.t_start, w.t_end, cam, lab))
    return model_w, cam_w


def test_tracking_an_evk4_equals_tracking_the_model_view(tiny, blob_windows):
    model, cfg, net = tiny
    model_w, cam_w = _upscale_to_evk4(blob_windows(15))
    backend = make_backend("int", net=net, input_clip=cfg.input.input_clip)
    direct = TrackerLoop(backend, model, config_input(cfg))
    direct.run(ReplaySource(model_w, MODEL, realtime=False))
    smap = resolve_sensor_map((1280, 720), MODEL, "evk4")
    mapped = TrackerLoop(backend, model, config_input(cfg), sensor_map=smap)
    summary = mapped.run(ReplaySource(cam_w, (1280, 720), realtime=False))
    assert summary["sensor_map"]["profile"] == "evk4" and summary["labelled_windows"] == 15
    for a, b in zip(direct.predictions, mapped.predictions):
        assert (a.model_x, a.model_y) == (b.model_x, b.model_y) == (a.x, a.y)
        assert b.x == pytest.approx(2 * a.x) and b.y == pytest.approx(2 * (a.y - 60))
        assert b.record()["model_x"] == round(a.x, 3)
    # the metrics are taken in camera px against camera-px labels: same pixel errors scaled by the sensor
    with pytest.raises(ConfigError, match="sensor map is for a 1280x720"):
        TrackerLoop(backend, model, config_input(cfg), sensor_map=smap).run(ReplaySource(model_w, MODEL, realtime=False))


def test_cli_tracks_a_1280x720_recording_and_rejects_a_wrong_profile(tmp_path, blob_windows):
    from edgevision.events.formats import write_events

    _, cam_w = _upscale_to_evk4(blob_windows(12))
    write_events(tmp_path / "evk4.aedat4", np.concatenate([w.events for w in cam_w]), (1280, 720))
    base = [sys.executable, "-m", "edgevision", "track", "--source", f"file:{tmp_path / 'evk4.aedat4'}", "--backend",
            "int", "--fast", "--headless"]
    ok = subprocess.run(base + ["--out", str(tmp_path / "a"), "--json", "--profile", "evk4"], capture_output=True,
                        text=True, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr[-2000:]
    s = json.loads(ok.stdout)
    assert s["windows"] == 12 and s["sensor_map"]["scale"] == [0.5, 0.5]
    row = json.loads(Path(s["predictions"]).read_text().splitlines()[0])
    assert {"x", "y", "model_x", "model_y"} <= set(row)
    assert row["x"] == pytest.approx(row["model_x"] * 2, abs=2e-3)
    # without a profile the sensor is fitted whole: the same map for this camera
    auto = subprocess.run(base + ["--out", str(tmp_path / "b"), "--json"], capture_output=True, text=True, cwd=tmp_path)
    assert auto.returncode == 0 and json.loads(auto.stdout)["sensor_map"]["offset"] == [0.0, 60.0]
    bad = subprocess.run(base + ["--out", str(tmp_path / "c"), "--profile", "davis346"], capture_output=True, text=True,
                         cwd=tmp_path)
    assert bad.returncode == 2 and "is for a 346x260 sensor" in bad.stderr and "Traceback" not in bad.stderr
