"""The ``edgevision`` command: parses arguments and calls stage functions; no logic lives here.

Each command group lives in its own module with a ``register(cli)`` function. Every command returns a
dict of results; with ``--json`` it is printed as one JSON object, otherwise as readable lines.
Errors derived from :class:`edgevision.errors.EdgevisionError` print one line and exit with code 2.
Top-level options: ``--version``; ``-v/--verbose`` and ``-q/--quiet`` set the level of the ``edgevision`` logger
(INFO; WARNING by default; ERROR), and ``-q`` also turns progress bars (tqdm) off, in child processes too.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import os
import sys
from typing import Any, Callable, NoReturn

from edgevision.errors import EdgevisionError

COMMAND_MODULES = (
    "events_cmd",
    "data_cmd",
    "eye_cmd",
    "quant_cmd",
    "fpga_cmd",
    "runtime_cmd",
    "engine_cmd",
    "classify_cmd",
    "rtl_cmd",
)

Handler = Callable[[argparse.Namespace], "dict[str, Any] | None"]


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr (exit 2), like every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"edgevision: error: {self.prog}: {message} (see `{self.prog} --help`)\n")


class CLI:
    """Registry that command modules add their subcommands to."""

    def __init__(self) -> None:
        self.parser = OneLineParser(prog="edgevision", description=__doc__.splitlines()[0])
        self.parser.add_argument("--version", action="version", version=f"edgevision {version()}")
        loud = self.parser.add_mutually_exclusive_group()
        loud.add_argument("-v", "--verbose", dest="verbosity", action="store_const", const=1, default=0,
                          help="log progress messages (INFO) of the edgevision logger")
        loud.add_argument("-q", "--quiet", dest="verbosity", action="store_const", const=-1,
                          help="only errors: no warnings (ERROR) and no progress bars")
        self.top = self.parser.add_subparsers(dest="command", metavar="COMMAND")
        self._groups: dict[str, argparse._SubParsersAction] = {}

    def command(self, name: str, handler: Handler, help: str, group: str | None = None) -> argparse.ArgumentParser:
        """Add ``edgevision [group] name`` calling ``handler(args)``; it gets a ``--json`` flag."""
        subs = self.top if group is None else self.group(group)
        p = subs.add_parser(name, help=help, description=help)
        p.add_argument("--json", action="store_true", help="print the results as one JSON object on stdout")
        p.set_defaults(handler=handler)
        return p

    def group(self, name: str, help: str | None = None) -> argparse._SubParsersAction:
        """The subcommand group ``edgevision NAME ...`` (created on first use)."""
        if name not in self._groups:
            gp = self.top.add_parser(name, help=help or f"{name} commands")
            self._groups[name] = gp.add_subparsers(dest=f"{name}_command", metavar="SUBCOMMAND", required=True)
        return self._groups[name]


def version() -> str:
    """The installed package's version (package metadata), else the source tree's ``edgevision.__version__``."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("edgevision")
    except PackageNotFoundError:
        from edgevision import __version__

        return __version__


LEVELS = {1: logging.INFO, 0: logging.WARNING, -1: logging.ERROR}


class _Formatter(logging.Formatter):
    """``edgevision: warning: message``, like the CLI's other messages."""

    def format(self, record: logging.LogRecord) -> str:
        return f"edgevision: {record.levelname.lower()}: {record.getMessage()}"


@contextlib.contextmanager
def verbosity(level: int):
    """For one command: the ``edgevision`` logger at LEVELS[level] printing to stderr; at -1 (``-q``) tqdm
    progress bars off in this process (every tqdm bar, whatever its ``disable=``) and, through TQDM_DISABLE, in
    child processes. Everything is put back afterwards (main() may run several times in one process)."""
    logger = logging.getLogger("edgevision")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    old_level, old_env, undo = logger.level, os.environ.get("TQDM_DISABLE"), None
    logger.setLevel(LEVELS[level])
    logger.addHandler(handler)
    if level < 0:
        from tqdm import std  # before TQDM_DISABLE is set: tqdm reads TQDM_* into its defaults once, at import

        os.environ["TQDM_DISABLE"] = "1"
        undo = std.tqdm.__dict__["__init__"]  # put back as it was (tqdm wraps it in a partialmethod)
        init = std.tqdm.__init__

        def quiet_init(self, *args, **kwargs):
            kwargs["disable"] = True
            init(self, *args, **kwargs)

        std.tqdm.__init__ = quiet_init
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        if undo is not None:
            from tqdm import std

            std.tqdm.__init__ = undo
            if old_env is None:
                os.environ.pop("TQDM_DISABLE", None)
            else:
                os.environ["TQDM_DISABLE"] = old_env


def build_parser() -> argparse.ArgumentParser:
    cli = CLI()
    for mod in COMMAND_MODULES:
        importlib.import_module(f"edgevision.cli.{mod}").register(cli)
    return cli.parser


def emit(result: dict[str, Any] | None, as_json: bool) -> None:
    """Print a command's result: one JSON object, or ``key: value`` lines."""
    if result is None:
        return
    if as_json:
        print(json.dumps(result, default=_default))
        return
    for key, value in result.items():
        if isinstance(value, float):
            value = f"{value:.4g}"
        elif isinstance(value, (dict, list)):
            value = json.dumps(value, default=_default)
        print(f"{key}: {value}")


def _default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return 2
    try:
        with verbosity(args.verbosity):
            emit(args.handler(args), args.json)
    except EdgevisionError as exc:
        print(f"edgevision: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("edgevision: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
