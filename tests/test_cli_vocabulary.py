"""Top-level CLI vocabulary (issue 18): ``--version``, ``-v/--verbose`` and ``-q/--quiet``."""

import logging
import subprocess
import sys
from importlib.metadata import version

import pytest

from edgevision.cli import main, verbosity


def test_version_prints_the_package_metadata_version_and_exits_0(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    out, err = capsys.readouterr()
    assert info.value.code == 0 and err == ""
    assert out == f"edgevision {version('edgevision')}\n"


def test_version_from_the_real_command():
    res = subprocess.run([sys.executable, "-m", "edgevision", "--version"], capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.strip() == f"edgevision {version('edgevision')}"


@pytest.mark.parametrize("flags,level", [([], logging.WARNING), (["-v"], logging.INFO), (["--verbose"], logging.INFO),
                                         (["-q"], logging.ERROR), (["--quiet"], logging.ERROR)])
def test_verbosity_flags_set_the_edgevision_logger_level(monkeypatch, flags, level):
    import edgevision.cli.fpga_cmd as fpga_cmd

    seen = {}

    def spy(args):
        log = logging.getLogger("edgevision.fpga")
        seen["level"] = log.getEffectiveLevel()
        return None

    monkeypatch.setattr(fpga_cmd, "_estimate", spy)
    assert main([*flags, "estimate", "--model", "m", "--board", "zcu102"]) == 0
    assert seen["level"] == level
    assert logging.getLogger("edgevision").level == logging.NOTSET  # put back after the command


def test_log_lines_are_one_edgevision_line_each_and_quiet_drops_warnings(capfd):
    log = logging.getLogger("edgevision.test")
    with verbosity(1):
        log.info("hello %d", 1)
        log.debug("hidden")
    with verbosity(0):
        log.info("hidden")
        log.warning("careful")
    with verbosity(-1):
        log.warning("hidden")
        log.error("broken")
    err = capfd.readouterr().err
    assert err.splitlines() == ["edgevision: info: hello 1", "edgevision: warning: careful", "edgevision: error: broken"]


def test_quiet_turns_every_progress_bar_off_and_back_on(capfd, monkeypatch):
    import os

    from tqdm import tqdm

    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    with verbosity(-1):
        assert os.environ["TQDM_DISABLE"] == "1"  # child processes (synth-eye workers, torchrun) too
        list(tqdm(range(3), desc="quietbar", disable=False))
    assert "TQDM_DISABLE" not in os.environ
    assert "quietbar" not in capfd.readouterr().err
    list(tqdm(range(3), desc="loudbar"))
    assert "loudbar" in capfd.readouterr().err


def test_quiet_still_prints_errors_as_one_line(capfd):
    assert main(["-q", "events", "info", "nofile.npy"]) == 2
    out, err = capfd.readouterr()
    assert out == "" and err.strip().splitlines() == [err.strip()] and "nofile.npy" in err


def test_every_flag_of_every_subcommand_has_help():
    import argparse

    from edgevision.cli import build_parser

    missing = []

    def walk(parser, path):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, [*path, name])
            elif action.option_strings and action.help is None:
                missing.append(f"{' '.join(path)} {action.option_strings[0]}")

    walk(build_parser(), ["edgevision"])
    assert missing == []
