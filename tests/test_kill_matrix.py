"""kill -9 matrix, CI size (issue 19): ``tools/kill_matrix.py --quick`` SIGKILLs the real CLI once per command
(train eye, data synth-eye, events convert, quantize, export hls), each time during its final write, and every
cell must pass: nothing half-written taken as complete, the rerun identical to an uninterrupted run."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_quick_kill_matrix_passes_every_cell(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("EDGEVISION_TEST_KILL_AT_STEP", None)
    res = subprocess.run([sys.executable, str(ROOT / "tools" / "kill_matrix.py"), "--quick", "--json", "--work",
                          str(tmp_path)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert res.stdout.strip(), res.stderr[-3000:]
    report = json.loads(res.stdout)
    cells = report["cells"]
    names = {c["command"] for c in cells}
    assert {"train eye", "data synth-eye", "quantize", "export hls"} <= names
    assert any(n.startswith("events convert") for n in names)
    failed = [c for c in cells if not c["ok"]]
    assert not failed, json.dumps(failed, indent=1)
    for c in cells:
        assert c["killed_at"][0].isdigit() and c["taken_complete"].startswith("no") and c["rerun_identical"] == "yes", c
    assert report["ok"] and res.returncode == 0
