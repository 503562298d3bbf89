"""The ``edgevision`` command: parses arguments and calls stage functions; no logic lives here.

Each command group lives in its own module with a ``register(cli)`` function. Every command returns a
dict of results; with ``--json`` it is printed as one JSON object, otherwise as readable lines.
Errors derived from :class:`edgevision.errors.EdgevisionError` print one line and exit with code 2.
"""

from __future__ import annotations

import argparse
import importlib
import json
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
