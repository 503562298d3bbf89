"""kill -9 in the middle of ``events convert`` (deterministically: SIGKILL from inside the EVT3 encoder after
its first 2^20-event chunk): the output never appears half-written, and rerunning gives the identical file."""

import os
import subprocess
import sys

import numpy as np
from events_testdata import random_events

from edgevision.events.formats import read_events, write_events

KILLER = """
import os, signal, sys
from edgevision.events.formats import evt3_writer
encode, calls = evt3_writer._encode, [0]
def killing(*args):
    calls[0] += 1
    if calls[0] == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return encode(*args)
evt3_writer._encode = killing
from edgevision.cli import main
sys.exit(main(["events", "convert", sys.argv[1], sys.argv[2]]))
"""


def test_sigkill_mid_convert_leaves_no_output_and_rerun_is_identical(tmp_path):
    ev = random_events(1_500_000, sensor=(640, 480), span=30_000_000)
    src = write_events(tmp_path / "in.npy", ev, (640, 480))
    out = tmp_path / "out" / "o.raw"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    killed = subprocess.run([sys.executable, "-c", KILLER, str(src), str(out)], env=env, capture_output=True)
    assert killed.returncode == -9
    assert not out.exists()  # only a hidden temporary sibling (.o.*.tmp.raw) is left, never o.raw
    assert all(p.name.startswith(".o.") and ".tmp" in p.name for p in out.parent.iterdir())
    cmd = [sys.executable, "-m", "edgevision", "events", "convert", str(src), str(out)]
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    clean = write_events(tmp_path / "clean.raw", ev, (640, 480))
    assert out.read_bytes() == clean.read_bytes()
    np.testing.assert_array_equal(read_events(out)[0], ev)
