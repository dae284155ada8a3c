"""Run records (and the papers' reported rows) as pandas frames, with each run's row identity.

Two measured runs are seeds of one table row only when their whole configuration differs by the
seed alone. `experiment_variants` gives each record that identity: its config flattened to
dotted keys, minus the keys that name or place a run without changing the experiment (seed, run
name, output and results folders, the checkpoint a run resumes from, the logger, the sweep's id
and trial, the group option names). `init_from` is replaced by the identity of what the run
started from (`leaderboard.lineage`): the experiment of the run that wrote the checkpoint (so
the runs initialised from the pre-trained seeds 0, 1, 2 of one experiment are seeds of one row),
or a foreign file's content hash.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from liftbench.leaderboard.lineage import Lineage
from liftbench.leaderboard.records import RunRecord
from liftbench.leaderboard.reported import (
    PROTOCOL_DEFAULTS,
    PROTOCOL_FIELDS,
    SINGLE_HYPOTHESIS,
    ReportedRow,
)

MEASURED = "measured here"
FILTERS = ("dataset", "split", "regime", "source_2d", "frames", "lifter", "kind")


def experiment_variants(records: Sequence[RunRecord],
                        roots: Iterable[str | os.PathLike] = ()) -> dict[str, dict[str, Any]]:
    """Per run id: the flattened config that identifies its experiment (see the module doc).

    Records without a stored config (hand-written ones) fall back to their loss weights and
    sweep parameters. `roots`: folders to look up relative `init_from` paths from
    (`lineage.Lineage`).
    """
    lineage = Lineage(records, roots)
    return {r.run_id: lineage.variant(r) for r in records}


def short_key(key: str) -> str:
    """A config key as row labels show it (`regime.loss.w_con` → `w_con`, `data.kwargs.x` → …).

    `data.kwargs.x` → `data.x`, `model.kwargs.x` → `model.x`; other keys unchanged.
    """
    return key.removeprefix("regime.loss.").replace(".kwargs.", ".")


def _protocol_of(proto: dict[str, Any]) -> dict[str, Any]:
    out = {k: proto.get(k) for k in PROTOCOL_FIELDS if k != "joints"}
    joints = proto.get("joints_evaluated", proto.get("joints"))
    out["joints"] = len(joints) if isinstance(joints, (list, tuple)) else joints
    if out["hypotheses"] is None:  # a single-pose record (the field is the diffusion regime's)
        out["hypotheses"] = SINGLE_HYPOTHESIS
    for key, default in PROTOCOL_DEFAULTS.items():  # records written before these fields
        if out[key] is None:
            out[key] = default
    return {k: out[k] for k in PROTOCOL_FIELDS}


def records_frames(records: Sequence[RunRecord], group: str = "action",
                   roots: Iterable[str | os.PathLike] = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run records as two frames.

    Args:
        records: the run records.
        group: which breakdown goes into `groups` (per action by default).
        roots: folders to look up relative `init_from` paths from, after the working directory
            (with their ancestors; `lineage.Lineage`), e.g. the results folder read.

    Returns:
        `runs`: one row per run — run_id, source, lifter, size, regime, loss_weights, variant
        (JSON text: the run's experiment identity, `experiment_variants`, and its kind),
        identity (`"<lifter> <regime> #<hash>"` of that variant without the kind), init_from
        and init_from_text (what the run started from: its identity and how notes name it;
        None without `init_from`), seed, kind, created,
        config_hash, sweep_id, sweep_trial, the protocol fields (`joints` = number of joints
        evaluated), one column per metric (mm or %), one `w.<name>` column per loss weight and
        one `param.<dotted key>` per sweep parameter.
        `groups`: long form — run_id, member, metric, value — of the records' `group`
        breakdown.
    """
    lineage = Lineage(records, roots)
    rows, long = [], []
    for r in records:
        weights = dict(r.regime.get("loss_weights") or {})
        parent = lineage.parent(r)
        row = {
            "run_id": r.run_id, "source": MEASURED, "lifter": r.lifter["name"],
            "size": r.lifter.get("size"), "regime": r.regime["name"],
            "loss_weights": json.dumps(weights, sort_keys=True),
            # a `test` of a fit's checkpoint is another record of the same run, not a seed
            "variant": json.dumps({**lineage.variant(r), "kind": r.kind}, sort_keys=True,
                                  default=str),
            "identity": lineage.identity(r),
            "init_from": parent.identity if parent else None,
            "init_from_text": parent.text if parent else None,
            "seed": r.seed,
            "kind": r.kind, "created": r.created, "config_hash": r.config_hash,
            "sweep_id": (r.sweep or {}).get("id"), "sweep_trial": (r.sweep or {}).get("trial"),
            "order": 0, "test_set": (r.protocol or {}).get("cache_key"),
            **_protocol_of(r.protocol),
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
            "identity": None, "init_from": None, "init_from_text": None,
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
                                   "loss_weights", "variant", "identity", "init_from",
                                   "init_from_text", "seed", "kind", "order",
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
