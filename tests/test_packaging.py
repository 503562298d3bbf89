"""A built wheel carries what the checkout ships beside the code (models, HLS/RTL libraries, build templates), and
an install of it outside the checkout finds them through :func:`edgevision.resources.shipped`."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

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
