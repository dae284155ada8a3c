"""Comparison tables: run records (and the papers' reported rows) → pandas → a ranked table.

```
runs, groups = records_frames(load_records("results"))          # one row per run / per group
runs, groups = filter_runs(runs, groups, dataset="synthetic", regime=["supervised"])
table = build_table(runs, groups, ci="seeds")                    # rows lifter × regime
print(table.render("md"))                                        # md | latex | csv | html
```

Rows are lifter × regime (measured runs that share lifter, size, regime, loss weights, sweep
parameters and protocol are the seeds of one row). A cell is the mean over the row's runs ±
half the width of a 95% percentile-bootstrap CI (over seeds, or over the per-action values
with `ci="groups"`). Rows whose protocols differ are never ranked against each other: every
row carries a protocol tag (P1 = the reference, the most common protocol among measured rows),
rows with another protocol show which fields differ, and best / second best are marked within
each protocol.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leaderboard.records import RunRecord, read_record
from leaderboard.reported import PROTOCOL_FIELDS, ReportedRow
from leaderboard.stats import PairedResult, bootstrap_ci, paired_test

METRIC_ORDER = ("mpjpe", "pa_mpjpe", "n_mpjpe", "spa_mpjpe", "mpjve", "pck", "auc", "n_pck",
                "jdr")
HIGHER_IS_BETTER = frozenset({"pck", "auc", "n_pck", "jdr"})
METRIC_LABELS = {
    "mpjpe": "MPJPE", "pa_mpjpe": "PA-MPJPE", "n_mpjpe": "N-MPJPE", "spa_mpjpe": "SPA-MPJPE",
    "mpjve": "MPJVE", "pck": "PCK150 %", "auc": "AUC %", "n_pck": "N-PCK %", "jdr": "JDR %",
}
PROTOCOL_LABELS = {
    "dataset": "dataset", "split": "split", "source_2d": "2D", "frames": "T",
    "stride": "stride", "flip_tta": "flip TTA", "joints": "joints", "averaging": "averaging",
}
MEASURED = "measured here"
FILTERS = ("dataset", "split", "regime", "source_2d", "frames", "lifter", "kind")
CI_MODES = ("seeds", "groups", "none")


# ------------------------------------------------------------------------------------ loading
def load_records(results_dir: str | os.PathLike, strict: bool = False) -> list[RunRecord]:
    """Every complete record in `results_dir`, safe while other processes are writing.

    Writers replace files atomically and their temporary files are dot-files, so a listed
    `*.json` is always complete; one deleted between listing and reading is skipped. Invalid
    files raise with `strict=True` and are skipped with a warning otherwise.
    """
    root = Path(results_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"results directory {root} does not exist")
    records = []
    for path in sorted(root.glob("*.json")):
        try:
            records.append(read_record(path))
        except FileNotFoundError:
            continue
        except ValueError as exc:
            if strict:
                raise
            warnings.warn(str(exc), stacklevel=2)
    return sorted(records, key=lambda r: (r.created, r.run_id))


def _protocol_of(proto: dict[str, Any]) -> dict[str, Any]:
    out = {k: proto.get(k) for k in PROTOCOL_FIELDS if k != "joints"}
    joints = proto.get("joints_evaluated", proto.get("joints"))
    out["joints"] = len(joints) if isinstance(joints, (list, tuple)) else joints
    return {k: out[k] for k in PROTOCOL_FIELDS}


def records_frames(records: Sequence[RunRecord],
                   group: str = "action") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run records as two frames.

    Returns:
        `runs`: one row per run — run_id, source, lifter, size, regime, loss_weights and
        variant (JSON text: the loss weights plus any sweep parameters but the seed), seed,
        kind, created, config_hash, sweep_id, sweep_trial, the protocol fields
        (`joints` = number of joints evaluated), one column per metric (mm or %), one
        `w.<name>` column per loss weight and one `param.<dotted key>` per sweep parameter.
        `groups`: long form — run_id, member, metric, value — of the records' `group`
        breakdown (per action by default).
    """
    rows, long = [], []
    for r in records:
        weights = dict(r.regime.get("loss_weights") or {})
        # a swept loss weight (`regime.loss.w_con`) is already among the weights
        params = {k: v for k, v in ((r.sweep or {}).get("params") or {}).items()
                  if k != "seed" and k.removeprefix("regime.loss.") not in weights}
        row = {
            "run_id": r.run_id, "source": MEASURED, "lifter": r.lifter["name"],
            "size": r.lifter.get("size"), "regime": r.regime["name"],
            "loss_weights": json.dumps(weights, sort_keys=True),
            "variant": json.dumps({**weights, **params}, sort_keys=True, default=str),
            "seed": r.seed,
            "kind": r.kind, "created": r.created, "config_hash": r.config_hash,
            "sweep_id": (r.sweep or {}).get("id"), "sweep_trial": (r.sweep or {}).get("trial"),
            "order": 0, **_protocol_of(r.protocol),
        }
        row.update({m: float(v) for m, v in r.metrics.items()})
        row.update({f"w.{k}": v for k, v in weights.items() if isinstance(v, (int, float))})
        row.update({f"param.{k}": v for k, v in ((r.sweep or {}).get("params") or {}).items()})
        rows.append(row)
        for member, values in (r.groups.get(group) or {}).items():
            long.extend({"run_id": r.run_id, "member": member, "metric": m,
                         "value": float("nan") if v is None else float(v)}
                        for m, v in values.items())
    return _frame(rows), pd.DataFrame(long, columns=["run_id", "member", "metric", "value"])


