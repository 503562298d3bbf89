"""Build hook (metadata lives in pyproject.toml): a wheel carries the shipped models and the HLS/RTL libraries and
templates under ``edgevision/_shipped/``, where :func:`edgevision.resources.shipped` finds them."""

import runpy
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
TREES = runpy.run_path(str(ROOT / "edgevision" / "resources.py"))["SHIPPED_TREES"]


class BuildPyWithShippedFiles(build_py):
    """``build_py`` plus a copy of each shipped tree (editable installs read the checkout instead)."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for tree in TREES:
            target = Path(self.build_lib) / "edgevision" / "_shipped" / tree
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(ROOT / tree, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildPyWithShippedFiles})
