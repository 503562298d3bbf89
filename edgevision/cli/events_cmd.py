"""``edgevision events info|convert`` and ``edgevision bench events``."""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
import warnings
from typing import Any

from edgevision.errors import ConfigError


def _sensor(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*[xX,]\s*(\d+)\s*", value)
    if not m or int(m.group(1)) < 1 or int(m.group(2)) < 1:
        raise ConfigError(f"--sensor {value!r}: expected WIDTHxHEIGHT, e.g. 640x480")
    return int(m.group(1)), int(m.group(2))


@contextlib.contextmanager
def _file_warnings():
    """Print readers' TruncatedEventFileWarning as one ``edgevision: warning:`` line each on stderr."""
    from edgevision.errors import TruncatedEventFileWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", TruncatedEventFileWarning)
        try:
            yield
        finally:
            for w in caught:
                if issubclass(w.category, TruncatedEventFileWarning):
                    print(f"edgevision: warning: {w.message}", file=sys.stderr)
                else:
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _write_output(path: str, text: str) -> None:
    """Write ``--output`` atomically; an unwritable path is a one-line ConfigError."""
    from edgevision.atomic import write_text_atomic

    try:
        write_text_atomic(path, text)
    except OSError as exc:
        raise ConfigError(f"--output {path}: cannot write ({exc.strerror or exc})") from None


def _info(args: argparse.Namespace) -> dict[str, Any]:
    from edgevision.events.info import event_file_info

    with _file_warnings():
        return event_file_info(args.path, format=args.format, sensor_size=_sensor(args.sensor), strict=args.strict)


def _convert(args: argparse.Namespace) -> dict[str, Any]:
    from edgevision.events.formats import detect_format, read_events, write_events, write_format

    out_format = write_format(args.output, args.out_format)
    in_format = detect_format(args.input, args.in_format)
    with _file_warnings():
        events, sensor = read_events(args.input, format=in_format, sensor_size=_sensor(args.sensor), strict=args.strict)
    write_events(args.output, events, sensor, format=out_format)
    return {
        "input": str(args.input),
        "output": str(args.output),
        "input_format": in_format,
        "output_format": out_format,
        "count": int(events.shape[0]),
        "width": sensor.width,
        "height": sensor.height,
    }


def _bench(args: argparse.Namespace) -> dict[str, Any]:
    import json
    import os

    from edgevision.bench.events import BENCH_FORMATS, run_events_benchmark

    if args.events < 1 or args.repeats < 1 or args.window_us < 1:
        raise ConfigError("--events, --repeats and --window-us must be >= 1")
    formats = [f.strip() for f in args.formats.split(",") if f.strip()] if args.formats is not None else list(BENCH_FORMATS)
    unknown = [f for f in formats if f not in BENCH_FORMATS]
    if unknown or not formats:
        raise ConfigError(f"--formats: unknown {unknown or args.formats!r}; choose from {','.join(BENCH_FORMATS)}")
    if args.tmp_dir is not None and not os.path.isdir(args.tmp_dir):
        raise ConfigError(f"--tmp-dir {args.tmp_dir}: not a folder")
    if args.output:  # before the run: a minutes-long benchmark must not end in an unwritable path
        folder = os.path.dirname(os.path.abspath(args.output))
        if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
            raise ConfigError(f"--output {args.output}: cannot write (no writable folder {folder})")
    result = run_events_benchmark(
        n_events=args.events,
        sensor_size=_sensor(args.sensor),
        window_us=args.window_us,
        repeats=args.repeats,
        formats=formats,
        sources=args.source,
        tmp_dir=args.tmp_dir,
    )
    if args.output:
        _write_output(args.output, json.dumps(result, indent=2) + "\n")
    return result


def _fuzz(args: argparse.Namespace) -> dict[str, Any]:
    import json

    from edgevision.events.fuzz import FUZZ_FORMATS, fuzz_readers, outcome_table

    formats = args.formats.split(",") if args.formats else list(FUZZ_FORMATS)
    unknown = [f for f in formats if f not in FUZZ_FORMATS]
    if unknown:
        raise ConfigError(f"--formats: unknown {unknown}; choose from {','.join(FUZZ_FORMATS)}")
    if args.files < 1 or not args.timeout_s > 0:
        raise ConfigError("--files must be >= 1 and --timeout-s > 0")
    result = fuzz_readers(args.files, formats, args.seed, args.timeout_s, keep_dir=args.keep)
    result["table"] = outcome_table(result)
    if args.output:
        _write_output(args.output, json.dumps(result, indent=1) + "\n")
    return result


def register(cli) -> None:
    """Add ``events info``, ``events convert``, ``bench events`` and ``bench events-fuzz``."""
    p = cli.command("info", _info, "count, duration, rate, sensor size and polarity balance of an event file", group="events")
    p.add_argument("path", help="event file (.npy .npz .h5 .csv .txt .raw .dat .aedat4)")
    p.add_argument("--format", help="override the detected format (npy npz h5 csv evt dat aedat4)")
    p.add_argument("--sensor", help="sensor size WIDTHxHEIGHT for files that do not store it")
    p.add_argument("--strict", action="store_true", help="a truncated file is an error (default: a warning)")

    p = cli.command("convert", _convert, "convert an event file to another format (atomic write)", group="events")
    p.add_argument("input", help="input event file")
    p.add_argument("output", help="output file; the format follows its extension unless --out-format is given")
    p.add_argument("--sensor", help="sensor size WIDTHxHEIGHT (overrides the input's)")
    p.add_argument("--in-format", help="override the detected input format (npy npz h5 csv evt dat aedat4)")
    p.add_argument(
        "--out-format", help="output format: npy npz h5 h5-3etplus h5-tonic csv evt2 evt3 dat aedat4 (default: extension)"
    )
    p.add_argument("--strict", action="store_true", help="a truncated input is an error (default: a warning)")

    p = cli.command("events", _bench, "per file format: events/s of read + 10 ms windows + the eye tracker's tokens "
                    "(cold reads) vs tonic doing the same job", group="bench")
    p.add_argument("--events", type=int, default=4_000_000, help="stream length (default 4 M; --source: at most)")
    p.add_argument("--sensor", help="sensor size WIDTHxHEIGHT (default 640x480, or the --source files' own)")
    p.add_argument(
        "--source", nargs="+", help="event files played back to back instead of the synthetic stream (e.g. eye-v2/train/*/*.h5)"
    )
    p.add_argument("--window-us", type=int, default=10_000, help="window length in microseconds (default 10 ms)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per format and library; medians are reported (default 3)")
    p.add_argument("--formats", help="comma-separated subset of h5-3etplus,h5-3etplus-gzip,npy,evt2,evt3,aedat4,dat (default all)")
    p.add_argument("--tmp-dir", help="folder for the written files (default the system's; a tmpfs cannot be read cold)")
    p.add_argument("--output", help="also write the JSON result to this file")

    p = cli.command("events-fuzz", _fuzz, "read mutated event files in an isolated worker; count ok / typed error / "
                    "untyped exception / hang / memory / crash per format", group="bench")
    p.add_argument("--files", type=int, default=10_000, help="mutated files per format (default 10000)")
    p.add_argument("--formats", help="comma-separated subset of npy,npz,h5,csv,evt2,evt3,dat,aedat4 (default all)")
    p.add_argument("--seed", type=int, default=0, help="mutation seed (default 0)")
    p.add_argument("--timeout-s", type=float, default=10.0, help="a read taking longer is a hang (default 10 s)")
    p.add_argument("--keep", help="copy inputs with an untyped/hang/memory/crash outcome into this folder")
    p.add_argument("--output", help="also write the JSON result to this file")