def reported_frames(rows: Sequence[ReportedRow],
                    metric_group: str = "action") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reported rows in the layout of `records_frames` (source = "reported: <paper> <table>")."""
    out, long = [], []
    for i, r in enumerate(rows):
        weights = r.extra.get("loss_weights") or {}
        row = {
            "run_id": r.id, "source": r.source_label, "lifter": r.method, "size": None,
            "regime": r.regime or "?", "loss_weights": json.dumps(weights, sort_keys=True),
            "variant": json.dumps(weights, sort_keys=True),
            "seed": None, "kind": "reported", "created": None, "config_hash": None,
            "sweep_id": None, "sweep_trial": None, "order": i + 1, **r.protocol, **r.metrics,
        }
        row.update({f"w.{k}": v for k, v in weights.items()})
        out.append(row)
        for metric, per in r.actions.items():
            long.extend({"run_id": r.id, "member": a, "metric": metric, "value": v}
                        for a, v in per.items())
    return _frame(out), pd.DataFrame(long, columns=["run_id", "member", "metric", "value"])


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    if df.empty:
        df = pd.DataFrame(columns=["run_id", "source", "lifter", "size", "regime",
                                   "loss_weights", "variant", "seed", "kind", "order",
                                   *PROTOCOL_FIELDS])
    return df


def concat_frames(*pairs: tuple[pd.DataFrame, pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stack several `(runs, groups)` pairs (e.g. measured and reported)."""
    runs = [p[0] for p in pairs if not p[0].empty]
    groups = [p[1] for p in pairs if not p[1].empty]
    return (pd.concat(runs, ignore_index=True) if runs else pairs[0][0],
            pd.concat(groups, ignore_index=True) if groups else pairs[0][1])


def _matches(series: pd.Series, wanted: Any) -> pd.Series:
    values = wanted if isinstance(wanted, (list, tuple, set)) else [wanted]
    keys = {str(v).lower() for v in values}
    return series.map(lambda v: str(v).lower() in keys)


