"""`liftbench grid FILE.yaml`: lifters × regimes × datasets (× seeds) from one config.

Every cell is one `liftbench fit` (its own run record); a failing cell is reported and the grid
goes on. File format: `bench/sweep.py` and `bench/configs/grid/*.yaml`. Extra `KEY=VALUE`
overrides apply to every cell (e.g. results_dir=..., trainer.max_epochs=1).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.config import CONFIG_DIR


def resolve_config(name: str, kind: str) -> Path:
    """A file path, or the name of a packaged `bench/configs/<kind>/<name>.yaml`."""
    path = Path(name)
    if path.is_file():
        return path
    packaged = CONFIG_DIR / kind / f"{name.removesuffix('.yaml')}.yaml"
    if packaged.is_file():
        return packaged
    options = sorted(p.stem for p in (CONFIG_DIR / kind).glob("*.yaml"))
    raise FileNotFoundError(f"{kind} file {name!r} not found (packaged: {', '.join(options)})")


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register `grid`."""
    p = sub.add_parser("grid", help="run lifters x regimes x datasets from one YAML config",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", help="grid YAML (a path or a packaged name, e.g. demo_small)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="applied to every cell")
    p.add_argument("--dry-run", action="store_true", help="list the cells and exit")
    p.add_argument("--table", action="store_true",
                   help="print the comparison table of the grid's records at the end")
    p.add_argument("--metric", default="mpjpe", help="metric shown in the summary (mpjpe)")
    p.set_defaults(func=_run)
    return p


def _run(args: argparse.Namespace) -> int:
    from bench.sweep import compose_cells, grid_cells, load_grid, run_cells, summary

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
        from leaderboard.records import read_record
        from leaderboard.tables import build_table, records_frames

        print(build_table(*records_frames([read_record(r) for r in records])).render("md"))
    return 0 if all(c.status == "ok" for c in cells) else 1
