"""The under-training gate: every measured row against the trivial baseline `copy_2d`.

`copy_2d` lifts nothing: it returns the detected 2D, root-centred, with zero depth. A trained
lifter whose error is above `UNDER_TRAINED` (0.6) times `copy_2d`'s on the same test clips has
barely learnt to lift, so ranking it against another lifter says nothing about the
architectures. `liftbench reproduce` applies the gate to every comparison of a claim (see
`bench.reproduce`); tables show each row's ratio to the `copy_2d` row of the same protocol and
test sets (`attach_baseline_ratios`).

This module imports nothing heavy (the CLI imports it when it builds its parser).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from liftbench.leaderboard.table_model import TableRow

BASELINE = "copy_2d"  # the registered trivial baseline (models/trivial.py)
UNDER_TRAINED = 0.6  # a row is under-trained when its error > UNDER_TRAINED x copy_2d's


def baseline_column(columns: Sequence[str], higher_better: Sequence[bool]) -> str | None:
    """The column the ratio is taken on.

    `mpjpe`, else `all` (a per-action table of a lower-is-better metric), else the first
    lower-is-better column; None when every column is higher-is-better.
    """
    for wanted in ("mpjpe", "all"):
        if wanted in columns and not higher_better[list(columns).index(wanted)]:
            return wanted
    return next((c for c, up in zip(columns, higher_better) if not up), None)


def attach_baseline_ratios(rows: Sequence[TableRow], lifters: dict[int, str],
                           test_sets: dict[int, frozenset[str]], column: str | None) -> None:
    """Set `row.baseline_ratio` (row mean / the matching `copy_2d` row's mean on `column`).

    The matching `copy_2d` row is a measured row of lifter `BASELINE` with the same protocol tag
    whose runs' test sets (`protocol.cache_key`, one per data seed) include all of the row's;
    for rows without known test sets, the only `copy_2d` row of that protocol. Rows without a
    match, the `copy_2d` rows themselves and reported rows keep `baseline_ratio = None`.

    Args:
        rows: the table's rows, protocol tags assigned.
        lifters: `{id(row): lifter name}` (the registered name, without the size).
        test_sets: `{id(row): the test sets of its runs}` (empty when unknown).
        column: the column the ratio is taken on (`baseline_column`); None: no ratios.
    """
    if column is None:
        return
    copies = [r for r in rows if r.measured and lifters.get(id(r)) == BASELINE
              and r.cells.get(column) is not None]
    for row in rows:
        cell = row.cells.get(column)
        if not row.measured or lifters.get(id(row)) == BASELINE or cell is None:
            continue
        same = [c for c in copies if c.tag == row.tag]
        mine = test_sets.get(id(row), frozenset())
        if mine:
            match = [c for c in same if mine <= test_sets.get(id(c), frozenset())]
        else:
            match = same if len(same) == 1 else []
        if not match:
            continue
        base = match[0].cells[column]
        if base is not None and base.mean > 0 and math.isfinite(cell.mean):
            row.baseline_ratio = cell.mean / base.mean
            row.baseline_metric = column


def baseline_notes(rows: Sequence[TableRow], label: str) -> list[str]:
    """Footnotes of the ratio column (`label`: how the notes name its metric); [] without one."""
    rated = [r for r in rows if r.baseline_ratio is not None]
    if not rated:
        return []
    notes = [f"× {BASELINE}: the row's {label} / that of the {BASELINE} row of the same "
             f"protocol on the same test sets (a row with another test set has none)."]
    under = [r.label for r in rated if r.baseline_ratio > UNDER_TRAINED]
    if under:
        notes.append(f"Under-trained (> {UNDER_TRAINED:g}× {BASELINE}; their ranking says "
                     f"nothing about the architectures): {'; '.join(under)}.")
    return notes
