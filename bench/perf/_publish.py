"""A benchmark's returned figures as published tables: `perf-NAME.md` and `perf-NAME.csv`.

Every benchmark's `run(args)` returns its figures as nested dicts and lists (what `--json`
writes). `result_tables` turns any such result into tables by its shape alone, so one code path
publishes every benchmark:

- a list of dicts (e.g. `models`' `rows`, `calibration`'s `noise_table`) is a table, one row
  per dict;
- a dict whose values are all dicts (e.g. `train`'s `lifters`, `labelling`'s `mirror`) is a
  table, one row per key;
- sibling dicts with the same keys (e.g. `heatpose`'s two heads, `labelling`'s per-iteration
  rotation and drift) are one table, one row per sibling;
- every other value is a line `path/to/value | value` of the `figures` table, first.

Nested dicts inside a row become columns `a/b`; a list of numbers stays one cell (JSON in the
CSV, comma-separated in the markdown).

The CSV is long ("tidy"): one line per cell, columns `table, row, column, value`, so that
tables of any shape share one file (`pandas.read_csv(path, comment="#")`, then filter or pivot
on `table`). The markdown shows each table as a pipe table under its own heading.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

FIGURES = "figures"
CSV_COLUMNS = ("table", "row", "column", "value")

Table = tuple[str, list[str], list[list[Any]]]  # (title, columns, rows); rows[i][0] names row i


def _leaf(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def _flat(value: dict, prefix: str = "") -> dict[str, Any]:
    """A dict flattened to `a/b` keys; lists and other non-dict values kept as they are."""
    out: dict[str, Any] = {}
    for key, v in value.items():
        name = f"{prefix}{key}"
        if isinstance(v, dict) and v:
            out.update(_flat(v, f"{name}/"))
        else:
            out[name] = v
    return out


def _keyed(value: Any) -> bool:
    """A dict of dicts: one row per key."""
    return isinstance(value, dict) and bool(value) and all(
        isinstance(v, dict) and v for v in value.values())


def _rows_table(title: str, rows: dict[str, dict]) -> Table:
    flat = {str(k): _flat(v) for k, v in rows.items()}
    columns = list(dict.fromkeys(c for r in flat.values() for c in r))
    return title, ["row", *columns], [[k, *[r.get(c) for c in columns]] for k, r in flat.items()]


def result_tables(result: dict[str, Any]) -> list[Table]:
    """The tables of a benchmark's returned figures (module docstring); `figures` first."""
    figures: list[list[Any]] = []
    tables: list[Table] = []

    def walk(obj: dict, path: list[str]) -> None:
        shapes: dict[tuple[str, ...], list[str]] = {}
        for key, value in obj.items():
            if isinstance(value, dict) and value and not _keyed(value):
                shapes.setdefault(tuple(_flat(value)), []).append(key)
        siblings = {k: keys for keys in shapes.values() if len(keys) > 1 for k in keys}
        for key, value in obj.items():
            here = "/".join([*path, str(key)])
            if key in siblings:
                keys = siblings[key]
                if key == keys[0]:
                    title = "/".join([*path, ", ".join(map(str, keys))])
                    tables.append(_rows_table(title, {k: obj[k] for k in keys}))
            elif _keyed(value):
                tables.append(_rows_table(here, value))
            elif isinstance(value, dict) and value:
                walk(value, [*path, str(key)])
            elif isinstance(value, list) and value and all(
                    isinstance(v, dict) for v in value):
                tables.append(_rows_table(here, {str(i): v for i, v in enumerate(value)}))
            else:
                figures.append([here, value])

    walk(result, [])
    return ([(FIGURES, ["figure", "value"], figures)] if figures else []) + tables


def _csv_cell(value: Any) -> Any:
    return value if _leaf(value) else json.dumps(value, default=str)


def _md_cell(value: Any) -> Any:
    from liftbench.leaderboard.published import format_value

    if isinstance(value, (list, tuple)) and all(_leaf(v) for v in value):
        return ", ".join(format_value(v) for v in value)
    return value if _leaf(value) else json.dumps(value, default=str)


def long_rows(tables: Sequence[Table]) -> list[list[Any]]:
    """The tables as `CSV_COLUMNS` rows: one per non-empty cell (the row name excluded)."""
    out = []
    for title, columns, rows in tables:
        for row in rows:
            out += [[title, row[0], col, _csv_cell(v)] for col, v in zip(columns[1:], row[1:],
                                                                         strict=True)
                    if v is not None]
    return out


def markdown(tables: Sequence[Table]) -> str:
    """Each table as a pipe table under a `## title` heading."""
    from liftbench.leaderboard.published import markdown_table

    parts = []
    for title, columns, rows in tables:
        parts += [f"## {title}", "", markdown_table(columns, [[_md_cell(v) for v in row]
                                                              for row in rows]), ""]
    return "\n".join(parts)


def publish_result(bench: str, result: dict[str, Any], about: str = "",
                   command: str | None = None,
                   out_dir: Path | str | None = None) -> tuple[Path, Path]:
    """Publish a benchmark's figures as `perf-BENCH.md` / `perf-BENCH.csv` (`result_tables`).

    Args:
        bench: the benchmark's name (`liftbench perf BENCH`).
        result: what its `run(args)` returned.
        about: one line saying what it measures (its `HELP`), a note under the tables.
        command: the command line (default: this process's).
        out_dir: the folder (default: `leaderboard.published.tables_dir()`).
    """
    from liftbench.leaderboard.published import publish_table

    tables = result_tables(result)
    if not tables:
        raise ValueError(f"perf {bench}: the benchmark returned no figures")
    notes = [about] if about else []
    notes.append("The CSV holds every cell as `table, row, column, value` (lists as JSON).")
    return publish_table(f"perf-{bench}", f"liftbench perf {bench}", list(CSV_COLUMNS),
                         long_rows(tables), markdown=markdown(tables), notes=notes,
                         command=command, out_dir=out_dir)
