"""A built wheel carries what the checkout ships beside the code (models, HLS/RTL libraries, build templates), and
an install of it outside the checkout finds them through :func:`edgevision.resources.shipped`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import numpy as np
import pytest

from edgevision.ir.random import random_network
from edgevision.ir.schema import save_ir
from edgevision.resources import SHIPPED_TREES

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the source (so the checkout gets no build/ or egg-info)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md"):
        shutil.copy(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for tree in ("edgevision", "models", "fpga"):
        shutil.copytree(ROOT / tree, src / tree, ignore=ignore)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(src)], check=True, capture_output=True, text=True)
    (whl,) = out.glob("edgevision-*.whl")
    return whl


def test_wheel_holds_every_shipped_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for tree in SHIPPED_TREES:
        expected = {f"edgevision/_shipped/{p.relative_to(ROOT).as_posix()}" for p in (ROOT / tree).rglob("*")
                    if p.is_file() and "__pycache__" not in p.parts}
        assert expected and expected <= names, (tree, sorted(expected - names)[:5])
    assert "edgevision/_shipped/models/eye_small_int8/network.json" in names
    assert "edgevision/_shipped/fpga/hls/ev_common.h" in names


def test_installed_wheel_resolves_outside_the_checkout(wheel, tmp_path):
    target = tmp_path / "site"
    with zipfile.ZipFile(wheel) as z:  # a wheel is a zip laid out as site-packages: unpacking installs it
        z.extractall(target)
    probe = ("import edgevision.resources as r, edgevision.fpga.codegen as c, edgevision.runtime.session as s;"
             "print(r.shipped('models/eye_small.yaml')); print(c.LIBRARY_DIR); print(s.resolve('models/eye_small_int8'))")
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, check=True, capture_output=True,
                         text=True).stdout.split()
    shipped = target / "edgevision" / "_shipped"
    assert [Path(p) for p in out] == [shipped / "models/eye_small.yaml", shipped / "fpga/hls",
                                      shipped / "models/eye_small_int8"]


@pytest.mark.slow
def test_non_editable_install_runs_export_csim_and_demo_from_another_directory(wheel, tmp_path):
    """``pip install`` of the wheel (not editable) into a fresh venv; its ``edgevision`` script, run from a folder
    that is not the checkout, exports the shipped model's HLS project, C-simulates a small IR bit-exactly and runs
    the demo. The fresh venv takes the third-party packages from this checkout's venv through a plain path entry (no
    download); that entry processes no ``.pth`` files, so the checkout's editable install is not visible there."""
    fresh = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(fresh)], check=True)
    py = fresh / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index", "-q",
                    str(wheel)], check=True, capture_output=True, text=True)
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    deps = Path(sysconfig.get_paths()["purelib"])  # this venv's site-packages
    (site / "zz_checkout_deps.pth").write_text(f"{deps}\n")
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {"PATH": f"{fresh / 'bin'}:/usr/bin:/bin", "HOME": str(Path.home())}
    cli = fresh / "bin" / "edgevision"

    def run(*args: str) -> dict:
        proc = subprocess.run([str(cli), *args, "--json"], cwd=work, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, (args, proc.stderr[-2000:])
        return json.loads(proc.stdout)

    where = subprocess.run([str(py), "-c", "import edgevision; print(edgevision.__file__)"], cwd=work, env=env,
                           check=True, capture_output=True, text=True).stdout.strip()
    assert Path(where).is_relative_to(site), where  # the installed copy, not the checkout
    run("data", "synth-eye", "--out", "eye", "--recordings", "2", "--seconds", "0.5", "--seed", "3")
    exported = run("export", "hls", "--model", "models/eye_small_int8", "--board", "zcu102", "--out", "hls",
                   "--data", "eye", "--split", "train", "--windows", "20")
    assert (work / "hls" / "Makefile").is_file() and exported
    # a small IR for the C simulation (the shipped model's design takes minutes to compile)
    save_ir(random_network(np.random.default_rng(0), height=30, width=40, widths=(8, 16), fc_out=5), work / "tiny")
    sim = run("csim", "--model", "tiny", "--windows", "20")
    assert sim["windows"] == 20 and sim["matched"] == 20
    demo = run("demo", "--out", "demo", "--seconds", "1")
    assert demo["windows"] + demo["dropped"] == 100 and (work / "demo" / "track.mp4").stat().st_size > 0
