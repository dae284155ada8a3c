"""`liftbench reproduce CLAIM`: a paper claim over seeds, tested (see `bench/reproduce.py`)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register `reproduce`."""
    from liftbench.bench.reproduce import list_claims

    claims = list_claims()
    p = sub.add_parser(
        "reproduce", help="reproduce a paper's claim: its runs over seeds + a paired test",
        description="Run every run of a claim (experiment/claims/CLAIM.yaml of a config folder) "
        "for each seed, then print the per-run table and the one-sided paired t-test of each of "
        "the claim's comparisons. Every comparison is gated: on each test set of the claim's runs "
        "(one per data config and seed) the trivial baseline copy_2d (the detected 2D with zero "
        "depth; nothing to train) is run too, each run's ratio to it is printed (and written to "
        "OUT/CLAIM/CLAIM.md and .json), and a comparison with a run above 0.6x copy_2d's error "
        "is reported 'inconclusive (under-trained)' whatever its p-value. The ratio uses the "
        "comparison's metric when copy_2d has it, else the claim's metric, else MPJPE. Verdict: "
        "reproduced (every comparison passes the gate and p < alpha with a positive gain), not "
        "reproduced (a comparison that passes the gate fails its test), else inconclusive. "
        f"Claims: {', '.join(claims)}.",
    )
    p.add_argument("claim", help=f"a claim of the config folders ({', '.join(claims)}) or a "
                   "YAML path")
    p.add_argument("--seeds", type=int, default=None,
                   help="number of seeds, 0..N-1 (default: the claim's, 3)")
    p.add_argument("--out", type=Path, default=Path("reproduce"),
                   help="folder for runs/, results/ and the summary (default ./reproduce/CLAIM)")
    p.add_argument("--reuse", action="store_true",
                   help="skip (run, seed) pairs whose record is already in OUT/results (and "
                   "copy_2d runs whose test set is in OUT/results/copy_2d)")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level (0.05)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="config overrides for every run (e.g. trainer.max_epochs=20)")
    p.set_defaults(func=_run)
    return p


def _run(args: argparse.Namespace) -> int:
    from liftbench.bench.reproduce import load_claim, render, run_claim, summarise, write_summary

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
    print(f"\nwrote {md} and {js}; {summary['seconds']:.0f} s")
    return 0
