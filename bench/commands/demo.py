"""`liftbench demo`: the embedded demo benchmark (`make demo`); see `bench/demo.py`."""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register `demo`."""
    p = sub.add_parser(
        "demo", help="run the embedded demo benchmark (tiny lifters, synthetic data, CPU)",
        description="Tiny lifters pre-trained with 3D labels on synthetic daily motion, adapted "
        "to sports motion without 3D labels by every adaptation regime, and trained on sports "
        "3D as the upper bound; every run is tested on held-out sports takes. Ends with the "
        "comparison table and a markdown + HTML report with plots (under --out), and publishes "
        "the table with this command line and the machine to --tables-dir (demo.md, demo.csv).",
        build=_add_arguments,
    )
    p.set_defaults(func=_run)
    return p


def _add_arguments(p: argparse.ArgumentParser) -> None:
    """The options (added on use: their defaults import the demo, hence torch)."""
    from liftbench.bench.demo import DEMO_LIFTERS, DEMO_SEEDS

    p.add_argument("--lifters", nargs="+", default=list(DEMO_LIFTERS),
                   help=f"lifters (default: {' '.join(DEMO_LIFTERS)})")
    p.add_argument("--seeds", nargs="+", type=int, default=list(DEMO_SEEDS),
                   help=f"seeds, one run per cell each (default: {' '.join(map(str, DEMO_SEEDS))})")
    p.add_argument("--out", type=Path, default=Path("demo"),
                   help="folder for runs/, results/ and the report (default ./demo)")
    p.add_argument("--tables-dir", type=Path, default=None, metavar="DIR",
                   help="where the demo table is published as demo.md / demo.csv (default "
                   "$LIFTBENCH_TABLES_DIR, else results/tables)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="config overrides for every run (e.g. trainer.max_epochs=2)")


def _run(args: argparse.Namespace) -> int:
    from liftbench.bench.demo import (
        DEMO_SETTING,
        comparison_table,
        gains_markdown,
        publish_demo,
        run_demo,
        write_report,
    )
    from liftbench.leaderboard.published import command_line, written_line

    # `--lifters a b KEY=VALUE` : argparse hands the overrides to --lifters; move them back
    lifters = [x for x in args.lifters if "=" not in x]
    overrides = [x for x in args.lifters if "=" in x] + list(args.overrides)
    if not lifters:
        raise ValueError("--lifters needs at least one lifter name")
    started = time.time()
    rows = run_demo(lifters, args.out, overrides, seeds=args.seeds)
    print(f"\n{DEMO_SETTING}\n")
    table = comparison_table(rows)
    print(table.render("md"))
    print()
    print(gains_markdown(rows))
    files = write_report(rows, args.out / "report")
    published = publish_demo(rows, table, command=command_line(getattr(args, "argv", None)),
                             out_dir=args.tables_dir)
    per_stage: dict[str, float] = {}
    for row in rows:
        per_stage[row["stage"]] = per_stage.get(row["stage"], 0.0) + row["seconds"]
    print("\ntime per stage (s, all lifters and seeds): "
          + ", ".join(f"{k} {v:.0f}" for k, v in per_stage.items()))
    print(f"report: {files['markdown']} and {files['html']} (plots: "
          f"{', '.join(str(p.name) for k, p in files.items() if k not in ('markdown', 'html'))})")
    print(written_line(published))
    print(f"records: {args.out / 'results'}; total {time.time() - started:.0f} s")
    return 0
