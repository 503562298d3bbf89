import json

import numpy as np
import pytest
from events_testdata import SENSOR

from edgevision.cli import main
from edgevision.events.formats import read_events, write_events
from edgevision.events.info import event_file_info


def _run(capsys, argv):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_info_json(tmp_path, capsys, events):
    path = write_events(tmp_path / "ev.raw", events, SENSOR)
    code, out, _ = _run(capsys, ["events", "info", str(path), "--json"])
    assert code == 0
    info = json.loads(out)
    duration = int(events["t"][-1] - events["t"][0])
    assert info["count"] == events.shape[0] and info["duration_us"] == duration
    assert info["rate_ev_s"] == pytest.approx(events.shape[0] / (duration * 1e-6))
    assert (info["width"], info["height"], info["sensor_source"]) == (64, 48, "file")
    assert info["on_fraction"] == pytest.approx(events["p"].mean())
    assert info["format"] == "evt"


def test_info_sources(tmp_path, events):
    npy = write_events(tmp_path / "ev.npy", events, SENSOR)
    assert event_file_info(npy)["sensor_source"] == "extent"
    assert event_file_info(npy, sensor_size=(100, 90))["sensor_source"] == "argument"
    h5 = write_events(tmp_path / "ev.h5", events, SENSOR, format="h5-tonic")
    info = event_file_info(h5)
    assert (info["width"], info["height"], info["sensor_source"]) == (240, 180, "layout")
    empty = write_events(tmp_path / "empty.npy", events[:0], SENSOR)
    assert event_file_info(empty)["count"] == 0 and event_file_info(empty)["rate_ev_s"] == 0.0


@pytest.mark.parametrize("out_name,fmt", [("o.aedat4", None), ("o.h5", "h5-3etplus"), ("o.csv", None), ("o.raw", "evt2")])
def test_convert_round_trip(tmp_path, capsys, events, out_name, fmt):
    src = write_events(tmp_path / "in.dat", events, SENSOR)
    dst = tmp_path / out_name
    argv = ["events", "convert", str(src), str(dst), "--json"] + (["--out-format", fmt] if fmt else [])
    code, out, _ = _run(capsys, argv)
    assert code == 0
    result = json.loads(out)
    assert result["count"] == events.shape[0] and result["input_format"] == "dat"
    np.testing.assert_array_equal(read_events(dst)[0], events)


def test_convert_with_sensor_override(tmp_path, capsys, events):
    src = write_events(tmp_path / "in.npy", events, SENSOR)
    code, out, _ = _run(capsys, ["events", "convert", str(src), str(tmp_path / "o.npz"), "--sensor", "128x96"])
    assert code == 0 and "count: 3000" in out
    assert read_events(tmp_path / "o.npz")[1] == (128, 96)


@pytest.mark.parametrize(
    "argv_tail,needle",
    [
        (["--sensor", "8x8"], "outside the sensor"),
        (["--sensor", "big"], "WIDTHxHEIGHT"),
        (["--out-format", "mp4"], "cannot write format"),
    ],
)
def test_convert_bad_input_exit_2_and_no_output(tmp_path, capsys, events, argv_tail, needle):
    src = write_events(tmp_path / "in.npy", events, SENSOR)
    dst = tmp_path / "out.raw"
    code, out, err = _run(capsys, ["events", "convert", str(src), str(dst), *argv_tail])
    assert code == 2 and out == ""
    assert needle in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.npy"]


def test_info_bad_file_exit_2(tmp_path, capsys):
    bad = tmp_path / "broken.aedat4"
    bad.write_bytes(b"#!AER-DAT4.0\r\n\x00\x00")
    code, out, err = _run(capsys, ["events", "info", str(bad), "--json"])
    assert code == 2 and out == "" and err.startswith("edgevision: error:") and "broken.aedat4" in err


_BENCH_FORMAT_KEYS = {
    "events_per_s", "tonic_events_per_s", "speedup_vs_tonic", "cold", "cold_reason", "tonic_reader", "tonic_reason",
    "read_s", "window_s", "tokens_s", "total_s", "tonic_read_s", "tonic_frames_s", "tonic_total_s",
    "decoded_matches_stream", "tokens_match_tonic", "windows", "tokens", "other_readers", "file_bytes",
}


