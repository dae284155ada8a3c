"""`liftbench reproduce CLAIM`: a paper claim over seeds, tested (see `bench/reproduce.py`)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register `reproduce`."""
    p = sub.add_parser(
        "reproduce", help="reproduce a paper's claim: its runs over seeds + a paired test",
        build=_add_arguments,
    )
    p.set_defaults(func=_run)
    from liftbench.bench.commands.grid import intermixed

    return intermixed(p)  # `reproduce zoo --seeds 1 KEY=VALUE --reuse`: options anywhere


def _add_arguments(p: argparse.ArgumentParser) -> None:
    """Description and options (added on use: listing the claims imports numpy)."""
    from liftbench.bench.reproduce import list_claims

    claims = list_claims()
    p.description = (
        "Run every run of a claim (experiment/claims/CLAIM.yaml of a config folder) "
        "for each seed, then print the per-run table and the one-sided paired t-test of each of "
        "the claim's comparisons. Every comparison is gated: on each test set of the claim's runs "
        "(one per data config and seed) the trivial baseline copy_2d (the detected 2D with zero "
        "depth; nothing to train) is run too, each run's ratio to it is printed (and written to "
        "OUT/CLAIM/CLAIM.md and .json), and a comparison with a run above 0.6x copy_2d's error "
        "is reported 'inconclusive (under-trained)' whatever its p-value. The ratio uses the "
        "comparison's metric when copy_2d has it, else the claim's metric, else MPJPE. Verdict: "
        "reproduced (every comparison passes the gate and p < alpha with a positive gain), not "
        "reproduced (a comparison that passes the gate fails its test), else inconclusive. "
        f"Claims: {', '.join(claims)}. A leaderboard file (`kind: leaderboard`, e.g. zoo) "
        "instead trains every registered lifter (tiny; --lifters to choose, plug-ins of "
        "--import included) in each of its settings over seeds and writes the table: "
        "params, GFLOPs/frame, MPJPE and PA-MPJPE mean ± 95% CI, ratio to copy_2d, training "
        "CPU-minutes (OUT/NAME/NAME.md and .json, published as NAME.md / .csv)."
    )
    p.add_argument("claim", help=f"a claim of the config folders ({', '.join(claims)}) or a "
                   "YAML path")
    p.add_argument("--seeds", type=int, default=None,
                   help="number of seeds, 0..N-1 (default: the claim's, 3)")
    p.add_argument("--out", type=Path, default=Path("reproduce"),
                   help="folder for runs/, results/ and the summary (default ./reproduce/CLAIM)")
    p.add_argument("--reuse", action="store_true",
                   help="skip (run, seed) pairs whose record of the same configuration is "
                   "already in OUT/results (and copy_2d runs whose test set is in "
                   "OUT/results/copy_2d); a changed claim file or override reruns what it "
                   "changed")
    p.add_argument("--lifters", nargs="+", default=None, metavar="PATTERN",
                   help="leaderboard files only: the lifters (registry names or shell patterns; "
                   "default: the file's, every registered lifter); copy_2d always runs")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level (0.05)")
    p.add_argument("--tables-dir", type=Path, default=None, metavar="DIR",
                   help="where the summary is published as claim-CLAIM.md / .csv with this "
                   "command line and the machine (default $LIFTBENCH_TABLES_DIR, else "
                   "results/tables)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="config overrides for every run (e.g. trainer.max_epochs=20)")


def _run(args: argparse.Namespace) -> int:
    from liftbench.bench.zoo import is_leaderboard

    if is_leaderboard(args.claim):
        from liftbench.bench.zoo_command import run_zoo_command

        return run_zoo_command(args)
    if args.lifters is not None:
        raise ValueError("--lifters applies to leaderboard files (e.g. zoo), not to claims")
    from liftbench.bench.reproduce import (
        load_claim,
        publish_summary,
        render,
        run_claim,
        summarise,
        write_summary,
    )
    from liftbench.leaderboard.published import command_line, written_line

    claim = load_claim(args.claim)
    n = claim.seeds if args.seeds is None else args.seeds
    if n < 1:
        raise ValueError(f"--seeds must be >= 1, got {n}")
    out = args.out / claim.name
    started = time.time()
    seeds = list(range(n))
    records = run_claim(claim, out, seeds, args.overrides, reuse=args.reuse)
    summary = summarise(claim, records, seeds, alpha=args.alpha)
    summary["overrides"] = list(args.overrides)
    summary["seconds"] = time.time() - started
    print("\n" + render(summary))
    js, md = write_summary(summary, out)
    published = publish_summary(summary, command_line(getattr(args, "argv", None)),
                                args.tables_dir)
    print(f"\nwrote {md} and {js}; {summary['seconds']:.0f} s")
    print(written_line(published))
    return 0
