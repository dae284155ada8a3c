"""The `liftbench` command line.

Each sub-command lives in its own module under `bench/commands/` and exposes
`add_parser(subparsers) -> argparse.ArgumentParser`, whose parser carries a `func(args) -> int`
default. Commands are discovered in a fixed order so `--help` lists them stably. A command line
that names a command by its module builds that command's parser only, so `liftbench models`
never imports what `fit` needs (Lightning). `liftbench --help` builds every command's parser, so
a command module imports nothing heavy at import time or in `add_parser`; options that need a
heavy import (choices or defaults read from torch-importing modules) are added by a `build`
function (`subparsers.add_parser(name, help=..., build=fn)`, see `CommandParser`), which runs
only when that command's line is parsed or its own help printed.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path, PurePath
from typing import Any

from liftbench.bench import __version__
from liftbench.bench.config import CONFIG_DIR_ENV, user_config_dirs


def _command_modules() -> list[str]:
    import liftbench.bench.commands as pkg

    return sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_"))


class CommandParser(argparse.ArgumentParser):
    """The parser of a command (and of its nested actions): its options may be added late.

    `build(parser)`, given to `subparsers.add_parser(name, ..., build=build)`, adds the options
    the first time this parser parses a command line or formats its usage or help; the listing
    of `liftbench --help` (name and help line only) never runs it. Nested sub-parsers made with
    `parser.add_subparsers()` are of this class too.
    """

    def __init__(self, *args: Any,
                 build: Callable[[argparse.ArgumentParser], None] | None = None,
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        self._build = build

    def _built(self) -> None:
        build, self._build = self._build, None
        if build is not None:
            build(self)

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:  # noqa: D102
        self._built()
        return super().parse_known_args(args, namespace)

    def parse_known_intermixed_args(self, args: Any = None,  # noqa: D102
                                    namespace: Any = None) -> Any:  # fmt: skip
        self._built()
        return super().parse_known_intermixed_args(args, namespace)

    def format_usage(self) -> str:  # noqa: D102
        self._built()
        return super().format_usage()

    def format_help(self) -> str:  # noqa: D102
        self._built()
        return super().format_help()


def build_parser(commands: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """Build the top-level parser with every discovered sub-command (or only `commands`)."""
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
    parser.add_argument(
        "--config-dir",
        dest="config_dirs",
        action="append",
        default=[],
        metavar="DIR",
        help=f"a folder of your own configs (data/, regime/, ... as in the packaged ones), "
        f"searched before the packaged configs; may be repeated (also: ${CONFIG_DIR_ENV}, "
        f"folders separated by {os.pathsep!r})",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=CommandParser)
    for name in _command_modules() if commands is None else commands:
        module = importlib.import_module(f"liftbench.bench.commands.{name}")
        module.add_parser(sub)
    return parser


def _option_values(argv: Sequence[str], option: str) -> list[str]:
    """The values of a top-level `--option VALUE` / `--option=VALUE`, in order."""
    values = []
    for i, arg in enumerate(argv):
        if arg == option and i + 1 < len(argv):
            values.append(argv[i + 1])
        elif arg.startswith(option + "="):
            values.append(arg.split("=", 1)[1])
    return values


def _command_in(argv: Sequence[str]) -> str | None:
    """The sub-command named on the command line (None for `--help`, `--version` or none)."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("--import", "--config-dir"):
            i += 2
        elif arg.startswith("-"):
            if arg in ("-h", "--help"):
                return None
            i += 1
        else:
            return arg
    return None


def _config_dirs_env(argv: Sequence[str]) -> str | None:
    """`LIFTBENCH_CONFIG_DIR` with the `--config-dir` folders first (None: no `--config-dir`).

    The variable (not a module global) carries them, so processes a command starts (DDP workers,
    sweep trials) search the same folders.
    """
    dirs = []
    for value in _option_values(argv, "--config-dir"):
        path = Path(value).expanduser()
        if not path.is_dir():
            raise SystemExit(f"liftbench: --config-dir {value!r}: no such folder")
        dirs.append(str(path.resolve()))
    if not dirs:
        return None
    previous = os.environ.get(CONFIG_DIR_ENV, "")
    return os.pathsep.join([*dirs, *([previous] if previous else [])])


def _pre_import(argv: Sequence[str]) -> None:
    """Import `--import MODULE` targets before the parser is built (they may add lifters).

    The current directory is searched first, as `python -m` does, so a module of the user's
    project (`--import models.mylifter`) is found from its root; liftbench's own packages live
    under `liftbench.`, so the project's `models`, `losses`, ... never collide with them.
    """
    argv = list(argv)
    if any(a == "--import" or a.startswith("--import=") for a in argv) and "" not in sys.path:
        cwd = os.getcwd()
        if cwd not in sys.path:
            sys.path.insert(0, cwd)
    for target in _option_values(argv, "--import"):
        if target:
            try:
                importlib.import_module(target)
            except ImportError as exc:
                raise SystemExit(f"liftbench: --import {target!r} failed: {exc}") from exc


