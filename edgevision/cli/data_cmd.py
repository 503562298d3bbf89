"""``edgevision data ...`` (synthetic datasets) and ``edgevision bench sim``."""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Any


def _synth_eye(args: argparse.Namespace) -> dict[str, Any]:
    if args.renderer == "eyeball":
        return _synth_eye_family(args)
    from edgevision.sim.eye_generator import generate_dataset

    command = "edgevision " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else ""
    summary = generate_dataset(
        args.out,
        args.recordings,
        args.seconds,
        args.seed,
        workers=args.jobs,
        per_subject=args.per_subject,
        tonic_layout=args.tonic_layout,
        compression=None if args.compression == "none" else args.compression,
        command=command,
        domain=args.domain,
    )
    if args.preview:
        from edgevision.sim.preview import write_preview

        summary["preview"] = write_preview(args.out, seed=args.seed, domain=args.domain)
    return summary


def _synth_eye_family(args: argparse.Namespace) -> dict[str, Any]:
    """``--renderer eyeball``: the held-out family, all in the test split (no --domain, --per-subject, --tonic-layout)."""
    from edgevision.sim.eyeball import generate_family_dataset

    command = "edgevision " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else ""
    compression = None if args.compression == "none" else args.compression
    summary = generate_family_dataset(args.out, args.recordings, args.seconds, args.seed, jobs=args.jobs,
                                      compression=compression, command=command)
    if args.preview:
        from edgevision.sim.eyeball.preview import write_preview as write_family_preview

        summary["preview"] = write_family_preview(args.out, seed=args.seed)
    return summary


def _verify(args: argparse.Namespace) -> dict[str, Any]:
    from edgevision.datasets.writer import verify_manifest

    return {"root": args.root, "files_verified": verify_manifest(args.root)}


def _bench_sim(args: argparse.Namespace) -> dict[str, Any]:
    from edgevision.bench.sim import bench_sim

    return bench_sim(frames=args.frames, out=args.out)


def register(cli) -> None:
    """Add ``data synth-eye`` and ``bench sim``."""
    cli.group("data", help="synthetic datasets and dataset tools")
    p = cli.command("synth-eye", _synth_eye, "generate a synthetic near-eye event dataset in the 3ET+ layout", group="data")
    p.add_argument("--out", required=True, help="dataset root to write")
    p.add_argument("--recordings", type=int, default=24, help="number of recordings (default 24)")
    p.add_argument("--seconds", type=float, default=10.0, help="length of each recording in seconds (default 10)")
    p.add_argument("--seed", type=int, default=0, help="random seed; the output is deterministic for a seed")
    p.add_argument("--jobs", "--workers", dest="jobs", type=int, default=1,
                   help="parallel processes (default 1; --workers is a deprecated alias)")
    p.add_argument("--domain", default="train",
                   help="randomization domain: train (default), full or heldout:<factor> (edgevision/sim/eye_domain.py)")
    p.add_argument("--per-subject", type=int, default=2, help="recordings per synthetic subject (default 2)")
    p.add_argument("--tonic-layout", action="store_true", help="also write tonic's ThreeET layout under OUT/tonic")
    p.add_argument("--compression", default="lzf", choices=["lzf", "gzip", "none"],
                   help="HDF5 compression of events (lzf: fastest, but its bytes, not its events, can vary with the "
                   "process history, since liblzf leaves its hash table uninitialized; gzip for byte-reproducible files)")
    p.add_argument("--preview", action="store_true", help="write OUT/preview.png and preview.gif (frames + events)")
    p.add_argument("--renderer", choices=("procedural", "eyeball"), default="procedural",
                   help="procedural (default, training data) or eyeball (held-out 3-D eyeball family, test split)")
    v = cli.command("verify", _verify, "check every file of a generated dataset against its manifest.json", group="data")
    v.add_argument("root", help="dataset root")
    b = cli.command("sim", _bench_sim, "DVS emulator speed on 640x480 frames, one CPU thread", group="bench")
    b.add_argument("--frames", type=int, default=300, help="frames to time (default 300)")
    b.add_argument("--out", default=None, help="also write the results as JSON to this file")
