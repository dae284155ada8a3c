"""`liftbench table`: the comparison table of a results directory (and the papers' numbers).

Examples:
  liftbench table --results results --regime supervised consistency
  liftbench table --results results --by action --metric mpjpe --format latex --out table.tex
  liftbench table --reported-from kasportsformer_t1 --format md          # papers only
  liftbench table --results results --reported-from ingwersen_t1 --compare A B --over action
  liftbench table --list-reported
  liftbench table --results results --regime supervised --publish in-domain  # results/tables/

With --publish NAME the table is also written to the published tables (--tables-dir, default
$LIFTBENCH_TABLES_DIR, else results/tables): NAME.md (the markdown table under the command line
that made it and the machine) and NAME.csv (the exact numbers of --format csv, same header lines
as comments).

Records are read from anywhere below --results (`reproduce` and grids write one folder per run,
results/<run>/); other JSON files there (summaries, evaluations) are skipped. Runs are the seeds
of one row when their configs differ by the seed alone (names and folders aside). A run started
from a checkpoint (init_from=...) counts as started from the experiment of the run that wrote
it (its record, or the run folder holding the checkpoint), so adaptations of pre-trained seeds
0..N-1 are one row with n = N and a CI; a checkpoint from outside any run (official weights)
counts by its content (sha256). The row shows init_from=(a) and a note names what (a) is.
With copy_2d runs among the records (demo, reproduce), a "× copy_2d" column gives each row's
MPJPE over that of the copy_2d row of the same protocol and test clips; the notes name rows
above 0.6x as under-trained.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register `table`."""
    p = sub.add_parser("table", help="comparison table of run records (md, LaTeX, CSV, HTML)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--results", type=Path, default=None,
                   help="directory of run records, read recursively (default ./results "
                   "when it exists)")
    p.add_argument("--dataset", nargs="+", help="keep these datasets")
    p.add_argument("--split", nargs="+", help="keep these splits")
    p.add_argument("--regime", nargs="+", help="keep these regimes")
    p.add_argument("--source-2d", nargs="+", dest="source_2d",
                   help="keep these 2D sources (gt, det:<name>)")
    p.add_argument("--frames", "-T", nargs="+", type=int, help="keep these clip lengths T")
    p.add_argument("--lifter", nargs="+", help="keep these lifters")
    p.add_argument("--kind", nargs="+", choices=("fit", "test"),
                   help="keep records of these kinds (default both)")
    p.add_argument("--metrics", nargs="+", help="metric columns (default: all present)")
    p.add_argument("--by", choices=("action",), help="columns = per-action breakdown")
    p.add_argument("--metric", default="mpjpe", help="metric of --by / --compare (mpjpe)")
    p.add_argument("--ci", choices=("seeds", "groups", "none"), default="seeds",
                   help="bootstrap CI over seeds (default), over actions, or none")
    p.add_argument("--digits", type=int, default=1, help="decimals shown (1)")
    p.add_argument("--reported", action="store_true",
                   help="add the papers' reported rows that pass the same filters")
    p.add_argument("--reported-from", nargs="+", metavar="TABLE",
                   help="add these reported tables/papers (ids: --list-reported), unfiltered")
    p.add_argument("--list-reported", action="store_true",
                   help="list the transcribed paper tables and exit")
    p.add_argument("--compare", nargs=2, metavar=("ROW_A", "ROW_B"),
                   help="paired test between two rows (labels or unique substrings)")
    p.add_argument("--over", choices=("action", "seed"), default="action",
                   help="paired units for --compare (action)")
    p.add_argument("--test", choices=("permutation", "wilcoxon", "ttest"),
                   default="permutation", help="paired test of --compare (permutation)")
    p.add_argument("--format", "-f", choices=("md", "latex", "csv", "html"), default="md")
    p.add_argument("--title", default="", help="table caption")
    p.add_argument("--out", "-o", type=Path, help="write to FILE instead of stdout")
    p.add_argument("--publish", metavar="NAME",
                   help="also publish the table as NAME.md (markdown) and NAME.csv (exact "
                   "numbers) with this command line and the machine, under --tables-dir")
    p.add_argument("--tables-dir", type=Path, default=None, metavar="DIR",
                   help="folder of --publish (default $LIFTBENCH_TABLES_DIR, else "
                   "results/tables)")
    p.set_defaults(func=_run)
    return p


def _run(args: argparse.Namespace) -> int:
    from liftbench.leaderboard.frames import (
        concat_frames,
        filter_runs,
        records_frames,
        reported_frames,
    )
    from liftbench.leaderboard.published import (
        check_name,
        command_line,
        publish_frame,
        written_line,
    )
    from liftbench.leaderboard.records import read_records
    from liftbench.leaderboard.reported import list_tables, load_reported
    from liftbench.leaderboard.tables import build_table, compare_rows

    if args.list_reported:
        for t in list_tables():
            print(f"{t['id']:<20} {t['paper']:<15} {t['table']:<8} {t['rows']:>3} rows  "
                  f"{t['caption']}")
        return 0
    if args.publish is not None:
        check_name(args.publish)
    filters = {"dataset": args.dataset, "split": args.split, "regime": args.regime,
               "source_2d": args.source_2d, "frames": args.frames, "lifter": args.lifter}
    pairs = []
    results = args.results
    if results is None and (Path("results").is_dir() or not (args.reported or
                                                           args.reported_from)):
        results = Path("results")
    if results is not None:
        runs, groups = records_frames(read_records(results, strict=False, recursive=True),
                                      roots=[results])
        pairs.append(filter_runs(runs, groups, kind=args.kind, **filters))
    if args.reported:
        pairs.append(filter_runs(*reported_frames(load_reported()), **filters))
    if args.reported_from:
        pairs.append(reported_frames(load_reported(args.reported_from)))
    runs, groups = concat_frames(*pairs)
    table = build_table(runs, groups, metrics=args.metrics, by=args.by, metric=args.metric,
                        ci=args.ci, digits=args.digits, title=args.title)
    text = table.render(args.format)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        print(f"table ({len(table.rows)} rows, {args.format}) written to {args.out}")
    else:
        print(text, end="")
    notes = []
    if args.compare:
        res = compare_rows(table, runs, groups, args.compare[0], args.compare[1],
                           metric=args.metric, over=args.over, method=args.test)
        print(res.summary())
        notes.append(f"Paired test: {res.summary()}")
    if args.publish is not None:
        paths = publish_frame(args.publish, args.title or f"Comparison table {args.publish}",
                              table.to_frame(), markdown=table.render("md"), notes=notes,
                              command=command_line(getattr(args, "argv", None)),
                              out_dir=args.tables_dir)
        print(written_line(paths), file=sys.stderr if not args.out else sys.stdout)
    return 0
