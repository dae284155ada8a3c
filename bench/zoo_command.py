"""`liftbench reproduce zoo`: the command's body (the `reproduce` parser dispatches here).

`bench.zoo` runs the (setting, seed, lifter) plan, `bench.zoo_table` makes the table; this
prints it, writes `OUT/zoo/zoo.{md,json}` and publishes `results/tables/zoo.{md,csv}`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from liftbench.bench.zoo_table import duration


def run_zoo_command(args: argparse.Namespace) -> int:
    """Run a leaderboard file (`args.claim`) as `liftbench reproduce` parsed it.

    Uses `args.claim`, `args.seeds`, `args.lifters`, `args.out`, `args.reuse`, `args.overrides`,
    and, when the parser has them, `args.tables_dir` and `args.argv`. Returns 1 when a run
    failed (the table is written all the same), else 0.
    """
    from liftbench.bench.zoo import load_zoo, run_zoo, select_lifters
    from liftbench.bench.zoo_table import render_zoo, summarise_zoo, write_zoo
    from liftbench.leaderboard.published import command_line

    started = time.time()
    zoo = load_zoo(args.claim)
    n = zoo.seeds if args.seeds is None else args.seeds
    if n < 1:
        raise ValueError(f"--seeds must be >= 1, got {n}")
    # `--lifters a b KEY=VALUE`: argparse hands the overrides to --lifters; move them back
    given = list(args.lifters or [])
    patterns = [x for x in given if "=" not in x]
    overrides = [x for x in given if "=" in x] + list(args.overrides)
    if args.lifters is not None and not patterns:
        raise ValueError("--lifters needs at least one lifter name or pattern")
    lifters = select_lifters(zoo, patterns or None)
    seeds = list(range(n))
    out = Path(args.out) / zoo.name
    print(f"{zoo.name}: {len(lifters)} lifters ({', '.join(lifters)}) x {len(zoo.settings)} "
          f"settings ({', '.join(s.label for s in zoo.settings.values())}) x {n} seeds "
          f"-> {out}", flush=True)
    runs = run_zoo(zoo, out, seeds, lifters, overrides, reuse=args.reuse)
    summary = summarise_zoo(zoo, runs, seeds, lifters)
    summary.update(overrides=overrides, seconds=time.time() - started,
                   command=command_line(getattr(args, "argv", None)))
    print("\n" + render_zoo(summary))
    paths = write_zoo(summary, out, tables_dir=getattr(args, "tables_dir", None))
    print(f"\nwrote {', '.join(map(str, paths))}")
    print(f"total wall time: {duration(summary['seconds'])}")
    if runs.failed:
        print(f"{len(runs.failed)} run(s) failed: "
              + "; ".join(f"{s}/{lf}/seed {seed}: {msg}"
                          for (s, lf, seed), msg in runs.failed.items()))
        return 1
    return 0
