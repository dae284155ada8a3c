"""The content of a comparison table: cells, rows, the table and its footnotes.

`leaderboard.tables` builds these, `leaderboard.formats` writes them as text; this module
imports neither, so the two do not import each other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from liftbench.leaderboard.frames import MEASURED
from liftbench.leaderboard.reported import PROTOCOL_FIELDS, SINGLE_HYPOTHESIS

METRIC_ORDER = ("mpjpe", "pa_mpjpe", "n_mpjpe", "spa_mpjpe", "mpjve", "pck", "auc", "n_pck",
                "jdr")
HIGHER_IS_BETTER = frozenset({"pck", "auc", "n_pck", "jdr"})
METRIC_LABELS = {
    "mpjpe": "MPJPE", "pa_mpjpe": "PA-MPJPE", "n_mpjpe": "N-MPJPE", "spa_mpjpe": "SPA-MPJPE",
    "mpjve": "MPJVE", "pck": "PCK150 %", "auc": "AUC %", "n_pck": "N-PCK %", "jdr": "JDR %",
}
# multi-hypothesis metrics (`regime=diffusion` records): the aggregation, oracles named as such
METRIC_LABELS.update({
    f"{m}_{agg}": f"{METRIC_LABELS[m]} {label}" for m in ("mpjpe", "pa_mpjpe")
    for agg, label in (("p_agg", "P-Agg"), ("j_agg", "J-Agg"), ("j_best", "J-Best (oracle)"),
                       ("p_best", "P-Best (oracle)"))
})
PROTOCOL_LABELS = {
    "dataset": "dataset", "split": "split", "source_2d": "2D", "frames": "T",
    "stride": "stride", "flip_tta": "flip TTA", "joints": "joints", "averaging": "averaging",
    "scale": "scale", "hypotheses": "hypotheses", "output": "frames scored",
    "joint_set": "joint set",
}


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
    identity: str = ""  # the experiment of the row's runs (`lineage.Lineage.identity`)
    parent: str | None = None  # identity of what its runs started from (`init_from`)
    parent_text: str = ""  # how the notes name that parent
    parent_ref: str = ""  # its footnote mark, `a`, `b`, ... (`init_from=(a)` in the label)
    # its mean / the copy_2d row's on the same test sets, on `baseline_metric` (`gate`)
    baseline_ratio: float | None = None
    baseline_metric: str = ""

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
class TableData:
    """A ranked comparison table's content (`tables.LeaderboardTable` adds `render`)."""

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
    parents: list[tuple[str, str]] = field(default_factory=list)  # (mark, what it names)
    gate_notes: list[str] = field(default_factory=list)  # the × copy_2d column's footnotes

    @property
    def has_baseline_ratio(self) -> bool:
        """Whether any row has a ratio to `copy_2d` (the tables then show that column)."""
        return any(r.baseline_ratio is not None for r in self.rows)

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
            # single-pose protocols do not name their hypotheses (1)
            text = ", ".join(f"{PROTOCOL_LABELS[k]}={fmt_value(proto[k])}"
                             for k in PROTOCOL_FIELDS
                             if k != "hypotheses" or norm_value(proto[k]) != SINGLE_HYPOTHESIS)
            if i == 0:
                notes.append(f"{tag} (reference): {text}.")
            else:
                diff = ", ".join(PROTOCOL_LABELS[k] for k in protocol_differs(proto, ref))
                notes.append(f"{tag}: {text} (differs from {self.protocols[0][0]} in: {diff}).")
        notes += [f"init_from=({mark}): {text}." for mark, text in self.parents]
        return notes + self.gate_notes

    def to_frame(self) -> pd.DataFrame:
        """The table as a frame with exact numbers (CI bounds and marks as extra columns).

        `label` names the row as `--compare` does; `init_from` is what its runs started from
        (the text of its `init_from=(mark)` note; empty without one); `copy_2d_ratio` is the
        row's ratio to the `copy_2d` row (`leaderboard.gate`; empty without one).
        """
        out = []
        parents = dict(self.parents)
        for r in self.rows:
            d: dict[str, Any] = {"lifter": r.lifter, "regime": r.regime, "source": r.source,
                                 "n": len(r.run_ids) if r.measured else None,
                                 "protocol": r.tag, "protocol_differs": ";".join(r.differs),
                                 "label": r.label, "init_from": parents.get(r.parent_ref),
                                 "copy_2d_ratio": r.baseline_ratio}
            d.update({f"protocol.{k}": r.protocol[k] for k in PROTOCOL_FIELDS})
            for col in self.columns:
                c = r.cells.get(col)
                d[col] = c.mean if c else None
                d[f"{col}_ci_low"] = c.low if c and c.n > 1 else None
                d[f"{col}_ci_high"] = c.high if c and c.n > 1 else None
                d[f"{col}_mark"] = {1: "best", 2: "second"}.get(r.marks.get(col, 0), "")
            out.append(d)
        return pd.DataFrame(out)


def fmt_value(v: Any) -> str:
    """A protocol value as the footnotes show it (`?` = unknown, yes / no for booleans)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "?"
    if isinstance(v, bool):
        return "yes" if v else "no"
    return str(v)


def norm_value(v: Any) -> Any:
    """A frame value made comparable: NaN → None, numpy scalars → Python, 3.0 → 3."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, (np.integer, np.floating)):
        v = v.item()
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def protocol_differs(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """The protocol fields in which `a` and `b` differ."""
    return [k for k in PROTOCOL_FIELDS if norm_value(a.get(k)) != norm_value(b.get(k))]
