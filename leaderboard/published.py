"""Measured tables written by the commands that measure them: `results/tables/NAME.{md,csv}`.

Every table the README shows is one of these files. A command that measures something
(`demo`, `reproduce`, `perf`, `table --publish`) writes its table here with the exact command
line that produced it and the machine it ran on, so a number is never typed by hand and every
number can be re-measured by running the line at the top of its file.

The markdown file: a title, the command, the machine, the date and commit, the table, notes.
The CSV file: the same rows with `# command:` / `# machine:` / `# written:` comment lines first
(`pandas.read_csv(path, comment="#")` reads it); numbers are written unrounded, every string
quoted (so a `#` in a cell is not read as a comment), a missing value (None, NaN) as `""`.

The folder is `--tables-dir` of those commands, else `$LIFTBENCH_TABLES_DIR`, else
`results/tables` under the current directory. Only `*.md` and `*.csv` files are written there,
so the run-record readers (which read `*.json`) never mistake a table for a run.
"""

from __future__ import annotations

import csv
import io
import math
import os
import platform
import re
import shlex
import subprocess
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

TABLES_DIR = Path("results") / "tables"
TABLES_DIR_ENV = "LIFTBENCH_TABLES_DIR"
_NAME = re.compile(r"[A-Za-z0-9._-]+")


def tables_dir(override: Path | str | None = None) -> Path:
    """Where tables go: `override`, else `$LIFTBENCH_TABLES_DIR`, else `results/tables` (cwd)."""
    if override is not None:
        return Path(override)
    env = os.environ.get(TABLES_DIR_ENV)
    return Path(env) if env else TABLES_DIR


def command_line(argv: Sequence[str] | None = None) -> str:
    """The command as a user would type it again: `liftbench <args>` (shell-quoted)."""
    args = list(sys.argv[1:] if argv is None else argv)
    return shlex.join(["liftbench", *args])


def table_name(text: str) -> str:
    """`text` made a valid table name: every run of other characters becomes one `_`."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")
    if not name or set(name) <= {"."}:
        raise ValueError(f"{text!r} gives no table name (letters, digits, '-', '_', '.')")
    return name


def check_name(name: str) -> str:
    """`name` if it is a valid table name (letters, digits, `-`, `_`, `.`), else ValueError."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or set(name) <= {"."}:
        raise ValueError(f"table name must be letters, digits, '-', '_' or '.', got {name!r}")
    return name


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git(*args: str) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, timeout=10,
                              cwd=Path(__file__).resolve().parent)
    except (OSError, subprocess.SubprocessError):
        return None


def git_commit() -> str | None:
    """The short commit of the code that ran, `+dirty` with uncommitted changes to tracked files.

    None outside a git checkout (an installed package).
    """
    head = _git("rev-parse", "--short", "HEAD")
    if head is None or head.returncode != 0 or not head.stdout.strip():
        return None
    diff = _git("diff", "--quiet", "HEAD", "--")
    dirty = diff is not None and diff.returncode == 1
    return head.stdout.strip() + ("+dirty" if dirty else "")


def machine() -> str:
    """One line: CPU model, cores, memory, GPUs, torch threads, torch and Python versions."""
    import torch

    parts = [f"{_cpu_model()}, {os.cpu_count()} cores"]
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        parts.append(f"{pages * size / 2**30:.0f} GiB")
    except (OSError, ValueError):
        pass
    if torch.cuda.is_available():
        parts.append(", ".join(torch.cuda.get_device_name(i)
                               for i in range(torch.cuda.device_count())))
    threads = torch.get_num_threads()
    parts.append(f"torch {torch.__version__} ({threads} thread{'s' if threads != 1 else ''}), "
                 f"Python {platform.python_version()}")
    return "; ".join(parts)


def format_value(value: Any) -> str:
    """A value as a markdown cell: floats to 1 decimal, 3 significant digits below 1."""
    if value is None:
        return ""
    if isinstance(value, float):
        if not math.isfinite(value):
            return "" if math.isnan(value) else str(value)
        if value != 0 and abs(value) < 1:
            return f"{value:.3g}"
        return f"{value:.1f}"
    return str(value)


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A pipe table of `rows` (`format_value`; strings as they are, pipes escaped)."""
    head = "| " + " | ".join(str(c).replace("|", "\\|") for c in columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(format_value(v).replace("|", "\\|").replace("\n", " ")
                              for v in row) + " |" for row in rows]
    return "\n".join([head, rule, *body])


def _csv_value(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars
        try:
            return _csv_value(value.item())
        except (TypeError, ValueError):
            pass
    return value


def publish_table(name: str, title: str, columns: Sequence[str],
                  rows: Sequence[Sequence[Any]], *, markdown: str | None = None,
                  notes: Sequence[str] = (), command: str | None = None,
                  out_dir: Path | str | None = None) -> tuple[Path, Path]:
    """Write `NAME.md` and `NAME.csv` under `out_dir` (default `tables_dir()`).

    Args:
        name: file stem (letters, digits, `-`, `_`, `.`), e.g. `"demo"` or `"claim-consistency"`
            (`table_name` makes one from any text).
        title: the markdown heading.
        columns: CSV column names (also the markdown header unless `markdown` is given).
        rows: one sequence of values per row (numbers are written unrounded to the CSV).
        markdown: the markdown body to publish instead of a plain table of `rows` (a command's
            own rendering, e.g. with 95% CIs and marks); the CSV still holds `rows`.
        notes: lines printed under the table (what a reader needs to read it right).
        command: the command line (default: this process's, `command_line()`).
        out_dir: the folder (created).

    Returns:
        `(markdown_path, csv_path)`.
    """
    check_name(name)
    if len(set(columns)) != len(columns) or not columns:
        raise ValueError(f"table {name!r}: columns must be distinct and at least one, "
                         f"got {list(columns)}")
    rows = [list(row) for row in rows]
    for i, row in enumerate(rows):
        if len(row) != len(columns):
            raise ValueError(f"table {name!r}: row {i} has {len(row)} values for "
                             f"{len(columns)} columns")
    out = tables_dir(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    command = command or command_line()
    written = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    commit = git_commit()
    where = machine()
    stamp = f"{written}" + (f", commit {commit}" if commit else "")
    md = [f"# {title}", "", f"Written by: `{command}`", "", f"Machine: {where}", "",
          f"Written: {stamp}", "", markdown.strip() if markdown else markdown_table(columns, rows)]
    if notes:
        md += ["", *[f"- {n}" for n in notes]]
    md_path, csv_path = out / f"{name}.md", out / f"{name}.csv"
    _atomic_write(md_path, "\n".join(md) + "\n")
    buf = io.StringIO()
    for key, value in (("command", command), ("machine", where), ("written", stamp)):
        buf.write(f"# {key}: {' '.join(value.splitlines())}\n")
    # strings quoted: a `#` inside a quoted field is not a comment to `read_csv(comment="#")`
    writer = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)
    writer.writerow(columns)
    writer.writerows([[_csv_value(v) for v in row] for row in rows])
    _atomic_write(csv_path, buf.getvalue())
    return md_path, csv_path


def publish_frame(name: str, title: str, frame: Any, **kwargs: Any) -> tuple[Path, Path]:
    """`publish_table` of a pandas DataFrame (its columns and rows; `kwargs` as there)."""
    columns = [str(c) for c in frame.columns]
    return publish_table(name, title, columns, frame.astype(object).values.tolist(), **kwargs)


def written_line(paths: Iterable[Path]) -> str:
    """What a command prints after publishing: `published: A.md, A.csv`."""
    return "published: " + ", ".join(str(p) for p in paths)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)
