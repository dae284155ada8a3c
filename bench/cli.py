"""The `liftbench` command line.

Each sub-command lives in its own module under `bench/commands/` and exposes
`add_parser(subparsers) -> argparse.ArgumentParser`, whose parser carries a `func(args) -> int`
default. Commands are discovered in a fixed order so `--help` lists them stably.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from bench import __version__


def _command_modules() -> list[str]:
    import bench.commands as pkg

    return sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_"))


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every discovered sub-command."""
    parser = argparse.ArgumentParser(
        prog="liftbench",
        description=(
            "liftbench: benchmark 2D-to-3D human pose lifters in sports. "
            "Run `liftbench COMMAND --help` for each command's options."
        ),
    )
    parser.add_argument("--version", action="version", version=f"liftbench {__version__}")
    parser.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE first (e.g. to register your own lifter); may be repeated",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _command_modules():
        module = importlib.import_module(f"bench.commands.{name}")
        module.add_parser(sub)
    return parser


def _pre_import(argv: Sequence[str]) -> None:
    """Import `--import MODULE` targets before the parser is built (they may add lifters)."""
    argv = list(argv)
    for i, arg in enumerate(argv):
        target = None
        if arg == "--import" and i + 1 < len(argv):
            target = argv[i + 1]
        elif arg.startswith("--import="):
            target = arg.split("=", 1)[1]
        if target:
            try:
                importlib.import_module(target)
            except ImportError as exc:
                raise SystemExit(f"liftbench: --import {target!r} failed: {exc}") from exc


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `liftbench` console script; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    _pre_import(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2 if args.command is None else 0
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, KeyError) as exc:
        # User errors end with one clear line, not a traceback (LIFTBENCH_DEBUG=1 shows it).
        import os

        if os.environ.get("LIFTBENCH_DEBUG"):
            raise
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"liftbench {args.command}: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
