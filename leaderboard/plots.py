"""Plots for reports (matplotlib, Agg; no pyplot state, so safe in any process).

- `plot_per_action`: grouped bars of a per-action table (error bars = the table's 95% CIs).
- `plot_sweep`: a metric against a swept value (a loss weight), mean ± CI over seeds per value.
- `plot_iterations`: per-iteration curves (pseudo-label fine-tuning's `iter<k>/<metric>` record
  metrics), one panel per metric.
- `plot_skeleton_overlay`: predicted vs ground-truth skeleton (3D view + front view).

Every function writes the figure to `out` (format from the suffix: .png, .pdf, .svg) and
returns the path.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from liftbench.leaderboard.records import RunRecord
from liftbench.leaderboard.stats import bootstrap_ci
from liftbench.leaderboard.table_model import METRIC_LABELS, TableData

_UNITS = {"pck": "%", "auc": "%", "n_pck": "%", "jdr": "%"}
_ITER_KEY = re.compile(r"iter(\d+)/(.+)")


def _save(fig: Figure, out: str | Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120, bbox_inches="tight")
    return out


def _metric_label(metric: str) -> str:
    return f"{METRIC_LABELS.get(metric, metric).replace(' %', '')} ({_UNITS.get(metric, 'mm')})"


def plot_per_action(table: TableData, out: str | Path, title: str | None = None) -> Path:
    """Grouped bars: one group per action (and `all`), one bar per table row.

    Args:
        table: a per-action table (`build_table(..., by="action")`).
        out: output image path.
        title: figure title (default: the metric and the table's caption).
    """
    if table.by != "action":
        raise ValueError("plot_per_action needs a per-action table (build_table(by='action'))")
    rows = table.rows
    # drop columns no row has (a paper table without an overall column, say)
    cols = [c for c in table.columns if any(r.cells.get(c) is not None for r in rows)]
    width = 0.8 / max(len(rows), 1)
    fig = Figure(figsize=(max(6.0, 1.1 * len(cols) + 0.4 * len(rows)), 4.2))
    ax = fig.add_subplot()
    x = np.arange(len(cols))
    palette = "tab10" if len(rows) <= 10 else "tab20"
    colors = [matplotlib.colormaps[palette](i % 20) for i in range(len(rows))]
    for i, row in enumerate(rows):
        cells = [row.cells.get(c) for c in cols]
        means = [c.mean if c else np.nan for c in cells]
        err = np.array([[c.mean - c.low, c.high - c.mean] if c else [0, 0] for c in cells]).T
        # rows of another protocol than the reference are hatched (and tagged in the legend)
        ax.bar(x - 0.4 + width * (i + 0.5), means, width, yerr=err, capsize=2,
               color=colors[i], hatch="//" if row.differs else None, edgecolor="white",
               linewidth=0.3, label=row.label + ("" if not row.differs else f" [{row.tag}]"))
    ax.set_xticks(x, cols, rotation=30, ha="right")
    ax.set_ylabel(_metric_label(table.metric or "mpjpe"))
    ax.set_title(title or f"{METRIC_LABELS.get(table.metric, table.metric)} per action")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _save(fig, out)


def sweep_column(runs: pd.DataFrame, param: str) -> str:
    """The runs-frame column holding a swept value.

    Looked up as the exact column, `param.<key>` (sweep records), or `w.<name>` (a loss weight,
    also spelled `regime.loss.<name>`).
    """
    name = param.removeprefix("regime.loss.")
    for col in (param, f"param.{param}", f"w.{name}"):
        if col in runs and runs[col].notna().any():
            return col
    options = sorted(c for c in runs.columns if c.startswith(("w.", "param.")))
    raise ValueError(f"no swept values for {param!r} in these runs (columns: {options})")


def plot_sweep(runs: pd.DataFrame, param: str, out: str | Path, metric: str = "mpjpe",
               hue: str = "lifter", logx: bool = False, title: str | None = None) -> Path:
    """A metric against a swept value: mean ± 95% bootstrap CI over the runs at each value.

    Args:
        runs: the runs frame (`records_frames`), already filtered to the sweep's runs.
        param: the swept key (`regime.loss.w_con`, `w_con`, or a sweep parameter key).
        out: output image path.
        metric: the metric on the y axis.
        hue: the column that separates lines (lifter by default).
        logx: log-scale x axis (for learning rates).
        title: figure title.
    """
    col = sweep_column(runs, param)
    if metric not in runs:
        raise ValueError(f"metric {metric!r} not in these runs")
    data = runs.dropna(subset=[col, metric])
    fig = Figure(figsize=(6.0, 4.0))
    ax = fig.add_subplot()
    for name, sub in data.groupby(hue, sort=True):
        xs, means, lows, highs = [], [], [], []
        for x, at in sub.groupby(col, sort=True):
            m, lo, hi = bootstrap_ci(at[metric].to_numpy(float))
            xs.append(float(x))
            means.append(m)
            lows.append(m - lo)
            highs.append(hi - m)
        label = str(name) if hue == "lifter" else f"{hue.removeprefix('w.')}={name}"
        ax.errorbar(xs, means, yerr=[lows, highs], marker="o", capsize=3, label=label)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(param)
    ax.set_ylabel(_metric_label(metric))
    ax.set_title(title or f"{METRIC_LABELS.get(metric, metric)} vs {param}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, out)


def iterations_frame(records: Sequence[RunRecord], key: str = "iterations") -> pd.DataFrame:
    """Per-iteration values of records (e.g. pseudo-label fine-tuning), long form.

    Read from the record's metrics named `iter<k>/<name>` (as `regime=pseudolabel` writes
    them), or from `extra[key]`: a list of dicts (`[{"iteration": 0, "pa_mpjpe_mono": 81.2},
    ...]`, the list index when `iteration` is absent) or a dict of lists.

    Returns:
        Columns run_id, label (lifter · regime · seed), iteration, metric, value.
    """
    out = []
    for r in records:
        label = f"{r.lifter['name']} · {r.regime['name']} · seed {r.seed}"
        steps = [(int(m.group(1)), m.group(2), v) for name, v in r.metrics.items()
                 if (m := _ITER_KEY.fullmatch(name)) and v is not None and math.isfinite(v)]
        data = r.extra.get(key)
        if isinstance(data, dict):
            n = max((len(v) for v in data.values() if isinstance(v, list)), default=0)
            data = [{m: v[i] for m, v in data.items() if isinstance(v, list) and i < len(v)}
                    for i in range(n)]
        if data is not None and not isinstance(data, list):
            raise ValueError(f"record {r.run_id}: extra[{key!r}] must be a list of dicts or a "
                             f"dict of lists, got {type(data).__name__}")
        for i, step in enumerate(data or []):
            it = step.get("iteration", i)
            steps.extend((it, m, float(v)) for m, v in step.items() if m != "iteration" and
                         isinstance(v, (int, float)) and not isinstance(v, bool))
        out.extend({"run_id": r.run_id, "label": label, "iteration": it, "metric": m,
                    "value": float(v)} for it, m, v in steps)
    return pd.DataFrame(out, columns=["run_id", "label", "iteration", "metric", "value"])


def plot_iterations(frame: pd.DataFrame, out: str | Path, metrics: Sequence[str] | None = None,
                    title: str | None = None) -> Path:
    """One panel per metric, one line per run: value against fine-tuning iteration.

    Args:
        frame: long form (`iterations_frame`): label, iteration, metric, value.
        out: output image path.
        metrics: panels to draw (default all, in order of appearance).
        title: figure title.
    """
    if frame.empty:
        raise ValueError("no per-iteration values to plot (records need iter<k>/<metric> "
                         "metrics, as regime=pseudolabel writes, or extra['iterations'])")
    metrics = list(metrics or dict.fromkeys(frame["metric"]))
    missing = [m for m in metrics if m not in set(frame["metric"])]
    if missing:
        raise ValueError(f"no per-iteration values for {missing}")
    first = frame.drop_duplicates("run_id")
    repeated = set(first["label"][first["label"].duplicated()])
    names = {rid: f"{lab} ({rid[-6:]})" if lab in repeated else lab
             for rid, lab in zip(first["run_id"], first["label"])}
    ncols = min(3, len(metrics))
    nrows = math.ceil(len(metrics) / ncols)
    fig = Figure(figsize=(4.2 * ncols, 3.3 * nrows))
    for k, metric in enumerate(metrics):
        ax = fig.add_subplot(nrows, ncols, k + 1)
        sub = frame[frame["metric"] == metric]
        for run_id, line in sub.groupby("run_id", sort=True):
            line = line.sort_values("iteration")
            label = names[run_id]
            ax.plot(line["iteration"], line["value"], marker="o", label=label)
        ax.set_title(metric, fontsize=10)
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
        if k == 0:
            ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, out)


def _check_pose(x: Any, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3 or a.shape[-1] != 3:
        raise ValueError(f"{name} must have shape (T, J, 3) or (J, 3) in mm, got {a.shape}")
    return a


def plot_skeleton_overlay(pred: Any, gt: Any, parents: Sequence[int], out: str | Path,
                          frame: int | None = None, title: str | None = None,
                          y_down: bool = True) -> Path:
    """Prediction (red) over ground truth (black) for one frame: a 3D view and a front view.

    Args:
        pred: predicted joints, `(T, J, 3)` or `(J, 3)`, root-relative, mm.
        gt: ground-truth joints, same shape and units.
        parents: parent index per joint (-1 for the root), e.g. H36M-17's from
            `geometry.skeletons`.
        out: output image path.
        frame: the frame drawn (default: the one with the median error).
        title: figure title (the frame's MPJPE is appended).
        y_down: the y axis points down (camera / image convention): drawn flipped so the
            person stands upright.
    """
    p, g = _check_pose(pred, "pred"), _check_pose(gt, "gt")
    if p.shape != g.shape:
        raise ValueError(f"pred {p.shape} and gt {g.shape} must have the same shape")
    if len(parents) != p.shape[1]:
        raise ValueError(f"parents has {len(parents)} entries for {p.shape[1]} joints")
    err = np.linalg.norm(p - g, axis=-1).mean(-1)
    if frame is None:
        frame = int(np.argsort(err)[len(err) // 2])
    if not 0 <= frame < len(err):
        raise ValueError(f"frame must be in [0, {len(err) - 1}], got {frame}")
    sign = -1.0 if y_down else 1.0
    fig = Figure(figsize=(9.0, 4.5))
    ax3 = fig.add_subplot(1, 2, 1, projection="3d")
    ax2 = fig.add_subplot(1, 2, 2)
    for pose, color, name in ((g[frame], "black", "ground truth"), (p[frame], "tab:red",
                                                                     "prediction")):
        # 3D axes: x right, depth (z) away from the camera, up = -y for image-convention data
        xs, ys, zs = pose[:, 0], pose[:, 2], sign * pose[:, 1]
        for j, par in enumerate(parents):
            if par >= 0:
                ax3.plot([xs[j], xs[par]], [ys[j], ys[par]], [zs[j], zs[par]], color=color,
                         lw=2)
                ax2.plot([xs[j], xs[par]], [zs[j], zs[par]], color=color, lw=2)
        ax3.scatter(xs, ys, zs, color=color, s=8)
        ax2.scatter(xs, zs, color=color, s=8, label=name)
    both = np.concatenate([g[frame], p[frame]])
    span = float(np.ptp(both, axis=0).max()) / 2 or 1.0
    mid = both.mean(0)
    ax3.set_xlim(mid[0] - span, mid[0] + span)
    ax3.set_ylim(mid[2] - span, mid[2] + span)
    ax3.set_zlim(sign * mid[1] - span, sign * mid[1] + span)
    ax3.set_box_aspect((1, 1, 1))
    ax3.set_xlabel("x (mm)")
    ax3.set_ylabel("depth (mm)")
    ax3.set_zlabel("up (mm)")
    ax2.set_aspect("equal")
    ax2.set_xlabel("x (mm)")
    ax2.set_ylabel("up (mm)")
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=8)
    fig.suptitle(f"{title + ': ' if title else ''}frame {frame}, MPJPE {err[frame]:.1f} mm")
    return _save(fig, out)