def test_bench_events_small(tmp_path, capsys):
    from edgevision.bench.events import BENCH_FORMATS

    out_json = tmp_path / "bench.json"
    code, out, err = _run(
        capsys, ["bench", "events", "--events", "20000", "--repeats", "1", "--json", "--output", str(out_json),
                 "--tmp-dir", str(tmp_path)]
    )
    assert code == 0
    result = json.loads(out)
    assert result == json.loads(out_json.read_text())
    assert result["events"] == 20000 and result["repeats"] == 1 and "bench events: npy:" in err  # progress on stderr
    assert result["tokens_input"] == {"downsample": 8, "time_bins": 2, "input_clip": 15}
    assert set(result["formats"]) == set(BENCH_FORMATS)
    for name, r in result["formats"].items():
        assert _BENCH_FORMAT_KEYS <= set(r), name
        assert r["decoded_matches_stream"] is True and r["tokens_match_tonic"] is True, name
        assert isinstance(r["cold"], bool) and (r["cold"] or r["cold_reason"]), name
        assert r["windows"] >= 1 and r["tokens"] > 0  # figures are reported, never asserted
        if r["tonic_events_per_s"] is None:
            assert r["speedup_vs_tonic"] is None and r["tonic_reason"], name
        else:
            assert r["speedup_vs_tonic"] == pytest.approx(r["events_per_s"] / r["tonic_events_per_s"], rel=1e-9), name
        for other, o in r["other_readers"].items():
            assert "error" in o or {"read_events_per_s", "decodes_same_events", "cold"} <= set(o), (name, other)
    assert {"expelliarmus", "faery"} <= set(result["formats"]["evt2"]["other_readers"])
    assert result["formats"]["evt2"]["other_readers"]["faery"]["decodes_same_events"] is True
    assert "| evt3 |" in result["table"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench.json"]  # the written files are gone


def test_bench_events_bad_formats_exit_2(capsys):
    code, out, err = _run(capsys, ["bench", "events", "--events", "1000", "--formats", "npy,mp4"])
    assert code == 2 and out == "" and "--formats" in err and "mp4" in err and len(err.strip().splitlines()) == 1


def test_recorded_stream_plays_files_back_to_back(tmp_path):
    from edgevision.bench.events import recorded_stream
    from edgevision.errors import ConfigError
    from events_testdata import random_events

    paths = []
    for k in range(3):
        paths.append(tmp_path / f"r{k}.npy")
        write_events(paths[-1], random_events(1000, seed=k), SENSOR)
    ev, sensor = recorded_stream(paths, 2500, sensor_size=SENSOR)
    assert ev.shape[0] == 2500 and sensor == SENSOR
    assert (np.diff(ev["t"]) >= 0).all() and ev["t"][1000] == ev["t"][999] + 1
    np.testing.assert_array_equal(ev["x"][1000:2000], random_events(1000, seed=1)["x"])
    write_events(tmp_path / "big.npy", random_events(10, sensor=(100, 100)), (100, 100))
    with pytest.raises(ConfigError, match="differs"):
        recorded_stream([paths[0], tmp_path / "big.npy"], 5000, sensor_size=None)


def test_bench_events_on_recordings(tmp_path, capsys):
    from events_testdata import random_events

    files = [str(tmp_path / f"r{k}.npy") for k in range(2)]
    for k, f in enumerate(files):
        write_events(f, random_events(3000, seed=k), SENSOR)
    code, out, _ = _run(capsys, ["bench", "events", "--events", "100000", "--repeats", "1", "--json",
                                 "--formats", "npy,evt3", "--source", *files])
    assert code == 0
    result = json.loads(out)
    assert result["events"] == 6000 and result["stream"].startswith("recordings: 2 file(s)")
    assert set(result["formats"]) == {"npy", "evt3"}
    for r in result["formats"].values():
        assert r["decoded_matches_stream"] is True and r["tokens_match_tonic"] is True and 0 < r["tokens"] <= 6000
