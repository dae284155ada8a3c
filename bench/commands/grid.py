"""`liftbench grid FILE.yaml`: lifters × regimes × datasets (× seeds) from one config.

Every cell is one `liftbench fit` (its own run record); a failing cell is reported and the grid
goes on. File format: `bench/sweep.py` and `bench/configs/grid/*.yaml`. Extra `KEY=VALUE`
overrides apply to every cell (e.g. results_dir=..., trainer.max_epochs=1).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from liftbench.bench.config import config_dirs, config_files, find_config


def resolve_config(name: str, kind: str) -> Path:
    """A file path, or the name of a `<kind>/<name>.yaml` in the config folders.

    The user's folders (`--config-dir`) are searched before the packaged `bench/configs/`.
    """
    path = Path(name)
    if path.is_file():
        return path
    found = find_config(kind, f"{name.removesuffix('.yaml')}.yaml")
    if found is not None:
        return found
    options = ", ".join(config_files(kind)) or "none"
    searched = ", ".join(str(d / kind) for d in config_dirs())
    raise FileNotFoundError(f"{kind} file {name!r} not found (available: {options}; "
                            f"searched: {searched})")


class _Intermixed(argparse.ArgumentParser):
    """Options may sit between `KEY=VALUE` overrides (`FILE --mode offline a=1 --count 2`).

    A plain parser binds the overrides' `nargs="*"` to the first run of positionals only and
    then rejects the rest; the intermixed parse (stdlib) collects them all.
    """

    _inside = False

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:  # noqa: D102
        if self._inside:  # the intermixed parse calls back into this method
            return super().parse_known_args(args, namespace)
        self._inside = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._inside = False


def intermixed(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Let `parser` accept options anywhere among its positional overrides.

    The parser keeps its own class's behaviour (e.g. the late options of `cli.CommandParser`).
    """
    cls = type(parser)
    if not issubclass(cls, _Intermixed):
        parser.__class__ = type(f"Intermixed{cls.__name__}", (_Intermixed, cls), {})
    return parser


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register `grid`."""
    p = sub.add_parser("grid", help="run lifters x regimes x datasets from one YAML config",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", help="grid YAML (a path or a name in the config folders' grid/, "
                   "e.g. lifters_supervised)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="applied to every cell")
    p.add_argument("--dry-run", action="store_true", help="list the cells and exit")
    p.add_argument("--table", action="store_true",
                   help="print the comparison table of the grid's records at the end")
    p.add_argument("--metric", default="mpjpe", help="metric shown in the summary (mpjpe)")
    p.set_defaults(func=_run)
    return intermixed(p)


def _run(args: argparse.Namespace) -> int:
    from liftbench.bench.sweep import compose_cells, grid_cells, load_grid, run_cells, summary

    cells = grid_cells(load_grid(resolve_config(args.file, "grid")), args.overrides)
    if args.dry_run:
        compose_cells(cells)  # fail on a bad key before anything runs
        for cell in cells:
            print(f"{cell.name}: {' '.join(cell.overrides)}")
        return 0
    run_cells(cells, desc="grid")
    print(summary(cells, args.metric))
    records = [c.record for c in cells if c.record is not None and c.record.exists()]
    if args.table and records:
        from liftbench.leaderboard.frames import records_frames
        from liftbench.leaderboard.records import read_record
        from liftbench.leaderboard.tables import build_table

        print(build_table(*records_frames([read_record(r) for r in records])).render("md"))
    return 0 if all(c.status == "ok" for c in cells) else 1