def filter_runs(runs: pd.DataFrame, groups: pd.DataFrame | None = None,
                **filters: Any) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Keep runs whose fields match (case-insensitive; a list means any of its values).

    Args:
        runs: from `records_frames` / `reported_frames`.
        groups: the matching long-form breakdown (filtered to the kept runs), or None.
        **filters: any of dataset, split, regime, source_2d, frames, lifter, kind; None = all.
    """
    unknown = sorted(set(filters) - set(FILTERS))
    if unknown:
        raise ValueError(f"unknown filter(s) {unknown} (filters: {', '.join(FILTERS)})")
    mask = pd.Series(True, index=runs.index)
    for key, wanted in filters.items():
        if wanted is None or (isinstance(wanted, (list, tuple)) and not wanted):
            continue
        mask &= _matches(runs[key], wanted)
    kept = runs[mask]
    if groups is not None:
        groups = groups[groups["run_id"].isin(kept["run_id"])]
    return kept, groups


# ------------------------------------------------------------------------------------ tables
@dataclass
class Cell:
    """A table cell: mean, CI bounds (equal to the mean without spread) and sample count."""

    mean: float
    low: float
    high: float
    n: int


@dataclass
class TableRow:
    """One row: who (lifter, regime, source), which protocol, and its cells per column."""

    lifter: str
    regime: str
    source: str
    run_ids: list[str]
    protocol: dict[str, Any]
    cells: dict[str, Cell | None]
    tag: str = ""
    differs: list[str] = field(default_factory=list)
    marks: dict[str, int] = field(default_factory=dict)
    note: str = ""
    variant: str = "{}"  # JSON: loss weights + sweep parameters (rows differ by these)
    order: int = 0  # reported rows keep the paper's order; measured rows sort by name

    @property
    def measured(self) -> bool:
        """Whether the row comes from run records (not a paper)."""
        return self.source == MEASURED

    @property
    def label(self) -> str:
        """`lifter · regime` (plus the source for reported rows); names a row for paired tests."""
        base = f"{self.lifter} · {self.regime}{self.note}"
        return base if self.measured else f"{base} ({self.source})"


@dataclass
class LeaderboardTable:
    """A ranked comparison table; `render(fmt)` writes it as md, latex, csv or html."""

    columns: list[str]
    column_labels: list[str]
    higher_better: list[bool]
    rows: list[TableRow]
    protocols: list[tuple[str, dict[str, Any]]]
    by: str | None
    metric: str | None
    ci: str
    level: float
    digits: int
    title: str = ""

    def row(self, name: str) -> TableRow:
        """The row whose label equals `name`, or the only one containing it."""
        exact = [r for r in self.rows if r.label == name]
        found = exact or [r for r in self.rows if name in r.label]
        if len(found) != 1:
            labels = "; ".join(r.label for r in self.rows)
            raise ValueError(f"row {name!r} matches {len(found)} rows (rows: {labels})")
        return found[0]

    def notes(self, marks: str = "Bold / italic") -> list[str]:
        """Footnotes: what a cell is, what the marks (named by `marks`) mean, every protocol."""
        unit = "per action" if self.by else "overall"
        if self.ci == "seeds":
            what = (f"mean over seeds ± half-width of the {self.level:.0%} percentile-bootstrap "
                    f"CI over seeds")
        elif self.ci == "groups":
            what = (f"mean over actions ± half-width of the {self.level:.0%} percentile-bootstrap"
                    f" CI over actions (measured rows: action-averaged)")
        else:
            what = "mean over seeds"
        metric = f"{METRIC_LABELS.get(self.metric, self.metric)} " if self.by else ""
        notes = [f"Cells: {metric}{unit}, {what}; mm unless marked %; n = runs per row.",
                 f"{marks}: best / second best among rows of the same protocol only."]
        ref = self.protocols[0][1] if self.protocols else {}
        for i, (tag, proto) in enumerate(self.protocols):
            text = ", ".join(f"{PROTOCOL_LABELS[k]}={_fmt_value(proto[k])}"
                             for k in PROTOCOL_FIELDS)
            if i == 0:
                notes.append(f"{tag} (reference): {text}.")
            else:
                diff = ", ".join(PROTOCOL_LABELS[k] for k in _differs(proto, ref))
                notes.append(f"{tag}: {text} (differs from {self.protocols[0][0]} in: {diff}).")
        return notes

    def to_frame(self) -> pd.DataFrame:
        """The table as a frame with exact numbers (CI bounds and marks as extra columns)."""
        out = []
        for r in self.rows:
            d: dict[str, Any] = {"lifter": r.lifter, "regime": r.regime, "source": r.source,
                                 "n": len(r.run_ids) if r.measured else None,
                                 "protocol": r.tag, "protocol_differs": ";".join(r.differs)}
            d.update({f"protocol.{k}": r.protocol[k] for k in PROTOCOL_FIELDS})
            for col in self.columns:
                c = r.cells.get(col)
                d[col] = c.mean if c else None
                d[f"{col}_ci_low"] = c.low if c and c.n > 1 else None
                d[f"{col}_ci_high"] = c.high if c and c.n > 1 else None
                d[f"{col}_mark"] = {1: "best", 2: "second"}.get(r.marks.get(col, 0), "")
            out.append(d)
        return pd.DataFrame(out)

    def render(self, fmt: str = "md") -> str:
        """The table as text: `md` (markdown), `latex` (booktabs), `csv` or `html`."""
        from leaderboard import formats

        return formats.render(self, fmt)


def _fmt_value(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "?"
    if isinstance(v, bool):
        return "yes" if v else "no"
    return str(v)


def _norm(v: Any) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, (np.integer, np.floating)):
        v = v.item()
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def _differs(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    return [k for k in PROTOCOL_FIELDS if _norm(a.get(k)) != _norm(b.get(k))]


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
    proto = tuple(_norm(run[k]) for k in PROTOCOL_FIELDS)
    if run["source"] != MEASURED:
        return (run["source"], run["run_id"])
    return (MEASURED, run["lifter"], _norm(run["size"]), run["regime"], run["variant"],
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
    for members in buckets.values():
        first = members[0]
        ids = [m["run_id"] for m in members]
        proto = {k: _norm(first[k]) for k in PROTOCOL_FIELDS}
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
            f" ({first['size']})" if measured and _norm(first["size"]) else ""),
            regime=str(first["regime"]), source=str(first["source"]), run_ids=ids,
            protocol=proto, cells=cells, variant=str(first["variant"]),
            order=int(first.get("order", 0) or 0)))
    if not rows:
        raise ValueError("none of the runs has a value in the requested columns")
    _disambiguate(rows)
    protocols = _assign_protocols(rows)
    tag_index = {tag: i for i, (tag, _) in enumerate(protocols)}
    rows.sort(key=lambda r: (tag_index[r.tag], not r.measured, r.order, r.lifter, r.regime,
                             r.variant))
    _mark(rows, columns, higher, digits)
    return LeaderboardTable(columns=columns, column_labels=labels, higher_better=higher,
                            rows=rows, protocols=protocols, by=by, metric=metric if by else None,
                            ci=ci, level=level, digits=digits, title=title)


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
    """Rows with the same lifter · regime (a sweep's trials) get their differing values named."""
    counts = Counter((r.lifter, r.regime, r.source) for r in rows)
    for r in rows:
        if r.measured and counts[(r.lifter, r.regime, r.source)] > 1:
            weights = json.loads(r.variant)
            others = [json.loads(o.variant) for o in rows
                      if o is not r and (o.lifter, o.regime, o.source) ==
                      (r.lifter, r.regime, r.source)]
            diff = {k: v for k, v in weights.items() if any(o.get(k) != v for o in others)}
            if diff:
                r.note = " [" + ", ".join(f"{k}={v:g}" if isinstance(v, (int, float)) else
                                          f"{k}={v}" for k, v in sorted(diff.items())) + "]"


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
        r.differs = [PROTOCOL_LABELS[k] for k in _differs(r.protocol, ref_proto)]
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
    result.protocols_differ = bool(_differs(ra.protocol, rb.protocol))
    return result
