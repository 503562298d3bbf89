import json

from edgevision.cli import main


def test_synth_eye_command_writes_both_layouts(tmp_path, capsys):
    out = tmp_path / "eye"
    rc = main(
        ["data", "synth-eye", "--out", str(out), "--recordings", "3", "--seconds", "0.1", "--per-subject", "1",
         "--seed", "4", "--tonic-layout", "--json"]
    )
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["recordings"] == 3 and summary["subjects"] == 3
    assert summary["events"] > 0 and summary["event_rate_hz"] > 0 and "blink_fraction" in summary
    assert (out / "manifest.json").is_file() and (out / "tonic" / "ThreeET_Eyetracking" / "ThreeET_Eyetracking.zip").is_file()
    assert main(["data", "verify", str(out)]) == 0


def test_bad_arguments_give_one_line_errors(tmp_path, capsys):
    assert main(["data", "synth-eye", "--out", str(tmp_path), "--recordings", "0"]) == 2
    assert "recordings" in capsys.readouterr().err
    assert main(["data", "verify", str(tmp_path / "missing")]) == 2
