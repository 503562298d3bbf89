"""Smoke set of the reader fuzzer (``edgevision bench events-fuzz``; the full run is >= 10,000 files per format):
mutated files read in an isolated worker give only ok or typed-error outcomes, never an untyped exception, a
hang, a memory blow-up or a crash."""

import json

import numpy as np
import pytest

from edgevision.cli import main
from edgevision.events.fuzz import FUZZ_FORMATS, MUTATIONS, fuzz_readers, mutate


def test_mutations_change_the_bytes():
    rng = np.random.default_rng(0)
    data = bytes(range(200))
    for kind in MUTATIONS:
        assert any(mutate(data, rng, kind) != data for _ in range(5)), kind


@pytest.mark.timeout(900)
def test_smoke_set_only_ok_or_typed_outcomes(tmp_path):
    result = fuzz_readers(files=200, formats=FUZZ_FORMATS, seed=1, timeout_s=10.0, keep_dir=tmp_path, progress=False)
    assert set(result["formats"]) == set(FUZZ_FORMATS)
    for fmt, counts in result["formats"].items():
        assert counts["ok"] + counts["typed"] == 200, (fmt, counts, result["examples"].get(fmt))
        assert counts["typed"] > 0  # the mutations do reach the readers' checks
    assert result["bad"] == 0 and list(tmp_path.iterdir()) == []


def test_cli_writes_the_table(tmp_path, capsys):
    out = tmp_path / "fuzz.json"
    code = main(["bench", "events-fuzz", "--files", "5", "--formats", "evt3,dat", "--json", "--output", str(out)])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result == json.loads(out.read_text()) and set(result["formats"]) == {"evt3", "dat"}
    assert result["table"].splitlines()[0].startswith("| format | ok | typed | untyped | hang | memory | crash |")
    assert main(["bench", "events-fuzz", "--formats", "mp4"]) == 2
