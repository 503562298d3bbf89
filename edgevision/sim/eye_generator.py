"""Generate a whole synthetic 3ET+ dataset: subjects split train/val/test, recordings written in the release layout.

Generator version :data:`GENERATOR_VERSION` ("eye-v3": domain-randomized subjects, cameras, illumination, sensors
and motion, see :mod:`edgevision.sim.eye_domain`); the version, the domain string and the factor table are
recorded in manifest.json.
"""

from __future__ import annotations

import math
import multiprocessing
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from edgevision.datasets import layouts, writer
from edgevision.errors import ConfigError
from edgevision.sim.eye_dataset import LABEL_CONVENTION, simulate_recording
from edgevision.sim.eye_domain import factor_table, parse_domain

GENERATOR_VERSION = "eye-v3"
TONIC_SUBDIR = "tonic"  # tonic.datasets.ThreeET_Eyetracking(save_to=<out>/tonic) loads the tonic layout


def split_subjects(n_subjects: int) -> dict[str, list[int]]:
    """Subjects per split (about 2/3 train, 1/6 val, 1/6 test); no subject is in two splits."""
    if n_subjects < 3:
        return {"train": list(range(n_subjects)), "val": [], "test": []}
    n_test = max(1, round(n_subjects / 6))
    n_val = max(1, round(n_subjects / 6))
    n_train = n_subjects - n_val - n_test
    ids = list(range(n_subjects))
    return {"train": ids[:n_train], "val": ids[n_train : n_train + n_val], "test": ids[n_train + n_val :]}


def plan_recordings(recordings: int, per_subject: int) -> list[tuple[str, int, int]]:
    """(split, subject, session) for every recording; subjects are split before sessions are assigned."""
    if recordings < 1 or per_subject < 1:
        raise ConfigError(f"--recordings and recordings per subject must be >= 1, got {recordings}, {per_subject}")
    n_subjects = math.ceil(recordings / per_subject)
    split_of = {sid: split for split, ids in split_subjects(n_subjects).items() for sid in ids}
    plan = []
    for i in range(recordings):
        sid, session = i % n_subjects, i // n_subjects + 1
        plan.append((split_of[sid], sid + 1, session))
    return plan


def _init_worker() -> None:
    """One OpenCV thread per worker process: the processes are the parallelism (no oversubscription)."""
    cv2.setNumThreads(1)


def _job(args: tuple[str, str, int, int, float, int, bool, str | None, str]) -> dict[str, Any]:
    out, split, sid, session, seconds, seed, tonic, compression, domain = args
    rec = simulate_recording(sid, session, seconds, seed, domain=domain)
    files = writer.write_recording(out, split, rec.name, rec.events, rec.labels, compression=compression)
    if tonic and split in layouts.TONIC_SPLITS:
        tonic_files = writer.write_tonic_recording(
            Path(out) / TONIC_SUBDIR, rec.name, rec.events, rec.labels, compression=compression
        )
        files.update({f"{TONIC_SUBDIR}/{k}": v for k, v in tonic_files.items()})
    return {
        "name": rec.name,
        "split": split,
        "subject": sid,
        "events": int(rec.events.shape[0]),
        "frames": rec.frames,
        "on_fraction": float(rec.events["p"].mean()) if rec.events.shape[0] else 0.0,
        "closed_fraction": float(rec.labels[:, 2].mean()) if rec.labels.shape[0] else 0.0,
        "seconds": rec.labels.shape[0] * layouts.LABEL_PERIOD_US * 1e-6,
        "files": files,
    }


def generate_dataset(
    out: str | Path,
    recordings: int,
    seconds: float,
    seed: int,
    workers: int = 1,
    per_subject: int = 2,
    tonic_layout: bool = False,
    compression: str | None = "lzf",
    command: str = "",
    domain: str = "train",
) -> dict[str, Any]:
    """Write ``recordings`` recordings of ``seconds`` to ``out`` with ``workers`` processes, factors drawn from
    ``domain`` ("train", "full" or "heldout:<factor>"); manifest.json is written last. Byte-identical for a
    seed whatever ``workers``."""
    domain = str(parse_domain(domain))
    if workers < 1:
        raise ConfigError(f"--jobs must be >= 1, got {workers}")
    if seconds < 0.05:
        raise ConfigError(f"--seconds must be >= 0.05, got {seconds}")
    out = Path(out)
    manifest = out / layouts.MANIFEST_FILE
    if manifest.exists():
        manifest.unlink()  # the dataset is incomplete until we finish
    plan = plan_recordings(recordings, per_subject)
    jobs = [(str(out), split, sid, ses, seconds, seed, tonic_layout, compression, domain) for split, sid, ses in plan]
    start = time.perf_counter()
    results = []
    bar = tqdm(total=len(jobs), desc="synth-eye", unit="rec", file=sys.stderr)
    if workers > 1:
        with multiprocessing.get_context("spawn").Pool(min(workers, len(jobs)), _init_worker) as pool:
            for r in pool.imap_unordered(_job, jobs):
                results.append(r)
                bar.update()
    else:
        for job in jobs:
            results.append(_job(job))
            bar.update()
    bar.close()
    results.sort(key=lambda r: [int(v) for v in r["name"].split("_")])
    names = {s: [r["name"] for r in results if r["split"] == s] for s in layouts.SPLITS}
    files: dict[str, str] = {}
    for r in results:
        files.update(r.pop("files"))
    files.update(writer.write_split_lists(out, names))
    if tonic_layout:
        for rel, digest in writer.finish_tonic_layout(out / TONIC_SUBDIR, names).items():
            files[f"{TONIC_SUBDIR}/{rel}"] = digest
    total_events = sum(r["events"] for r in results)
    total_s = sum(r["seconds"] for r in results)
    summary = {
        "out": str(out),
        "generator": GENERATOR_VERSION,
        "domain": domain,
        "recordings": len(results),
        "subjects": len({r["subject"] for r in results}),
        "splits": {s: len(v) for s, v in names.items()},
        "events": total_events,
        "seconds": round(total_s, 6),
        "event_rate_hz": total_events / total_s if total_s else 0.0,
        "event_rate_per_recording_hz": {r["name"]: r["events"] / r["seconds"] for r in results},
        "on_fraction": float(np.mean([r["on_fraction"] for r in results])),
        "blink_fraction": float(np.mean([r["closed_fraction"] for r in results])),
        "frames": sum(r["frames"] for r in results),
        "wall_s": time.perf_counter() - start,
        "tonic_layout": str(out / TONIC_SUBDIR) if tonic_layout else None,
    }
    meta = {
        "generator": "edgevision data synth-eye",
        "generator_version": GENERATOR_VERSION,
        "domain": domain,
        "label_convention": LABEL_CONVENTION,
        "factors": factor_table(),
        "seed": seed,
        "command": command,
        "summary": summary,
        "recordings": results,
    }
    writer.write_manifest(out, files, meta)
    return summary
