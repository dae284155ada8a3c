"""The papers' published numbers as data (`leaderboard/reported/*.yaml`), beside measured runs.

One YAML file per paper: `paper` (short id), `display` (name shown in tables), `title`,
`authors`, `source`, and `tables`, each with an `id` (e.g. `kasportsformer_t1`), the paper's
`table` label, a `caption`, `defaults` (protocol fields shared by its rows) and `rows`.
A row names the `method` and holds `metrics` (overall, our metric names, mm or %) and/or
`actions` (metric → action → value). Every row ends up with all protocol fields (dataset,
split, source_2d, frames, stride, flip_tta, joints, averaging, scale), where `null` means the
paper does not say (shown as "?"; it counts as a protocol difference). `scale` (the evaluation
space, e.g. `2.5D x factor` or `up to scale`) may be left out and is then `null`; `hypotheses`
(how many poses one result aggregates, e.g. "H=5, K=5, p_agg") may be left out and is then 1;
`output` (`seq2seq`, or `centre` for a sequence-to-frame lifter) and `joint_set` (`h36m17`) may
be left out and then take those values.
Comments in the YAML files record what was read from the paper text and its quirks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPORTED_DIR = Path(__file__).resolve().parent / "reported"
PROTOCOL_FIELDS = ("dataset", "split", "source_2d", "frames", "stride", "flip_tta", "joints",
                   "averaging", "scale", "hypotheses", "output", "joint_set")
#: defaults of the protocol fields that older records and most papers leave unsaid: a
#: sequence-to-sequence lifter (every frame of a window scored; "centre" for seq2frame lifters
#: such as P-STMO) on H36M-17 joints
PROTOCOL_DEFAULTS = {"output": "seq2seq", "joint_set": "h36m17"}
#: `hypotheses` of a single-pose result; a multi-hypothesis one says e.g. "H=5, K=5, p_agg"
SINGLE_HYPOTHESIS = 1
KNOWN_METRICS = ("mpjpe", "pa_mpjpe", "n_mpjpe", "spa_mpjpe", "mpjve", "pck", "auc", "n_pck",
                 "jdr")
_ROW_FIELDS = {"method", "regime", "training", "metrics", "actions", *PROTOCOL_FIELDS}


@dataclass
class ReportedRow:
    """One published result row with its protocol fields (see the module docstring)."""

    id: str
    paper: str
    display: str
    table: str
    table_id: str
    method: str
    regime: str | None
    training: str | None
    protocol: dict[str, Any]
    metrics: dict[str, float]
    actions: dict[str, dict[str, float]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def source_label(self) -> str:
        """`"reported: <paper> <Table N>"`, the row's source as tables show it."""
        return f"reported: {self.display} {self.table}"


def _check_values(values: Any, where: str) -> dict[str, float]:
    if not isinstance(values, dict):
        raise ValueError(f"{where} must be a mapping of metric name to number, got {values!r}")
    out = {}
    for name, value in values.items():
        if name not in KNOWN_METRICS:
            raise ValueError(
                f"{where}: unknown metric {name!r} (known: {', '.join(KNOWN_METRICS)})")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                not math.isfinite(value):
            raise ValueError(f"{where}: {name} must be a finite number, got {value!r}")
        out[name] = float(value)
    return out


def _parse_row(paper: str, display: str, table: dict[str, Any], index: int, raw: dict[str, Any],
               where: str) -> ReportedRow:
    merged = {"scale": None, "hypotheses": SINGLE_HYPOTHESIS, **PROTOCOL_DEFAULTS,
              **(table.get("defaults") or {}), **raw}
    if not merged.get("method"):
        raise ValueError(f"{where}: every row needs a 'method'")
    missing = [k for k in PROTOCOL_FIELDS if k not in merged]
    if missing:
        raise ValueError(f"{where} ({merged['method']}): protocol fields {missing} missing "
                         f"(write null when the paper does not say)")
    metrics = _check_values(merged.get("metrics") or {}, f"{where} metrics")
    actions_raw = merged.get("actions") or {}
    if not isinstance(actions_raw, dict):
        raise ValueError(f"{where}: actions must map metric → action → value")
    actions = {}
    for metric, per_action in actions_raw.items():
        if metric not in KNOWN_METRICS:
            raise ValueError(f"{where}: unknown metric {metric!r} in actions")
        if not isinstance(per_action, dict):
            raise ValueError(f"{where}: actions.{metric} must map action names to numbers")
        actions[metric] = {
            str(action): _check_values({metric: value}, f"{where} actions.{metric}.{action}")[
                metric]
            for action, value in per_action.items()
        }
    if not metrics and not actions:
        raise ValueError(f"{where} ({merged['method']}): a row needs metrics or actions")
    return ReportedRow(
        id=f"{table['id']}:{index}",
        paper=paper,
        display=display,
        table=str(table["table"]),
        table_id=str(table["id"]),
        method=str(merged["method"]),
        regime=merged.get("regime"),
        training=merged.get("training"),
        protocol={k: merged[k] for k in PROTOCOL_FIELDS},
        metrics=metrics,
        actions=actions,
        extra={k: v for k, v in merged.items() if k not in _ROW_FIELDS},
    )


def load_reported_file(path: str | Path) -> list[ReportedRow]:
    """Every row of one paper's YAML file (validated; errors name the file and row)."""
    path = Path(path)
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or "paper" not in data or "tables" not in data:
        raise ValueError(f"{path}: a reported-numbers file needs 'paper' and 'tables'")
    rows = []
    for table in data["tables"]:
        for key in ("id", "table", "rows"):
            if key not in table:
                raise ValueError(f"{path}: every table needs {key!r}")
        for i, raw in enumerate(table["rows"]):
            rows.append(_parse_row(str(data["paper"]), str(data.get("display", data["paper"])),
                                   table, i, raw,
                                   f"{path.name} {table['id']} row {i}"))
    return rows


def load_reported(tables: str | list[str] | None = None, paper: str | None = None,
                  directory: str | Path = REPORTED_DIR) -> list[ReportedRow]:
    """Load reported rows, optionally only some papers' or tables' (ids as in `list_tables`).

    Args:
        tables: table ids (`"kasportsformer_t1"`) or a paper name (`"kasportsformer"`) to keep.
        paper: keep only this paper's rows.
        directory: folder of the YAML files (default: the packaged `leaderboard/reported`).
    """
    files = sorted(Path(directory).glob("*.yaml"))
    rows = [r for f in files for r in load_reported_file(f)]
    seen: dict[str, str] = {}
    for r in rows:
        if seen.setdefault(r.table_id, r.paper) != r.paper:
            raise ValueError(f"table id {r.table_id!r} is used by two papers")
    if paper is not None:
        rows = [r for r in rows if r.paper == paper]
    if tables is not None:
        wanted = [tables] if isinstance(tables, str) else list(tables)
        known = {r.table_id for r in rows} | {r.paper for r in rows}
        unknown = [t for t in wanted if t not in known]
        if unknown:
            raise ValueError(f"unknown reported table(s) {unknown} (known: {sorted(known)})")
        rows = [r for r in rows if r.table_id in wanted or r.paper in wanted]
    return rows


def list_tables(directory: str | Path = REPORTED_DIR) -> list[dict[str, Any]]:
    """One entry per transcribed table: id, paper, table label, caption, row count."""
    out = []
    for f in sorted(Path(directory).glob("*.yaml")):
        data = yaml.safe_load(f.read_text())
        for t in data["tables"]:
            out.append({"id": t["id"], "paper": data["paper"], "table": t["table"],
                        "caption": t.get("caption", ""), "rows": len(t["rows"])})
    return out
