"""`liftbench demo`: the embedded demo benchmark (`make demo`).

Trains tiny configurations of several lifters with the supervised regime on the synthetic
capture's daily motion, tests them on the held-out sports motion (the papers' domain gap), and
prints the comparison table of their run records. Every number is measured by this run.
"""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_LIFTERS = ("motionagformer_xs", "motionbert", "kasportsformer", "videopose3d_27")
COLUMNS = ("mpjpe", "pa_mpjpe", "n_mpjpe", "mpjve", "pck")


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register `demo`."""
    p = sub.add_parser(
        "demo", help="run the embedded demo benchmark (tiny lifters, synthetic data, CPU)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--lifters", nargs="+", default=list(DEFAULT_LIFTERS),
                   help=f"lifters to benchmark (default: {' '.join(DEFAULT_LIFTERS)})")
    p.add_argument("--epochs", type=int, default=6, help="training epochs per lifter (6)")
    p.add_argument("--out", type=Path, default=Path("demo"),
                   help="folder for runs/ and results/ (default ./demo)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="config overrides applied to every run (e.g. data.kwargs.subjects=1)")
    p.set_defaults(func=_run)
    return p


def _run(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from bench.config import compose
    from bench.runner import run_fit
    from leaderboard.records import read_record

    if args.epochs < 1:
        raise ValueError(f"--epochs must be >= 1, got {args.epochs}")
    rows = []
    for i, lifter in enumerate(args.lifters, 1):
        print(f"\n[{i}/{len(args.lifters)}] {lifter} (tiny): supervised on daily motion, "
              f"tested on sports motion")
        cfg = compose([
            f"model={lifter}", "size=tiny", "data=synthetic", "regime=supervised",
            "trainer=cpu", "logger=csv", f"trainer.max_epochs={args.epochs}",
            "regime.optim.lr=1e-3", f"output_dir={args.out / 'runs'}",
            f"results_dir={args.out / 'results'}", *args.overrides,
        ])
        rec = read_record(run_fit(cfg))
        rows.append([lifter, f"{rec.lifter['params']:,}", *(rec.metrics[c] for c in COLUMNS),
                     f"{rec.wall_time_s:.0f}"])
    best = min(range(len(rows)), key=lambda r: rows[r][2])
    rows[best][0] = f"{rows[best][0]} *"
    headers = ["lifter (tiny)", "params", "MPJPE", "PA-MPJPE", "N-MPJPE", "MPJVE", "PCK150 %",
               "time s"]
    print("\nsynthetic daily -> sports, supervised, flip TTA, 17 joints, mm (* best MPJPE)")
    print(tabulate(rows, headers=headers, floatfmt=".1f"))
    print(f"\nrecords: {args.out / 'results'}   (liftbench predict / test take the checkpoints "
          f"under {args.out / 'runs'})")
    return 0
