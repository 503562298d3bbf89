#!/usr/bin/env python
"""kill -9 matrix (issue 19): SIGKILL the real ``edgevision`` CLI at several moments of each stage, then check
that nothing half-written is taken as complete and that rerunning (``--resume`` for ``train eye``) gives the
result of an uninterrupted run.

    .venv/bin/python tools/kill_matrix.py [--quick] [--json] [--work DIR] [--only NAME ...]

For every command an uninterrupted reference run is made first, in the same folder the killed run will use
(then moved aside), so paths written into outputs are the same. Each kill point then runs the command in a
subprocess and kills it with SIGKILL:

* ``write:NAME#K:begin`` / ``:end``: from inside :func:`edgevision.atomic.atomic_path` (every writer's temporary
  sibling + rename), at the K-th write of a file called NAME: ``begin`` as the temporary file has been created
  (empty), ``end`` once it is completely written but not yet renamed (the "kill during the final write" case);
  the process runs the real CLI (``edgevision.cli.main``) with that one function wrapped;
* ``step:N``: ``train eye``'s own EDGEVISION_TEST_KILL_AT_STEP hook (SIGKILL after optimizer step N, mid-epoch);
* ``t=F``: plain ``python -m edgevision ...``, SIGKILL after F x the reference run's wall time;
* ``first-temp``: plain ``python -m edgevision ...``, SIGKILL as soon as a hidden temporary file shows up in the
  output folder (polled every ms; where it lands varies).

Then, per cell:

* taken as complete?  The stage's consumer is asked: ``data verify`` and ``ThreeETPlus`` for a synth-eye dataset,
  ``read_events`` for a converted file, ``load_ir`` + ``load_head`` for a quantize folder, ``design.json`` for an
  HLS project, ``load_eye_tracker`` for each checkpoint of a training run. Whatever it accepts must be complete:
  every non-hidden file left behind must equal the reference run's file (files a training run rewrites each
  epoch must load, and a checkpoint's .safetensors and .json must come from the same epoch). ``no`` passes.
* rerun identical?  The same command (``--resume`` for ``train eye``) is run to the end in the same folder and
  every non-hidden file is compared with the reference run's, byte for byte, except the declared volatile
  fields (VOLATILE below: wall-clock seconds). Hidden temporary siblings a kill leaves behind are listed under
  "left behind" and are not part of the result.

Exit status 1 if any cell fails.
"""

from __future__ import annotations

import argparse
import csv
import functools
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable

# Runs the real CLI with edgevision.atomic.atomic_path wrapped: logs every write (begin / written / done) to
# $KM_LOG and SIGKILLs the process at the write named by $KM_KILL ("NAME#K:begin|end").
HOOK = r"""
import contextlib, os, signal, sys
import edgevision.atomic as A
log_path, kill = os.environ.get("KM_LOG"), os.environ.get("KM_KILL")
name, nth, phase = None, 0, None
if kill:
    spec, phase = kill.rsplit(":", 1)
    name, nth = spec.rsplit("#", 1)
    nth = int(nth)
seen = {}
orig = A.atomic_path
def log(what, target):
    if log_path:
        with open(log_path, "a") as fh:
            fh.write(f"{what}\t{target}\n")
@contextlib.contextmanager
def hooked(target, suffix=None):
    with orig(target, suffix) as tmp:
        base = os.path.basename(str(target))
        seen[base] = seen.get(base, 0) + 1
        hit = base == name and seen[base] == nth
        log("begin", target)
        if hit and phase == "begin":
            os.kill(os.getpid(), signal.SIGKILL)
        yield tmp
        log("written", target)
        if hit and phase == "end":
            os.kill(os.getpid(), signal.SIGKILL)
    log("done", target)
A.atomic_path = hooked
from edgevision.cli import main
for m in list(sys.modules.values()):
    if getattr(m, "atomic_path", None) is orig:
        m.atomic_path = hooked
sys.exit(main(sys.argv[1:]))
"""


# ---------------------------------------------------------------------------------------------------------------
# small data


@functools.cache
def _nn_test_data():
    """tests/nn/conftest.py, loaded once: its moving pupil ring is the data of the training cells."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("nn_test_data", ROOT / "tests" / "nn" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ring_recording(seed: int, n_labels: int, per_slot: int):
    """The eye-tracker tests' moving pupil ring, closed for 4 labels."""
    return _nn_test_data().ring_recording(seed, n_labels, per_slot, closed_frames=4)


