"""Tables: each row's ratio to the `copy_2d` row of its protocol and test sets; under-training."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from liftbench.leaderboard.frames import records_frames
from liftbench.leaderboard.gate import UNDER_TRAINED, baseline_column
from liftbench.leaderboard.records import RunRecord
from liftbench.leaderboard.tables import build_table

PROTO = dict(dataset="synthetic", split="in-domain", source_2d="gt", frames=27, stride=27,
             flip_tta=True, joints_evaluated=list(range(17)), averaging="frame",
             scale="2.5D x factor")


def rec(run_id: str, lifter: str, seed: int, mpjpe: float, key: str | None = None,
        **proto: object) -> RunRecord:
    """A fit record on test set `key` (`protocol.cache_key`; None: unknown)."""
    protocol = {**PROTO, **proto}
    if key is not None:
        protocol["cache_key"] = key
    return RunRecord(
        run_id=run_id, kind="fit", created=f"2026-12-01T00:00:0{seed}+00:00",
        lifter={"name": lifter, "size": "tiny", "params": 10}, regime={"name": "supervised"},
        protocol=protocol, metrics={"mpjpe": mpjpe, "pa_mpjpe": mpjpe / 2, "pck": 100 - mpjpe},
        groups={"action": {"kick": {"mpjpe": mpjpe + 1}, "run": {"mpjpe": mpjpe - 1}}},
        seed=seed)


def records() -> list[RunRecord]:
    return [
        rec("c0", "copy_2d", 0, 100.0, "k0"), rec("c1", "copy_2d", 1, 110.0, "k1"),
        rec("a0", "simplebaseline", 0, 50.0, "k0"), rec("a1", "simplebaseline", 1, 55.0, "k1"),
        rec("b0", "videopose3d_27", 0, 70.0, "k0"), rec("b1", "videopose3d_27", 1, 77.0, "k1"),
        # another seed's clips: copy_2d never ran on them
        rec("e2", "canonpose", 2, 40.0, "k2"),
        # another protocol (detected 2D), no copy_2d there
        rec("d0", "motionbert", 0, 30.0, "k0", source_2d="det:synthetic-detector"),
    ]


def test_rows_show_their_ratio_and_under_trained_rows_are_named():
    table = build_table(*records_frames(records()))
    ratio = {r.lifter.split(" ")[0]: r.baseline_ratio for r in table.rows}
    assert ratio["simplebaseline"] == pytest.approx(52.5 / 105.0)  # row means, same clips
    assert ratio["videopose3d_27"] == pytest.approx(73.5 / 105.0)
    assert ratio["canonpose"] is None and ratio["motionbert"] is None and ratio["copy_2d"] is None
    md = table.render("md")
    assert "| protocol | × copy_2d | MPJPE ↓ |" in md
    assert "| P1 | 0.50 | _52.5_ ± 2.5 |" in md and "| P1 | 0.70 | 73.5 ± 3.5 |" in md
    under = [n for n in table.notes() if n.startswith("Under-trained")]
    assert under == [f"Under-trained (> {UNDER_TRAINED:g}× copy_2d; their ranking says nothing "
                     "about the architectures): videopose3d_27 (tiny) · supervised."]
    assert any(n.startswith("× copy_2d: the row's MPJPE / that of the copy_2d row")
               for n in table.notes())
    frame = pd.read_csv(io.StringIO(table.render("csv")))
    by_lifter = dict(zip(frame["lifter"], frame["copy_2d_ratio"]))
    assert by_lifter["simplebaseline (tiny)"] == pytest.approx(0.5, rel=1e-12)
    assert pd.isna(by_lifter["canonpose (tiny)"])
    latex = table.render("latex")
    assert r"$\times$ copy\_2d" in latex and "l" * 6 + "r" * len(table.columns) in latex
    assert "<th>× copy_2d</th>" in table.render("html")


def test_no_copy_2d_row_no_column():
    table = build_table(*records_frames([r for r in records() if r.lifter["name"] != "copy_2d"]))
    assert all(r.baseline_ratio is None for r in table.rows)
    assert "copy_2d" not in table.render("md") and "copy_2d_ratio" in table.render("csv")


def test_per_action_tables_and_records_without_test_sets():
    by_action = build_table(*records_frames(records()), by="action", metric="mpjpe")
    row = next(r for r in by_action.rows if r.lifter.startswith("simplebaseline"))
    assert row.baseline_metric == "all" and row.baseline_ratio == pytest.approx(0.5)
    # older records without a cache key: the only copy_2d row of the protocol is the baseline
    old = [rec("c0", "copy_2d", 0, 100.0), rec("a0", "simplebaseline", 0, 80.0)]
    (copy, lifter) = build_table(*records_frames(old)).rows
    assert copy.baseline_ratio is None and lifter.baseline_ratio == pytest.approx(0.8)
    old.append(rec("c1", "copy_2d", 1, 90.0, split="other"))  # still one copy_2d row in P1
    assert build_table(*records_frames(old)).row("simplebaseline").baseline_ratio == 0.8


def test_baseline_column():
    assert baseline_column(["pck", "pa_mpjpe", "mpjpe"], [True, False, False]) == "mpjpe"
    assert baseline_column(["pck", "n_mpjpe"], [True, False]) == "n_mpjpe"
    assert baseline_column(["kick", "all"], [False, False]) == "all"
    assert baseline_column(["pck"], [True]) is None
