"""Comparison tables: run records (and the papers' reported rows) → pandas → a ranked table.

```
runs, groups = records_frames(read_records("results"))           # one row per run / per group
runs, groups = filter_runs(runs, groups, dataset="synthetic", regime=["supervised"])
table = build_table(runs, groups, ci="seeds")                    # rows lifter × regime
print(table.render("md"))                                        # md | latex | csv | html
```

A row is one experiment: measured runs are the seeds of one row only when their whole config
differs by the seed alone (`leaderboard.frames.experiment_variants`; a run started from a
checkpoint counts as started from the experiment that wrote it, `leaderboard.lineage`) and
their kind (fit or test) and protocol agree; rows of one lifter · regime that differ otherwise
are labelled by the config keys in which they differ, and a row started from a checkpoint by
`init_from=(a)`, with a note saying what `(a)` is. A cell is the mean over the row's runs ±
half the width of a 95% percentile-bootstrap CI (over seeds, or over the per-action values with
`ci="groups"`). Rows
whose protocols differ (the evaluation scale included) are never ranked against each other:
every row carries a protocol tag (P1 = the reference, the most common protocol among measured
rows), rows with another protocol show which fields differ, and best / second best are marked
within each protocol. When the table holds a `copy_2d` row, every measured row of the same
protocol and test sets shows its ratio to it (`× copy_2d`), and rows above 0.6× are named
under-trained in the notes (`leaderboard.gate`).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from liftbench.leaderboard import formats
from liftbench.leaderboard.frames import MEASURED, short_key
from liftbench.leaderboard.gate import attach_baseline_ratios, baseline_column, baseline_notes
from liftbench.leaderboard.reported import PROTOCOL_FIELDS
from liftbench.leaderboard.stats import PairedResult, bootstrap_ci, paired_test
from liftbench.leaderboard.table_model import (
    HIGHER_IS_BETTER,
    METRIC_LABELS,
    METRIC_ORDER,
    PROTOCOL_LABELS,
    Cell,
    TableData,
    TableRow,
    norm_value,
    protocol_differs,
)

CI_MODES = ("seeds", "groups", "none")


class LeaderboardTable(TableData):
    """A ranked comparison table; `render(fmt)` writes it as md, latex, csv or html."""

    def render(self, fmt: str = "md") -> str:
        """The table as text: `md` (markdown), `latex` (booktabs), `csv` or `html`."""
        return formats.render(self, fmt)


def _cell(values: Sequence[float], ci: str, level: float, n_boot: int, seed: int) -> Cell | None:
    x = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not x:
        return None
    if ci == "none":
        m = float(np.mean(x))
        return Cell(m, m, m, len(x))
    mean, low, high = bootstrap_ci(x, level=level, n_boot=n_boot, seed=seed)
    return Cell(mean, low, high, len(x))


def _row_key(run: pd.Series) -> tuple:
    proto = tuple(norm_value(run[k]) for k in PROTOCOL_FIELDS)
    if run["source"] != MEASURED:
        return (run["source"], run["run_id"])
    return (MEASURED, run["lifter"], norm_value(run["size"]), run["regime"], run["variant"],
            json.dumps(proto, default=str))


def build_table(runs: pd.DataFrame, groups: pd.DataFrame | None = None, *,
                metrics: Sequence[str] | None = None, by: str | None = None,
                metric: str = "mpjpe", ci: str = "seeds", level: float = 0.95,
                n_boot: int = 2000, seed: int = 0, digits: int = 1,
                title: str = "") -> LeaderboardTable:
    """Build the ranked table.

    Args:
        runs: one row per run (`records_frames`, `reported_frames`, `concat_frames`).
        groups: the long-form per-action breakdown (needed for `by="action"`, `ci="groups"`).
        metrics: metric columns (default: every known metric present, in METRIC_ORDER).
        by: None (columns = metrics) or `"action"` (columns = actions of `metric`, plus `all`).
        metric: the metric of a per-action table.
        ci: `"seeds"`, `"groups"` (bootstrap over the per-action values) or `"none"`.
        level: CI coverage.
        n_boot: bootstrap resamples.
        seed: bootstrap seed (the same inputs always render the same table).
        digits: decimals shown (ranking uses the shown values, so visible ties tie).
        title: caption.
    """
    if ci not in CI_MODES:
        raise ValueError(f"ci must be one of {CI_MODES}, got {ci!r}")
    if by not in (None, "action"):
        raise ValueError(f"by must be None or 'action', got {by!r}")
    if by and ci == "groups":
        raise ValueError("ci='groups' bootstraps over actions; it cannot be used with by='action'")
    if runs.empty:
        raise ValueError("no runs to tabulate (check the results directory and the filters)")
    groups = groups if groups is not None else pd.DataFrame(
        columns=["run_id", "member", "metric", "value"])
    if by:
        sub = groups[groups["metric"] == metric]
        columns = list(dict.fromkeys(sub.sort_values("member", kind="stable")["member"]))
        if not columns:
            raise ValueError(f"no per-action {metric!r} values in these runs")
        columns.append("all")
        labels = [*columns[:-1], "all"]
        higher = [metric in HIGHER_IS_BETTER] * len(columns)
    else:
        present = [m for m in METRIC_ORDER if m in runs and runs[m].notna().any()]
        columns = list(metrics) if metrics else present
        unknown = [m for m in columns if m not in runs]
        if unknown:
            raise ValueError(f"metric(s) {unknown} not in these runs (present: {present})")
        labels = [METRIC_LABELS.get(m, m) for m in columns]
        higher = [m in HIGHER_IS_BETTER for m in columns]

    per_run = {rid: sub for rid, sub in groups.groupby("run_id")} if len(groups) else {}
    buckets: dict[tuple, list[pd.Series]] = {}
    for _, run in runs.iterrows():
        buckets.setdefault(_row_key(run), []).append(run)

    rows = []
    lifters: dict[int, str] = {}  # id(row) -> registered lifter name (the gate's copy_2d rows)
    test_sets: dict[int, frozenset[str]] = {}  # id(row) -> its runs' protocol.cache_key
    for members in buckets.values():
        first = members[0]
        ids = [m["run_id"] for m in members]
        proto = {k: norm_value(first[k]) for k in PROTOCOL_FIELDS}
        cells: dict[str, Cell | None] = {}
        measured = first["source"] == MEASURED
        if by:
            member_vals = _member_values(per_run, ids, metric)
            for col in columns[:-1]:
                cells[col] = _cell(member_vals.get(col, []), ci, level, n_boot, seed)
            cells["all"] = _cell([m.get(metric) for m in members], ci, level, n_boot, seed)
        else:
            for col in columns:
                vals = [m.get(col) for m in members]
                if ci == "groups":
                    member_vals = _member_values(per_run, ids, col)
                    means = [float(np.mean(v)) for v in member_vals.values() if v]
                    if means:
                        vals = means
                cells[col] = _cell(vals, ci, level, n_boot, seed)
        if ci == "groups" and measured and not by:
            proto["averaging"] = "action"
        if all(c is None for c in cells.values()):
            continue
        rows.append(TableRow(lifter=str(first["lifter"]) + (
            f" ({first['size']})" if measured and norm_value(first["size"]) else ""),
            regime=str(first["regime"]), source=str(first["source"]), run_ids=ids,
            protocol=proto, cells=cells, variant=str(first["variant"]),
            order=int(first.get("order", 0) or 0), identity=_text(first.get("identity")),
            parent=_text(first.get("init_from")) or None,
            parent_text=_text(first.get("init_from_text"))))
        lifters[id(rows[-1])] = str(first["lifter"])
        test_sets[id(rows[-1])] = frozenset(_text(m.get("test_set")) for m in members
                                            if _text(m.get("test_set")))
    if not rows:
        raise ValueError("none of the runs has a value in the requested columns")
    protocols = _assign_protocols(rows)
    tag_index = {tag: i for i, (tag, _) in enumerate(protocols)}
    rows.sort(key=lambda r: (tag_index[r.tag], not r.measured, r.order, r.lifter, r.regime,
                             r.variant))
    marks = _parent_marks(rows)
    _disambiguate(rows)
    _mark(rows, columns, higher, digits)
    gate_col = baseline_column(columns, higher)
    attach_baseline_ratios(rows, lifters, test_sets, gate_col)
    gate_label = f"{METRIC_LABELS.get(metric, metric)} (all actions)" if gate_col == "all" \
        else METRIC_LABELS.get(gate_col or "", gate_col or "")
    return LeaderboardTable(columns=columns, column_labels=labels, higher_better=higher,
                            rows=rows, protocols=protocols, by=by, metric=metric if by else None,
                            ci=ci, level=level, digits=digits, title=title,
                            parents=_parent_notes(rows, marks),
                            gate_notes=baseline_notes(rows, gate_label))


def _text(value: Any) -> str:
    """A frame cell as text ('' for missing / NaN)."""
    value = norm_value(value)
    return "" if value is None else str(value)


def _parent_marks(rows: list[TableRow]) -> dict[str, str]:
    """Footnote marks `a`, `b`, ... per distinct parent, in row order (set on the rows)."""
    marks: dict[str, str] = {}
    for r in rows:
        if r.measured and r.parent:
            if r.parent not in marks:
                i, name = len(marks), ""
                while True:  # a..z, then aa, ab, ...
                    name = chr(ord("a") + i % 26) + name
                    i = i // 26 - 1
                    if i < 0:
                        break
                marks[r.parent] = name
            r.parent_ref = marks[r.parent]
    return marks


def _parent_notes(rows: list[TableRow], marks: dict[str, str]) -> list[tuple[str, str]]:
    """Per mark: what the runs marked `init_from=(mark)` started from.

    A parent experiment that is itself a row of the table is named by that row's label (its
    fit row when its `test` records form another row).
    """
    texts = {r.parent: r.parent_text for r in rows if r.parent}
    out = []
    for identity, mark in marks.items():
        owners = [r for r in rows if r.measured and r.identity == identity]
        owners.sort(key=lambda r: json.loads(r.variant).get("kind") != "fit")
        if owners:
            text = (f"checkpoints of the runs of row \"{owners[0].label}\" "
                    f"(config {identity.rpartition(' ')[2]})")
        else:
            text = texts[identity] or identity
        out.append((mark, text))
    return out


def _member_values(per_run: dict[str, pd.DataFrame], run_ids: Sequence[str],
                   metric: str) -> dict[str, list[float]]:
    """Per action, the values of `metric` over the given runs (one per run that has it)."""
    out: dict[str, list[float]] = {}
    for rid in run_ids:
        sub = per_run.get(rid)
        if sub is None:
            continue
        sel = sub[sub["metric"] == metric]
        for member, value in zip(sel["member"], sel["value"]):
            if math.isfinite(value):
                out.setdefault(member, []).append(float(value))
    return {k: v for k, v in out.items() if v}


def _disambiguate(rows: list[TableRow]) -> None:
    """Measured rows of one lifter · regime are labelled by the config values that differ.

    A key one row does not set shows as `default`. A row whose runs started from a checkpoint
    always shows `init_from=(mark)` (the notes say what the mark names, `_parent_notes`); a row
    started from scratch shows no `init_from`.
    """
    unset = object()

    def text(v: Any) -> str:
        if v is unset:
            return "default"
        if isinstance(v, bool) or v is None:
            return {True: "true", False: "false", None: "null"}[v]
        return f"{v:g}" if isinstance(v, (int, float)) else str(v)

    counts = Counter((r.lifter, r.regime, r.source) for r in rows)
    for r in rows:
        if not r.measured:
            continue
        mine = json.loads(r.variant)
        diff = set()
        if counts[(r.lifter, r.regime, r.source)] >= 2:
            others = [json.loads(o.variant) for o in rows
                      if o is not r and (o.lifter, o.regime, o.source) == (r.lifter, r.regime,
                                                                           r.source)]
            diff = {k for k in set(mine).union(*others)
                    if any(o.get(k, unset) != mine.get(k, unset) for o in others)}
        if r.parent_ref:
            diff.add("init_from")
        else:
            diff.discard("init_from")  # a row without `(mark)` started from scratch
        if diff:
            r.note = " [" + ", ".join(
                f"{short_key(k)}=({r.parent_ref})" if k == "init_from" and r.parent_ref
                else f"{short_key(k)}={text(mine.get(k, unset))}" for k in sorted(diff)) + "]"


def _assign_protocols(rows: list[TableRow]) -> list[tuple[str, dict[str, Any]]]:
    def sig(r: TableRow) -> str:
        return json.dumps([r.protocol[k] for k in PROTOCOL_FIELDS], default=str)

    pool = [r for r in rows if r.measured] or rows
    counts = Counter(sig(r) for r in pool)
    first_seen = {s: i for i, s in reversed(list(enumerate(sig(r) for r in pool)))}
    ref = max(counts, key=lambda s: (counts[s], -first_seen[s]))
    order = [ref] + [s for s in dict.fromkeys(sig(r) for r in rows) if s != ref]
    tags = {s: f"P{i + 1}" for i, s in enumerate(order)}
    by_sig = {sig(r): r.protocol for r in rows}
    ref_proto = by_sig[ref]
    for r in rows:
        r.tag = tags[sig(r)]
        r.differs = [PROTOCOL_LABELS[k] for k in protocol_differs(r.protocol, ref_proto)]
    return [(tags[s], by_sig[s]) for s in order]


def _mark(rows: list[TableRow], columns: list[str], higher: list[bool], digits: int) -> None:
    for tag in dict.fromkeys(r.tag for r in rows):
        members = [r for r in rows if r.tag == tag]
        for col, up in zip(columns, higher):
            shown = {id(r): round(r.cells[col].mean, digits) for r in members
                     if r.cells.get(col) is not None}
            if len(shown) < 2:
                continue
            ranked = sorted(set(shown.values()), reverse=up)
            for r in members:
                v = shown.get(id(r))
                if v == ranked[0]:
                    r.marks[col] = 1
                elif len(shown) >= 3 and len(ranked) > 1 and v == ranked[1]:
                    r.marks[col] = 2


# ------------------------------------------------------------------------------- paired tests
def compare_rows(table: LeaderboardTable, runs: pd.DataFrame, groups: pd.DataFrame | None,
                 a: str, b: str, metric: str = "mpjpe", over: str = "action",
                 method: str = "permutation", n_boot: int = 2000,
                 seed: int = 0) -> PairedResult:
    """Paired test between two rows of `table` on the units they share.

    Args:
        table: the built table (rows are found by label, see `LeaderboardTable.row`).
        runs: the runs frame the table was built from.
        groups: its long-form per-action frame (needed for `over="action"`).
        a: label of row a (or a unique substring of it); the difference is a − b.
        b: label of row b.
        metric: the metric compared.
        over: `"action"` (per-action values, each the mean over the row's seeds) or `"seed"`
            (the overall metric of each seed, paired by seed number).
        method: `"permutation"`, `"wilcoxon"` or `"ttest"` (see `leaderboard.stats`).
        n_boot: bootstrap resamples for the CI of the mean difference.
        seed: bootstrap seed.
    """
    if over not in ("action", "seed"):
        raise ValueError(f"over must be 'action' or 'seed', got {over!r}")
    ra, rb = table.row(a), table.row(b)
    units = []
    for r in (ra, rb):
        if over == "action":
            per_run = {rid: s for rid, s in groups.groupby("run_id")} if groups is not None \
                else {}
            vals = _member_values(per_run, r.run_ids, metric)
            units.append({k: float(np.mean(v)) for k, v in vals.items()})
        else:
            sub = runs[runs["run_id"].isin(r.run_ids)]
            if metric not in sub:
                raise ValueError(f"metric {metric!r} not in these runs")
            by_seed = sub.dropna(subset=["seed"]).groupby("seed")[metric].mean()
            units.append({str(int(s)): float(v) for s, v in by_seed.items()})
    result = paired_test(units[0], units[1], metric=metric, over=over, method=method,
                         labels=(ra.label, rb.label), n_boot=n_boot, seed=seed)
    result.protocols_differ = bool(protocol_differs(ra.protocol, rb.protocol))
    return result