def make_dataset(root: Path) -> Path:
    from edgevision.datasets.writer import write_manifest, write_recording, write_split_lists

    names = {"train": ["tr0", "tr1"], "val": ["va0"], "test": ["te0"]}
    seed, files = 0, {}
    for split, split_names in names.items():
        for name in split_names:
            ev, lab = ring_recording(seed, 60, 60)
            files.update(write_recording(root, split, name, ev, lab))
            seed += 1
    files.update(write_split_lists(root, names))
    write_manifest(root, files, {"generator": "tools/kill_matrix.py"})
    return root


TINY = {
    "input": {"time_bins": 1},
    "backbone": {"layers": [{"op": "conv3x3_subm", "out": 8}, {"op": "conv2x2_s2", "out": 8}, {"op": "pool", "grid": [3, 4]}]},
    "gru": {"hidden": 8},
    "train": {"epochs": 3, "batch_size": 4, "seq_len": 10, "stride": 10},
}


# ---------------------------------------------------------------------------------------------------------------
# comparing outputs


def is_temp(p: Path) -> bool:
    return p.name.startswith(".") and ".tmp" in p.name


def tree(root: Path) -> dict[str, Path]:
    """Non-hidden files under ``root`` by relative path."""
    if not root.exists():
        return {}
    if root.is_file():
        return {root.name: root}
    return {str(p.relative_to(root)): p for p in sorted(root.rglob("*")) if p.is_file() and not is_temp(p)}


def temps(root: Path) -> list[str]:
    if not root.exists():
        return []
    base = root.parent if root.is_file() or not root.is_dir() else root
    return sorted(str(p.relative_to(base)) for p in base.rglob("*") if p.is_file() and is_temp(p))


def _drop(doc: Any, paths: list[tuple[str, ...]]) -> Any:
    """``doc`` without the keys at ``paths`` (tuples of nested keys)."""
    for path in paths:
        node = doc
        for k in path[:-1]:
            node = node.get(k, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node.pop(path[-1], None)
    return doc


def _csv_without(data: bytes, columns: set[str]) -> bytes:
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    return json.dumps([{k: v for k, v in r.items() if k not in columns} for r in rows]).encode()


def _state_without_seconds(data: bytes) -> bytes:
    import torch

    state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=False)
    for row in state["history"]:
        row.pop("seconds", None)
    if state.get("best"):
        state["best"].pop("seconds", None)
    h = hashlib.sha256()

    def feed(o: Any) -> None:
        if isinstance(o, torch.Tensor):
            h.update(str((o.dtype, tuple(o.shape))).encode())
            h.update(o.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes() if o.numel() else b"")
        elif isinstance(o, dict):
            for k in sorted(o, key=str):
                h.update(repr(k).encode())
                feed(o[k])
        elif isinstance(o, (list, tuple)):
            for v in o:
                feed(v)
        else:
            h.update(repr(o).encode())

    feed(state)
    return h.digest()


# relative path (suffix match) -> normalizer removing the volatile fields before comparing
VOLATILE: dict[str, tuple[str, Callable[[bytes], bytes]]] = {
    "log.csv": ("column seconds (epoch wall time)", lambda b: _csv_without(b, {"seconds"})),
    "state.pt": ("history[*].seconds, best.seconds (epoch wall time)", _state_without_seconds),
    "manifest.json": ("summary.wall_s (generation wall time)",
                      lambda b: json.dumps(_drop(json.loads(b), [("summary", "wall_s")]), sort_keys=True).encode()),
}


def normalized(rel: str, data: bytes) -> bytes:
    for key, (_, fn) in VOLATILE.items():
        if rel == key or rel.endswith("/" + key):
            try:
                return fn(data)
            except Exception:  # noqa: BLE001 - a torn file: compare raw (it will differ)
                return data
    return data


def differing(ref: dict[str, Path], got: dict[str, Path], rels: list[str] | None = None) -> list[str]:
    out = []
    for rel in rels if rels is not None else sorted(set(ref) | set(got)):
        if rel not in ref or rel not in got:
            out.append(rel + (" (missing)" if rel in ref else " (extra)"))
        elif normalized(rel, ref[rel].read_bytes()) != normalized(rel, got[rel].read_bytes()):
            out.append(rel)
    return out


# ---------------------------------------------------------------------------------------------------------------
# commands


