"""`liftbench perf records`: many processes writing run records at once, a table read meanwhile.

W writer processes each write R records into one fresh directory while a reader process keeps
loading the directory and rendering the comparison table. Afterwards every record is read back
and checked against the value its writer put in: lost, corrupt (unreadable or wrong value) and
leftover temporary files are counted (all must be 0). Also timed: records written per second
and loading + tabulating the whole directory.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NAME = "records"
HELP = "concurrent record writers + a table reader: lost / corrupt records, write and read rates"

_WRITER = """
import sys
from liftbench.leaderboard.records import RunRecord, write_record
root, w, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
proto = dict(dataset="synthetic", split="daily->sports", source_2d="gt", frames=27, stride=27,
             flip_tta=True, joints_evaluated=list(range(17)), averaging="frame")
for k in range(n):
    v = float(w * 100000 + k)
    write_record(RunRecord(
        run_id=f"w{w}-{k}", kind="fit", created="2026-12-01T00:00:00+00:00",
        lifter={"name": f"lifter{w % 4}", "size": "tiny"}, regime={"name": "supervised"},
        protocol=proto, metrics={"mpjpe": v, "pa_mpjpe": v / 2}, seed=k,
        groups={"action": {"kick": {"mpjpe": v}, "run": {"mpjpe": v + 1}}}), root)
"""

_READER = """
import sys, time
from liftbench.leaderboard.frames import records_frames
from liftbench.leaderboard.records import read_records
from liftbench.leaderboard.tables import build_table
root, total = sys.argv[1], int(sys.argv[2])
print("ready", flush=True)
reads, partial, seen = 0, 0, 0
deadline = time.time() + 600
while time.time() < deadline:
    recs = read_records(root)
    if len(recs) < seen:
        raise SystemExit(f"record count went down: {seen} -> {len(recs)}")
    seen = len(recs)
    if recs:
        build_table(*records_frames(recs)).render("md")
    reads += 1
    partial += 0 < seen < total
    if seen == total:
        break
print(reads, partial)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the records benchmark."""
    parser.add_argument("--writers", type=int, default=8, help="writer processes (default 8)")
    parser.add_argument("--per-writer", type=int, default=100,
                        help="records per writer (default 100)")


def run(args: argparse.Namespace) -> dict:
    """Run the writers and the reader, then audit the directory."""
    from liftbench.leaderboard.frames import records_frames
    from liftbench.leaderboard.records import read_record, read_records
    from liftbench.leaderboard.tables import build_table

    if args.writers < 1 or args.per_writer < 1:
        raise ValueError("--writers and --per-writer must be >= 1")
    total = args.writers * args.per_writer
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        reader = subprocess.Popen([sys.executable, "-c", _READER, tmp, str(total)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if reader.stdout.readline().strip() != "ready":  # imports done: it reads while we write
            raise RuntimeError(f"the reader did not start: {reader.communicate()[1][-500:]}")
        t0 = time.perf_counter()
        writers = [subprocess.Popen([sys.executable, "-c", _WRITER, tmp, str(w),
                                     str(args.per_writer)]) for w in range(args.writers)]
        codes = [p.wait() for p in writers]
        write_s = time.perf_counter() - t0
        out, err = reader.communicate(timeout=600)
        if reader.returncode != 0:
            raise RuntimeError(f"the concurrent reader failed: {err.strip()[-500:]}")
        corrupt, lost = 0, 0
        for w in range(args.writers):
            for k in range(args.per_writer):
                path = root / f"w{w}-{k}.json"
                if not path.exists():
                    lost += 1
                    continue
                try:
                    ok = read_record(path).metrics["mpjpe"] == float(w * 100000 + k)
                except ValueError:
                    ok = False
                corrupt += not ok
        leftovers = len(list(root.glob(".*")))
        t1 = time.perf_counter()
        table = build_table(*records_frames(read_records(root)))
        table.render("md")
        read_s = time.perf_counter() - t1
    result = {
        "writers": args.writers, "records": total, "writer_failures": sum(c != 0 for c in codes),
        "lost": lost, "corrupt": corrupt, "temp_files_left": leftovers,
        "reader_passes": int(out.split()[0]), "reader_passes_mid_write": int(out.split()[1]),
        "write_s": round(write_s, 3),
        "records_per_s": round(total / write_s, 1), "load_and_table_s": round(read_s, 3),
        "table_rows": len(table.rows),
    }
    for key, value in result.items():
        print(f"{key:>24}: {value}")
    return result
