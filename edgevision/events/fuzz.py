"""Fuzzing the event-file readers: mutated files, each read in an isolated worker, outcomes counted.

For every format a valid file (300 random events) is written, then ``files`` mutations of it are read with
:func:`read_events` and :func:`iter_events` (chunks of 64 events) in a worker process with a 4 GiB
address-space limit. Mutations: bit flips (1-8 bits), inserted random bytes, a deleted range,
truncation, header edits (a byte of the first 64 changed to a digit, a letter or a separator).

Outcomes: ``ok`` (events read; checked to be EVENT_DTYPE and time-sorted), ``typed`` (an
:class:`~edgevision.errors.EdgevisionError`), ``untyped`` (any other exception: a bug), ``hang`` (no answer in
``timeout_s``; the worker is killed and restarted), ``memory`` (MemoryError, or more than the memory limit),
``crash`` (the worker died, e.g. a Rust abort). Inputs with an untyped, hang, memory or crash outcome are
kept in ``keep_dir`` to reproduce.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import resource
import shutil
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from edgevision.errors import EdgevisionError
from edgevision.events.core import EVENT_DTYPE, make_events
from edgevision.events.formats import iter_events, read_events, write_events

FUZZ_FORMATS = ("npy", "npz", "h5", "csv", "evt2", "evt3", "dat", "aedat4")
_EXT = {"npy": ".npy", "npz": ".npz", "h5": ".h5", "csv": ".csv", "evt2": ".raw", "evt3": ".raw", "dat": ".dat",
        "aedat4": ".aedat4"}  # fmt: skip
OUTCOMES = ("ok", "typed", "untyped", "hang", "memory", "crash")
MUTATIONS = ("flip", "insert", "delete", "truncate", "header")
MEMORY_LIMIT = 4 << 30


def mutate(data: bytes, rng: np.random.Generator, kind: str) -> bytes:
    """One mutation of ``data`` (see the module docstring)."""
    buf = bytearray(data)
    n = len(buf)
    if kind == "flip" and n:
        for pos in rng.integers(0, n, int(rng.integers(1, 9))):
            buf[pos] ^= 1 << int(rng.integers(0, 8))
    elif kind == "insert":
        pos = int(rng.integers(0, n + 1))
        buf[pos:pos] = rng.integers(0, 256, int(rng.integers(1, 65)), dtype=np.uint8).tobytes()
    elif kind == "delete" and n:
        pos = int(rng.integers(0, n))
        del buf[pos : pos + int(rng.integers(1, 65))]
    elif kind == "truncate":
        buf = buf[: int(rng.integers(0, n + 1))]
    elif kind == "header" and n:
        pos = int(rng.integers(0, min(n, 64)))
        buf[pos] = int(rng.choice(np.frombuffer(b"0123456789x%,; \n\x00\xff-", np.uint8)))
    return bytes(buf)


def _worker(conn, memory_limit: int) -> None:  # pragma: no cover - runs in the child process
    resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    import h5py  # noqa: F401  the decoders load before the first timed read, not inside its timeout
    from faery.extension import aedat  # noqa: F401

    try:
        import expelliarmus  # noqa: F401  whole EVT 2.0 / DAT reads (optional)
    except ImportError:
        pass
    warnings.simplefilter("ignore")
    conn.send("ready")
    while True:
        path = conn.recv()
        if path is None:
            return
        try:
            events, _ = read_events(path)
            chunks = list(iter_events(path, chunk_events=64))
            ok = events.dtype == EVENT_DTYPE and bool((np.diff(events["t"]) >= 0).all())
            if chunks:
                ok = ok and np.array_equal(np.concatenate(chunks), events)
            conn.send(("ok", "") if ok else ("untyped", "read back unsorted or chunks differ from the whole read"))
        except MemoryError as exc:
            conn.send(("memory", str(exc)[:200]))
        except EdgevisionError as exc:
            conn.send(("memory" if "out of memory" in str(exc) else "typed", str(exc)[:200]))
        except Exception as exc:  # noqa: BLE001 - the point is to count them
            conn.send(("untyped", f"{type(exc).__name__}: {str(exc)[:200]}"))


class _Worker:
    def __init__(self, memory_limit: int) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child, memory_limit), daemon=True)
        self.proc.start()
        child.close()
        if not self.conn.poll(120) or self.conn.recv() != "ready":
            self.kill()
            raise RuntimeError("fuzz worker did not start")

    def read(self, path: str, timeout_s: float) -> tuple[str, str]:
        self.conn.send(path)
        if self.conn.poll(timeout_s):
            try:
                return self.conn.recv()
            except EOFError:
                pass
        alive = self.proc.is_alive()
        self.kill()
        if alive:
            return "hang", f"no answer in {timeout_s:g} s"
        code = self.proc.exitcode
        return ("memory" if code == -9 else "crash"), f"worker exit code {code}"

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)

    def close(self) -> None:
        if self.proc.is_alive():
            self.conn.send(None)
            self.proc.join(5)
        self.kill()


def fuzz_readers(
    files: int = 10_000,
    formats: tuple[str, ...] | list[str] = FUZZ_FORMATS,
    seed: int = 0,
    timeout_s: float = 10.0,
    memory_limit: int = MEMORY_LIMIT,
    keep_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Read ``files`` mutated files per format; returns the outcome counts per format (and per mutation)."""
    rng = np.random.default_rng(seed)
    n = 300
    t = np.sort(rng.integers(1_000, 201_000, n))
    valid = make_events(t, rng.integers(0, 64, n), rng.integers(0, 48, n), rng.integers(0, 2, n))
    keep = Path(keep_dir) if keep_dir else None
    result: dict[str, Any] = {"files_per_format": files, "seed": seed, "timeout_s": timeout_s,
                              "memory_limit_bytes": memory_limit, "formats": {}, "examples": {}}  # fmt: skip
    tmp = Path(tempfile.mkdtemp(prefix="edgevision-fuzz-"))
    worker = _Worker(memory_limit)
    start = time.perf_counter()
    try:
        for fmt in formats:
            original = write_events(tmp / f"valid{_EXT[fmt]}", valid, (64, 48), format=fmt).read_bytes()
            counts = {o: 0 for o in OUTCOMES}
            by_kind = {k: {o: 0 for o in OUTCOMES} for k in MUTATIONS}
            path = tmp / f"m{_EXT[fmt]}"
            for i in tqdm(range(files), desc=f"fuzz {fmt}", leave=False, disable=not progress):
                kind = MUTATIONS[i % len(MUTATIONS)]
                data = mutate(original, rng, kind)
                path.write_bytes(data)
                outcome, detail = worker.read(str(path), timeout_s)
                if outcome in ("hang", "memory", "crash"):
                    worker = _Worker(memory_limit)
                counts[outcome] += 1
                by_kind[kind][outcome] += 1
                if outcome not in ("ok", "typed"):
                    result["examples"].setdefault(fmt, []).append({"mutation": kind, "outcome": outcome, "detail": detail})
                    if keep is not None:
                        keep.mkdir(parents=True, exist_ok=True)
                        shutil.copyfile(path, keep / f"{fmt}-{i:06d}-{outcome}{_EXT[fmt]}")
            result["formats"][fmt] = {**counts, "by_mutation": by_kind}
    finally:
        worker.close()
        shutil.rmtree(tmp, ignore_errors=True)
    result["seconds"] = time.perf_counter() - start
    result["bad"] = sum(result["formats"][f][o] for f in result["formats"] for o in ("untyped", "hang", "memory", "crash"))
    return result


def outcome_table(result: dict[str, Any]) -> str:
    """The counts as a Markdown table (one row per format)."""
    lines = ["| format | " + " | ".join(OUTCOMES) + " |", "|---" * (len(OUTCOMES) + 1) + "|"]
    for fmt, counts in result["formats"].items():
        lines.append(f"| {fmt} | " + " | ".join(str(counts[o]) for o in OUTCOMES) + " |")
    return "\n".join(lines)