@dataclass
class Command:
    name: str
    argv: Callable[[Path], list[str]]  # -> edgevision arguments, given the output path
    out: Callable[[Path], Path]  # the output path inside a cell's folder
    kills: list[str]  # kill points (full matrix)
    quick: str  # the kill point --quick runs
    # what the stage's consumer accepts after the kill: {label: the files it relies on (None: every file of the
    # reference run)}; each must then be present and equal to the uninterrupted run's
    accepted: Callable[[Path, "Cell"], dict[str, list[str] | None]]
    rewritten: set[str] = field(default_factory=set)  # files rewritten during a run (compared after rerun only)
    resume: list[str] = field(default_factory=list)  # extra arguments for the rerun
    after_kill: Callable[[Path, "Cell"], list[str]] | None = None  # extra problems found after the kill


@dataclass
class Cell:
    command: str
    kill: str
    killed_at: str = ""
    left_behind: str = ""
    taken_complete: str = ""
    rerun_identical: str = ""
    ok: bool = False
    log: list[tuple[str, str]] = field(default_factory=list)
    taken: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def env() -> dict[str, str]:
    e = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    e.pop("EDGEVISION_TEST_KILL_AT_STEP", None)
    return e


def run_cli(args: list[str], cwd: Path, extra_env: dict[str, str] | None = None, hooked: bool = False,
            kill_after: float | None = None, kill_on_temp: Path | None = None, timeout: float = 600):
    cmd = [PY, "-c", HOOK, *args] if hooked else [PY, "-m", "edgevision", *args]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env={**env(), **(extra_env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    if kill_after is not None or kill_on_temp is not None:
        deadline = t0 + (kill_after if kill_after is not None else timeout)
        while proc.poll() is None and time.perf_counter() < deadline:
            if kill_on_temp is not None and temps(kill_on_temp):
                break
            time.sleep(0.001)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, time.perf_counter() - t0, out.decode(errors="replace"), err.decode(errors="replace")


def read_log(path: Path) -> list[tuple[str, str]]:
    if not path.is_file():
        return []
    return [tuple(line.split("\t", 1)) for line in path.read_text().splitlines() if "\t" in line]  # type: ignore[misc]


class Matrix:
    def __init__(self, work: Path, quick: bool, only: list[str] | None):
        self.work, self.quick = work, quick
        self.only = only
        self.cells: list[Cell] = []
        self.ref_wall: dict[str, float] = {}
        self.ref_log: dict[str, list[tuple[str, str]]] = {}

    # -- inputs -----------------------------------------------------------------------------------------------
    def prepare(self) -> None:
        import numpy as np

        from edgevision.events.core import make_events
        from edgevision.events.formats import write_events

        inp = self.work / "inputs"
        inp.mkdir(parents=True, exist_ok=True)
        self.data = make_dataset(inp / "data")
        self.config = inp / "tiny.yaml"
        tiny = {**TINY, "train": {**TINY["train"], "epochs": 2 if self.quick else 3}}
        self.config.write_text(json.dumps(tiny))  # JSON is YAML
        rng = np.random.default_rng(0)
        n = 300_000 if self.quick else 2_500_000  # > one 2^20-event chunk for the chunked writers
        t = np.sort(rng.integers(0, 20_000_000, n))
        self.events = write_events(inp / "events.npy", make_events(t, rng.integers(0, 640, n), rng.integers(0, 480, n),
                                                                   rng.integers(0, 2, n)), (640, 480))
        self.ir = ROOT / "models" / "eye_small_int8"
        self._checkpoint: Path | None = None

    @property
    def checkpoint(self) -> Path:
        """A checkpoint of the tiny config for quantize: the train eye reference run's, else one trained here."""
        ref = self.work / "train_eye" / "ref" / "run" / "best.safetensors"
        if ref.is_file():
            return ref
        if self._checkpoint is None:
            run = self.work / "inputs" / "run"
            code, _, _, err = run_cli(["train", "eye", "--config", str(self.config), "--data", str(self.data), "--out",
                                       str(run), "--epochs", "1"], self.work)
            if code != 0:
                raise SystemExit(f"kill_matrix: training the checkpoint for quantize failed:\n{err}")
            self._checkpoint = run / "best.safetensors"
        return self._checkpoint

    def commands(self) -> list[Command]:
        from edgevision.datasets.threeet import ThreeETPlus

        cfg, data = str(self.config), str(self.data)

        def train_accepted(out: Path, cell: Cell) -> dict[str, list[str] | None]:
            from edgevision.nn.checkpoint import load_eye_tracker

            taken = {}
            for name in ("last", "best"):
                if (out / f"{name}.safetensors").is_file() and (out / f"{name}.json").is_file():
                    try:
                        load_eye_tracker(out / f"{name}.safetensors", "cpu")
                    except Exception:  # noqa: BLE001 - refused: not taken as complete
                        continue
                    taken[f"{name}.safetensors (load_eye_tracker)"] = []  # an earlier epoch's: checked by train_after
            return taken

        def train_after(out: Path, cell: Cell) -> list[str]:
            """Every file a training run rewrites must load; a checkpoint pair must be from one epoch."""
            import torch
            from safetensors.torch import load_file

            bad = []
            for rel, p in tree(out).items():
                try:
                    if rel.endswith(".safetensors"):
                        load_file(str(p))
                    elif rel.endswith(".json"):
                        json.loads(p.read_text())
                    elif rel == "state.pt":
                        torch.load(p, map_location="cpu", weights_only=False)
                    elif rel == "log.csv":
                        list(csv.DictReader(p.open()))
                except Exception as exc:  # noqa: BLE001
                    bad.append(f"{rel} does not load ({type(exc).__name__})")
            # from the write log: the last completed write of NAME.safetensors must be followed by NAME.json
            done = [os.path.basename(t) for what, t in cell.log if what == "done"]
            for name in ("last", "best"):
                w = [i for i, b in enumerate(done) if b == f"{name}.safetensors"]
                j = [i for i, b in enumerate(done) if b == f"{name}.json"]
                if w and (not j or j[-1] < w[-1]) and any(k.startswith(f"{name}.safetensors") for k in cell.taken):
                    bad.append(f"{name}.safetensors is epoch {len(w)} but {name}.json is epoch {len(j)}: a torn pair loads")
            return bad

        def synth_accepted(out: Path, cell: Cell) -> dict[str, list[str] | None]:
            from edgevision.datasets.writer import verify_manifest  # what `data verify` runs

            taken: dict[str, list[str] | None] = {}
            try:
                verify_manifest(out)
                taken["data verify"] = None
            except Exception:  # noqa: BLE001
                cell.notes.append("data verify refuses")
            for split in ("train", "val", "test"):  # the loader needs the split list and its recordings only
                try:
                    ds = ThreeETPlus(out, split)
                except Exception:  # noqa: BLE001
                    continue
                files = [str(p.relative_to(out)) for n in ds.names for p in (out / split / n).iterdir() if not is_temp(p)]
                taken[f"ThreeETPlus {split}"] = [f"{split}_files.txt", *files]
            if not any(k.startswith("ThreeETPlus") for k in taken):
                cell.notes.append("ThreeETPlus refuses (no split list)")
            return taken

        def convert_accepted(out: Path, cell: Cell) -> dict[str, list[str] | None]:
            from edgevision.events.formats import read_events

            if not out.is_file():
                return {}
            try:
                read_events(out)
            except Exception:  # noqa: BLE001
                return {}
            return {"read_events": None}

        def quant_accepted(out: Path, cell: Cell) -> dict[str, list[str] | None]:
            from edgevision.ir.head import load_head_arrays
            from edgevision.ir.schema import load_ir

            taken: dict[str, list[str] | None] = {}
            try:
                load_ir(out)  # what export hls / csim / estimate read
                taken["load_ir"] = ["network.json", "tensors.npz"]
                load_head_arrays(out)  # and `track --model`
                taken["load_head_arrays"] = ["head.npz"]
            except Exception:  # noqa: BLE001
                pass
            return taken

        def hls_accepted(out: Path, cell: Cell) -> dict[str, list[str] | None]:
            return {"design.json present": None} if (out / "design.json").is_file() else {}

        q = self.quick
        cmds = [
            Command("train eye", lambda o: ["train", "eye", "--config", cfg, "--data", data, "--out", str(o)],
                    lambda c: c / "run",
                    ["step:3", "write:last.safetensors#2:end", "write:last.json#2:end", "write:state.pt#2:begin",
                     "write:state.pt#2:end", "t=0.6"],
                    "write:state.pt#2:end", train_accepted,
                    rewritten={"last.safetensors", "last.json", "best.safetensors", "best.json", "log.csv", "state.pt"},
                    resume=["--resume"], after_kill=train_after),
            Command("data synth-eye", lambda o: ["data", "synth-eye", "--out", str(o), "--recordings", "3", "--seconds",
                                                 "0.2", "--seed", "3"],
                    lambda c: c / "synth",
                    ["write:label.txt#2:end", "write:train_files.txt#1:end", "write:manifest.json#1:begin",
                     "write:manifest.json#1:end", "first-temp", "t=0.7"],
                    "write:manifest.json#1:end", synth_accepted),
        ]
        formats = ["npy", "npz", "h5", "h5-3etplus", "h5-tonic", "csv", "evt2", "evt3", "dat", "aedat4"]
        ext = {"npy": "npy", "npz": "npz", "h5": "h5", "h5-3etplus": "h5", "h5-tonic": "h5", "csv": "csv",
               "evt2": "raw", "evt3": "raw", "dat": "dat", "aedat4": "aedat4"}
        for fmt in (["evt3"] if q else formats):
            cmds.append(Command(f"events convert {fmt}",
                                lambda o, fmt=fmt: ["events", "convert", str(self.events), str(o), "--out-format", fmt],
                                lambda c, fmt=fmt: c / "out" / f"o.{ext[fmt]}",
                                [f"write:o.{ext[fmt]}#1:end", "first-temp"], f"write:o.{ext[fmt]}#1:end",
                                convert_accepted))
        cmds += [
            Command("quantize", lambda o: ["quantize", "--checkpoint", str(self.checkpoint), "--data", data, "--out", str(o),
                                           "--calibrate", "16"],
                    lambda c: c / "q",
                    ["write:network.json#1:end", "write:head.npz#1:end", "write:quant_report.json#1:end", "t=0.8"],
                    "write:quant_report.json#1:end", quant_accepted),
            Command("export hls", lambda o: ["export", "hls", "--model", str(self.ir), "--board", "zcu102", "--out", str(o)],
                    lambda c: c / "proj",
                    ["write:config.h#1:end", "write:expected.u64#1:end", "write:design.json#1:begin",
                     "write:design.json#1:end", "t=0.8"],
                    "write:design.json#1:end", hls_accepted),
        ]
        if self.only:
            cmds = [c for c in cmds if any(o in c.name for o in self.only)]
        return cmds

    # -- one command ------------------------------------------------------------------------------------------
    def reference(self, cmd: Command) -> Path:
        cdir = self.work / cmd.name.replace(" ", "_")
        cell = cdir / "cell"
        out = cmd.out(cell)
        if cdir.exists():
            shutil.rmtree(cdir)
        cell.mkdir(parents=True)
        logf = cdir / "ref.log"
        code, wall, _, err = run_cli(cmd.argv(out), self.work, {"KM_LOG": str(logf)}, hooked=True)
        if code != 0:
            raise SystemExit(f"kill_matrix: reference run of {cmd.name} failed ({code}):\n{err[-2000:]}")
        self.ref_wall[cmd.name] = wall
        self.ref_log[cmd.name] = read_log(logf)
        ref = cdir / "ref"
        cell.rename(ref)
        return ref

    def run_cell(self, cmd: Command, kill: str, ref_root: Path) -> Cell:
        c = Cell(cmd.name, kill)
        cdir = self.work / cmd.name.replace(" ", "_")
        cell_dir = cdir / "cell"
        if cell_dir.exists():
            shutil.rmtree(cell_dir)
        cell_dir.mkdir(parents=True)
        out = cmd.out(cell_dir)
        ref_out = cmd.out(ref_root)
        logf = cdir / "kill.log"
        logf.unlink(missing_ok=True)
        extra, hooked, after, on_temp = {"KM_LOG": str(logf)}, True, None, None
        if kill.startswith("write:"):
            extra["KM_KILL"] = kill[len("write:"):]
        elif kill.startswith("step:"):
            extra["EDGEVISION_TEST_KILL_AT_STEP"] = kill[len("step:"):]
        elif kill.startswith("t="):
            hooked, after = False, float(kill[2:]) * self.ref_wall[cmd.name]
        elif kill == "first-temp":
            hooked, on_temp = False, out if out.suffix == "" else out.parent
            on_temp.mkdir(parents=True, exist_ok=True)
        code, wall, _, err = run_cli(cmd.argv(out), self.work, extra, hooked=hooked, kill_after=after, kill_on_temp=on_temp)
        tries = 1
        while after is not None and code != -signal.SIGKILL and tries < 4:  # finished first (the reference ran
            after *= 0.6  # slower): start again and kill earlier
            shutil.rmtree(cell_dir)
            cell_dir.mkdir(parents=True)
            code, wall, _, err = run_cli(cmd.argv(out), self.work, extra, hooked=hooked, kill_after=after)
            tries += 1
        c.log = read_log(logf)
        killed = code == -signal.SIGKILL
        last = c.log[-1] if c.log else None
        where = f"{last[0]} {os.path.relpath(last[1], out if out.is_dir() else out.parent)}" if last else ""
        c.killed_at = (f"{wall:.1f}s" + (f", after: {where}" if where else "")) if killed else f"not killed (exit {code})"
        left = tree(out)
        tmp = temps(out if out.suffix == "" else out.parent)
        c.left_behind = f"{len(left)} files" + (f" + {len(tmp)} temp ({', '.join(Path(t).name for t in tmp[:2])})" if tmp else "")
        # (a) what the consumer takes as complete must be complete
        taken = cmd.accepted(out, c)
        c.taken = taken
        ref_files = tree(ref_out)
        torn = differing(ref_files, left, [r for r in left if r not in cmd.rewritten and not r.startswith("cache/")])
        torn = [t for t in torn if not t.endswith("(missing)")]
        problems = [f"{t} differs from the uninterrupted run" for t in torn]
        if cmd.after_kill is not None:
            problems += cmd.after_kill(out, c)
        for label, needs in taken.items():  # what the consumer accepts must be all there and equal
            bad = differing(ref_files, left, needs if needs is not None else sorted(ref_files))
            if bad:
                problems.append(f"{label} accepts it but {', '.join(bad[:3])}")
        if problems:
            c.taken_complete = "YES: " + "; ".join(problems)
        elif taken:
            why = c.notes + ["accepted only where complete: " + ", ".join(taken)]
            c.taken_complete = f"no ({'; '.join(why)})"
        else:
            why = c.notes or ["refused" if left else "absent"]
            c.taken_complete = f"no ({'; '.join(why)})"
        # (b) the rerun gives the uninterrupted result
        code2, _, _, err2 = run_cli(cmd.argv(out) + cmd.resume, self.work)
        if code2 != 0:
            c.rerun_identical = f"NO: rerun exit {code2}: {err2.strip().splitlines()[-1] if err2.strip() else ''}"
        else:
            diff = differing(ref_files, tree(out))
            c.rerun_identical = "yes" if not diff else "NO: " + ", ".join(diff[:4])
        c.ok = killed and not problems and c.rerun_identical == "yes"
        return c

    def run(self) -> list[Cell]:
        self.prepare()
        for cmd in self.commands():
            ref = self.reference(cmd)
            for kill in [cmd.quick] if self.quick else cmd.kills:
                cell = self.run_cell(cmd, kill, ref)
                self.cells.append(cell)
                print(f"  {cell.command:22s} {cell.kill:32s} {'ok' if cell.ok else 'FAIL'}", file=sys.stderr, flush=True)
        return self.cells


def table(cells: list[Cell]) -> str:
    head = ["command", "kill point", "killed at", "left behind", "taken as complete? (must be no)",
            "rerun identical? (must be yes)", "cell"]
    rows = [[c.command, c.kill, c.killed_at, c.left_behind, c.taken_complete, c.rerun_identical, "ok" if c.ok else "FAIL"]
            for c in cells]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(str(v).replace("|", "/") for v in r) + " |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one kill point per command, small inputs (CI)")
    ap.add_argument("--json", action="store_true", help="print the cells as JSON instead of a table")
    ap.add_argument("--work", help="work folder (default: a temporary folder, removed afterwards)")
    ap.add_argument("--only", nargs="*", help="only commands whose name contains one of these")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="edgevision_kill_matrix_"))
    t0 = time.perf_counter()
    try:
        cells = Matrix(work, args.quick, args.only).run()
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps({"cells": [{k: getattr(c, k) for k in ("command", "kill", "killed_at", "left_behind",
                                                                 "taken_complete", "rerun_identical", "ok")}
                                    for c in cells],
                          "volatile": {k: v[0] for k, v in VOLATILE.items()},
                          "ok": all(c.ok for c in cells), "seconds": round(time.perf_counter() - t0, 1)}, indent=1))
    else:
        print(table(cells))
        print()
        print("volatile fields ignored when comparing: " + "; ".join(f"{k}: {v[0]}" for k, v in VOLATILE.items()))
        print(f"{sum(c.ok for c in cells)}/{len(cells)} cells pass ({time.perf_counter() - t0:.0f} s)")
    return 0 if cells and all(c.ok for c in cells) else 1


if __name__ == "__main__":
    sys.exit(main())