def _command_name(args: argparse.Namespace) -> str:
    action = getattr(args, "action", None)
    return f"{args.command} {action}" if isinstance(action, str) else str(args.command)


def _check_output(args: argparse.Namespace) -> None:
    """Refuse an `--out` or `--tables-dir` no file can be written under, before any work is done.

    The nearest existing folder above it must be a writable folder (commands create the
    missing ones), so a typo or a read-only location fails at once, not after minutes of
    computation.
    """
    for attr in ("out", "tables_dir"):
        out = getattr(args, attr, None)
        if not isinstance(out, PurePath):
            continue
        option = "--" + attr.replace("_", "-")
        above = Path(out).absolute().parent
        while not above.exists():
            above = above.parent
        if not above.is_dir():
            raise NotADirectoryError(f"{option} {out}: {above} is a file, not a folder")
        if not os.access(above, os.W_OK | os.X_OK):
            raise PermissionError(f"{option} {out}: the folder {above} is not writable")


def _close_progress_bars() -> None:
    """End open tqdm bars so the error starts on a line of its own."""
    tqdm = sys.modules.get("tqdm")
    for bar in list(getattr(getattr(tqdm, "tqdm", None), "_instances", ()) or ()):
        bar.close()


def _frames(exc: BaseException) -> list:
    frames, tb = [], exc.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    return frames


def _paths_in(frame: object) -> list[Path]:
    return [Path(v) for v in frame.f_locals.values()
            if isinstance(v, PurePath) and Path(v).exists()]


def _input_path(exc: BaseException) -> Path | None:
    """The existing file a failing reader was given: the innermost path-valued local."""
    for frame in reversed(_frames(exc)):
        paths = _paths_in(frame)
        if paths:
            return paths[0]
    return None


def _raised_by_library(exc: BaseException) -> bool:
    """Whether `exc` was raised outside this project (numpy, json, torch, ...)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return False
    filename = tb.tb_frame.f_code.co_filename
    if filename.startswith("<"):  # frozen / built-in modules (codecs, ...)
        return True
    root = Path(__file__).resolve().parents[1]
    where = Path(filename).resolve()
    return root not in where.parents or ".venv" in where.parts or "site-packages" in where.parts


def _user_message(exc: BaseException) -> str:
    """One line for a user error; names the input file when the message does not."""
    from liftbench.datamodules.input_errors import one_line

    text = one_line(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc)
    if isinstance(exc, (ValueError, FileNotFoundError, PermissionError, NotADirectoryError)) \
            and not _raised_by_library(exc):
        # the project's own messages; one raised where a file is at hand names it
        frames = _frames(exc)
        paths = _paths_in(frames[-1]) if frames else []
        if not paths or any(p.name in text for p in paths):
            return text
        return f"{paths[0]}: {text}"
    path = _input_path(exc)
    detail = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    if path is None or str(path) in text:
        return detail
    return f"{path}: cannot read the file ({detail})"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `liftbench` console script; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    config_dirs = _config_dirs_env(argv)
    if config_dirs is None:
        return _main(argv)
    previous = os.environ.get(CONFIG_DIR_ENV)
    os.environ[CONFIG_DIR_ENV] = config_dirs
    try:
        return _main(argv)
    finally:  # an in-process caller (a test, a notebook) keeps its own environment
        if previous is None:
            os.environ.pop(CONFIG_DIR_ENV, None)
        else:
            os.environ[CONFIG_DIR_ENV] = previous


def _main(argv: list[str]) -> int:
    try:
        user_config_dirs()
    except NotADirectoryError as exc:
        raise SystemExit(f"liftbench: {exc}") from None
    _pre_import(argv)
    command = _command_in(argv)
    commands: list[str] | None = None  # all (`--help`, an unknown name, a command of another name)
    if command in _command_modules():
        commands = [command]
    elif command is None and "--version" in argv and not {"-h", "--help"} & set(argv):
        commands = []
    parser = build_parser(commands)
    args = parser.parse_args(argv)
    args.argv = list(argv)  # the command line as given: published tables print it
    if not getattr(args, "func", None):
        parser.print_help()
        return 2 if args.command is None else 0
    from liftbench.datamodules.input_errors import INPUT_ERRORS

    try:
        _check_output(args)
        return int(args.func(args) or 0)
    except INPUT_ERRORS as exc:
        # User errors end with one clear line, not a traceback (LIFTBENCH_DEBUG=1 shows it).
        if os.environ.get("LIFTBENCH_DEBUG"):
            raise
        _close_progress_bars()
        print(f"liftbench {_command_name(args)}: error: {_user_message(exc)}", file=sys.stderr)
        return 2

if __name__ == "__main__":
    raise SystemExit(main())
