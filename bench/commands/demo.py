"""`liftbench demo`: the embedded demo benchmark (`make demo`); see `bench/demo.py`."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench.demo import DEMO_LIFTERS

COLUMNS = (("mpjpe", "MPJPE"), ("pa_mpjpe", "PA-MPJPE"), ("n_mpjpe", "N-MPJPE"),
           ("mpjve", "MPJVE"), ("pck", "PCK150 %"))


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register `demo`."""
    p = sub.add_parser(
        "demo", help="run the embedded demo benchmark (tiny lifters, synthetic data, CPU)",
        description="Tiny lifters pre-trained with 3D labels on synthetic daily motion, adapted "
        "to sports motion without 3D labels by every adaptation regime, and trained on sports "
        "3D as the upper bound; every run is tested on held-out sports takes. Ends with the "
        "comparison table and a markdown + HTML report with plots (under --out).",
    )
    p.add_argument("--lifters", nargs="+", default=list(DEMO_LIFTERS),
                   help=f"lifters (default: {' '.join(DEMO_LIFTERS)})")
    p.add_argument("--out", type=Path, default=Path("demo"),
                   help="folder for runs/, results/ and the report (default ./demo)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="config overrides for every run (e.g. trainer.max_epochs=2)")
    p.set_defaults(func=_run)
    return p


def _run(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from bench.demo import run_demo, write_report
    from leaderboard.records import read_record

    # `--lifters a b KEY=VALUE` : argparse hands the overrides to --lifters; move them back
    lifters = [x for x in args.lifters if "=" not in x]
    overrides = [x for x in args.lifters if "=" in x] + list(args.overrides)
    if not lifters:
        raise ValueError("--lifters needs at least one lifter name")
    started = time.time()
    rows = run_demo(lifters, args.out, overrides)
    table = []
    for row in rows:
        rec = read_record(row["record"])
        table.append([row["lifter"], row["stage"], *(rec.metrics.get(k) for k, _ in COLUMNS),
                      f"{row['seconds']:.0f}"])
    print("\nsynthetic capture, trained as labelled, tested on held-out sports takes "
          "(tiny lifters, flip TTA, 17 joints, mm)")
    print(tabulate(table, headers=["lifter", "stage", *(h for _, h in COLUMNS), "time s"],
                   floatfmt=".1f"))
    files = write_report(rows, args.out / "report")
    print(f"\nreport: {files['markdown']} and {files['html']} (plots: "
          f"{', '.join(str(p.name) for k, p in files.items() if k not in ('markdown', 'html'))})")
    print(f"records: {args.out / 'results'}; total {time.time() - started:.0f} s")
    return 0
