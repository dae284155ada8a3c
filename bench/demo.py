"""The demo benchmark: the papers' domain-adaptation question on the synthetic capture.

For each seed and each lifter (tiny configurations), every stage is one `fit` (train, then test
on the held-out *sports* takes) writing one run record:

1. `pretrain`: supervised on *daily* motion (the "before adaptation" row);
2. adaptation on unlabelled multi-view *sports* clips, each starting from the pre-trained weights:
   the consistency, self-fusion and pseudo-label regimes (those registered);
3. `upper`: supervised on *sports* with its 3D labels, also from the pre-trained weights
   (the upper bound).

Beside them the trivial baselines (`copy_2d`, `mean_pose`: no training, statistics from the
daily training set) are rows of every table, so a lifter that learnt nothing is visible at once.

The split is `daily->sports` with disjoint subjects: the adaptation set and the test set hold the
same sports motions performed by different subjects filmed by different rigs, so the upper bound,
the adaptation regimes and the test ask the same question. Each seed draws its own subjects,
rigs and initial weights; the tables give the mean and the 95% CI over seeds.

Shared settings come from `experiment/demo.yaml`, the stages (their overrides and epochs) from
`experiment/stages/demo.yaml` of the config folders (a user's `--config-dir` first, then the
packaged `bench/configs/`). The pretrain stage keeps its
best checkpoint by validation MPJPE on held-out *daily* takes; the other stages keep their last
checkpoint (`trainer.monitor=null`), since selecting by target-domain 3D would use the labels that
adaptation must not see.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from liftbench.bench.config import compose, find_config
from liftbench.models.trivial import TRIVIAL_BASELINES

# Three fast tiny lifters: every stage of all three, two seeds, fits in 10 CPU minutes. The tiny
# transformers take minutes per stage here: pass `--lifters motionagformer_xs kasportsformer ...`.
DEMO_LIFTERS = ("simplebaseline", "videopose3d_27", "canonpose")
DEMO_SEEDS = (0, 1)
STAGES_FILE = ("experiment", "stages", "demo.yaml")  # below a config folder


@dataclass(frozen=True)
class Stage:
    """One training stage of the demo."""

    name: str
    label: str
    overrides: tuple[str, ...]
    needs_pretrained: bool = True
    regime: str = "supervised"
    per_lifter: dict[str, tuple[str, ...]] = field(default_factory=dict)


def _flat(items: Any) -> tuple[str, ...]:
    """Override lists with YAML anchors spliced in (`[*supervised, x]` nests a list)."""
    out: list[str] = []
    for item in items or ():
        out.extend(_flat(item) if isinstance(item, (list, tuple)) else [str(item)])
    return tuple(out)


def _stage(spec: dict[str, Any]) -> Stage:
    return Stage(name=str(spec["name"]), label=str(spec.get("label", spec["name"])),
                 overrides=_flat(spec.get("overrides")),
                 needs_pretrained=bool(spec.get("needs_pretrained", True)),
                 regime=str(spec.get("regime", "supervised")),
                 per_lifter={k: _flat(v) for k, v in (spec.get("per_lifter") or {}).items()})


def load_stages(path: Path | None = None) -> tuple[tuple[Stage, ...], Stage]:
    """The demo's stages and its trivial-baseline stage, from the experiment's stage file.

    Args:
        path: the stage file (default: `experiment/stages/demo.yaml` of the config folders).
    """
    from omegaconf import OmegaConf

    if path is None:
        path = find_config(*STAGES_FILE)
        if path is None:
            raise FileNotFoundError(f"no {'/'.join(STAGES_FILE)} in the config folders")

    raw = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    if not isinstance(raw, dict) or not raw.get("stages") or "baseline" not in raw:
        raise ValueError(f"{path}: expected 'stages' (a list) and 'baseline'")
    stages = tuple(_stage(s) for s in raw["stages"])
    if stages[0].needs_pretrained or stages[0].name != "pretrain":
        raise ValueError(f"{path}: the first stage must be 'pretrain' (the others start from it)")
    return stages, _stage(raw["baseline"])


def available_stages() -> list[Stage]:
    """The stages whose regime is registered."""
    from liftbench.bench.regimes import list_regimes

    known = set(list_regimes())
    return [s for s in load_stages()[0] if s.regime in known]


def run_demo(lifters: Sequence[str], out: Path, overrides: Sequence[str] = (),
             stages: Sequence[Stage] | None = None,
             fit: Callable[..., Path | None] | None = None,
             seeds: Sequence[int] = DEMO_SEEDS,
             baselines: Sequence[str] = TRIVIAL_BASELINES) -> list[dict]:
    """Run every stage for every lifter and seed, and the trivial baselines; one row per run.

    Args:
        lifters: registry names (their `tiny` configurations are used).
        out: folder receiving `runs/` and `results/`.
        overrides: config overrides applied to every run (after the experiment's).
        stages: the stages (default: `available_stages()`).
        fit: the function that runs one config (default `bench.runner.run_fit`).
        seeds: seeds (data draw + initial weights); each gives one run per cell.
        baselines: trivial baselines run once per seed (stage `baseline`).

    Returns:
        Dicts with `lifter`, `stage`, `label`, `seed`, `record` (path) and `seconds`.
    """
    if fit is None:
        from liftbench.bench.runner import run_fit as fit
    if not seeds:
        raise ValueError("seeds is empty: give at least one seed")
    stages = list(stages or available_stages())
    plan = [(seed, lifter, stage) for seed in seeds for lifter in lifters for stage in stages]
    baseline_stage = load_stages()[1]
    plan += [(seed, name, baseline_stage) for seed in seeds for name in baselines]
    rows: list[dict] = []
    pretrained: dict[tuple[int, str], Path] = {}
    for k, (seed, lifter, stage) in enumerate(plan, 1):
        print(f"\n[{k}/{len(plan)}] seed {seed} {lifter} (tiny) — {stage.name}: {stage.label}",
              flush=True)
        extra = []
        if stage.needs_pretrained:
            if (seed, lifter) not in pretrained:
                raise ValueError(f"stage {stage.name!r} needs the pretrain stage first")
            extra.append(f"init_from={pretrained[(seed, lifter)]}")
        cfg = compose([
            "experiment=demo", f"model={lifter}", f"output_dir={out / 'runs'}",
            f"results_dir={out / 'results'}", f"run_name={lifter}-{stage.name}-s{seed}",
            f"seed={seed}", *stage.overrides, *stage.per_lifter.get(lifter, ()), *extra,
            *overrides,
        ])
        started = time.time()
        record = fit(cfg)
        if record is None:
            raise RuntimeError(f"{lifter} {stage.name}: the run wrote no record")
        if stage.name == "pretrain":
            from liftbench.leaderboard.records import read_record

            rec = read_record(record)
            pretrained[(seed, lifter)] = Path(rec.checkpoint) if rec.checkpoint else \
                out / "runs" / rec.run_id / "checkpoints" / "best.ckpt"  # older records
        rows.append({"lifter": lifter, "stage": stage.name, "label": stage.label, "seed": seed,
                     "record": record, "seconds": time.time() - started})
    return rows


def stage_gains(rows: Sequence[dict], metric: str = "mpjpe") -> list[dict]:
    """Per lifter and stage: mean `metric` over seeds and its change vs `pretrain` (fraction).

    A negative change is an improvement (lower error than before adaptation).
    """
    from liftbench.leaderboard.records import read_record

    values: dict[tuple[str, str], list[float]] = {}
    for row in rows:
        value = read_record(row["record"]).metrics.get(metric)
        if value is not None:
            values.setdefault((row["lifter"], row["stage"]), []).append(float(value))
    out = []
    for (lifter, stage), vals in values.items():
        base = values.get((lifter, "pretrain"))
        mean = sum(vals) / len(vals)
        change = None if not base else mean / (sum(base) / len(base)) - 1.0
        out.append({"lifter": lifter, "stage": stage, metric: mean, "vs_pretrain": change,
                    "runs": len(vals)})
    return out


REPORT_METRICS = ("mpjpe", "pa_mpjpe", "n_mpjpe", "mpjve", "pck")


def _stage_bars(frame: Any, out: Path) -> Path:
    """MPJPE and PA-MPJPE per stage, one bar group per lifter."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    lifters = list(dict.fromkeys(frame["lifter"]))
    stages = list(dict.fromkeys(frame["stage"]))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    width = 0.8 / len(stages)
    for ax, metric in zip(axes, ("mpjpe", "pa_mpjpe"), strict=True):
        for i, stage in enumerate(stages):
            vals = [frame[(frame.lifter == lf) & (frame.stage == stage)][metric].mean()
                    for lf in lifters]
            ax.bar(np.arange(len(lifters)) + (i - (len(stages) - 1) / 2) * width, vals, width,
                   label=stage)
        ax.set_xticks(np.arange(len(lifters)), lifters, fontsize=8)
        ax.set_ylabel(f"{metric} (mm, held-out sports)")
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("Demo: before adaptation (pretrain), adaptation regimes, upper bound")
    fig.tight_layout()
    path = out / "stages.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def demo_frames(rows: Sequence[dict]) -> tuple[Any, Any]:
    """`(runs, groups)` frames of the demo's records, rows labelled by stage (not regime)."""
    from liftbench.leaderboard.frames import records_frames
    from liftbench.leaderboard.records import read_record

    records = [read_record(r["record"]) for r in rows]
    runs, groups = records_frames(records)
    stage_of = {rec.run_id: r["stage"] for rec, r in zip(records, rows, strict=True)}
    runs["stage"] = runs["run_id"].map(stage_of)
    runs["regime"] = runs["stage"]  # pretrain and upper are both `supervised`
    return runs, groups


def comparison_table(rows: Sequence[dict]) -> Any:
    """The demo's ranked table: one row per (lifter, stage), mean and 95% CI over seeds."""
    from liftbench.leaderboard.tables import build_table

    runs, groups = demo_frames(rows)
    return build_table(runs, groups, metrics=[m for m in REPORT_METRICS if m in runs],
                       ci="seeds", title="Demo: held-out sports takes, mean [95% CI over "
                       "seeds], mm (PCK %)")


def gains_markdown(rows: Sequence[dict]) -> str:
    """Markdown table: each stage's mean MPJPE over seeds and its change vs `pretrain`."""
    from tabulate import tabulate

    body = [[g["lifter"], g["stage"], g["mpjpe"], g["runs"],
             "" if g["vs_pretrain"] is None else f"{100 * g['vs_pretrain']:+.1f}%"]
            for g in stage_gains(rows)]
    return "Change of MPJPE vs no adaptation (pretrain), mean over seeds:\n\n" + tabulate(
        body, headers=["lifter", "stage", "MPJPE mm", "runs", "vs pretrain"], tablefmt="github",
        floatfmt=".1f")


DEMO_SETTING = ("synthetic capture: trained on daily motion, adapted to sports, tested on "
                "held-out subjects' sports takes (tiny lifters, flip TTA, 17 joints)")


def demo_frame(rows: Sequence[dict], table: Any | None = None) -> Any:
    """The comparison table's exact numbers, one line per row, with its stage and MPJPE gain.

    `table.to_frame()` (means, 95% CI bounds over seeds, the × copy_2d ratio, protocol) with
    three columns first: `stage`, `demo_lifter` (the registry name, or the trivial baseline's)
    and `mpjpe_vs_pretrain` (`stage_gains`: the stage's mean MPJPE over its lifter's pretrain
    mean, minus 1; negative = lower error than before adaptation; 0 for pretrain, empty for
    the trivial baselines).

    Args:
        rows: `run_demo`'s rows.
        table: `comparison_table(rows)` when already built.
    """
    from liftbench.leaderboard.records import read_record

    table = comparison_table(rows) if table is None else table
    cell = {read_record(r["record"]).run_id: (r["lifter"], r["stage"]) for r in rows}
    gains = {(g["lifter"], g["stage"]): g["vs_pretrain"] for g in stage_gains(rows)}
    frame = table.to_frame()
    keys = [cell.get(row.run_ids[0], ("", "")) if row.run_ids else ("", "")
            for row in table.rows]
    frame.insert(0, "mpjpe_vs_pretrain", [gains.get(k) for k in keys])
    frame.insert(0, "demo_lifter", [k[0] for k in keys])
    frame.insert(0, "stage", [k[1] for k in keys])
    return frame


def publish_demo(rows: Sequence[dict], table: Any | None = None, command: str | None = None,
                 out_dir: Path | None = None) -> tuple[Path, Path]:
    """Write the demo table to the published tables (`demo.md`, `demo.csv`).

    The markdown is what the report shows first: the comparison table (mean [95% CI over
    seeds], `copy_2d` / `mean_pose` rows included) and each stage's change of MPJPE vs
    `pretrain`; the CSV is `demo_frame` (exact numbers).

    Args:
        rows: `run_demo`'s rows.
        table: `comparison_table(rows)` when already built.
        command: the command line (default: this process's).
        out_dir: the folder (default: `leaderboard.published.tables_dir()`).
    """
    from liftbench.leaderboard.published import publish_frame

    table = comparison_table(rows) if table is None else table
    seeds = sorted({r["seed"] for r in rows})
    markdown = table.render("md") + "\n" + gains_markdown(rows)
    notes = [DEMO_SETTING + ".", f"Seeds: {', '.join(map(str, seeds))}; the CSV holds the exact "
             "means and CI bounds (`*_ci_low`, `*_ci_high`) and `mpjpe_vs_pretrain` as a "
             "fraction (negative: lower error than before adaptation)."]
    return publish_frame("demo", "liftbench demo: adaptation to sports motion (synthetic "
                         "capture)", demo_frame(rows, table), markdown=markdown, notes=notes,
                         command=command, out_dir=out_dir)


def write_report(rows: Sequence[dict], out: Path) -> dict[str, Path]:
    """Markdown + HTML report of a demo run: the comparison table and the plots.

    Rows are labelled by stage (pretrain and upper are both `supervised`, so the stage, not the
    regime, names a row). Returns the written files by kind.
    """
    import html

    from liftbench.leaderboard.plots import iterations_frame, plot_iterations, plot_per_action
    from liftbench.leaderboard.records import read_record
    from liftbench.leaderboard.tables import build_table

    out.mkdir(parents=True, exist_ok=True)
    runs, groups = demo_frames(rows)
    table = comparison_table(rows)
    per_action = build_table(runs, groups, by="action", metric="mpjpe", ci="none",
                             title="MPJPE per sports action (mm)")
    files = {"stages": _stage_bars(runs, out),
             "per_action": plot_per_action(per_action, out / "per_action.png")}
    iters = iterations_frame([read_record(r["record"]) for r in rows])
    if not iters.empty:
        files["iterations"] = plot_iterations(iters, out / "iterations.png")
    plots = [(k, Path(p).name) for k, p in files.items()]
    gains = gains_markdown(rows)
    md = ["# liftbench demo report", "", table.render("md"), "", gains, "",
          per_action.render("md"), ""]
    md += [f"![{k}]({name})" for k, name in plots]
    files["markdown"] = out / "report.md"
    files["markdown"].write_text("\n".join(md) + "\n")
    body = [table.render("html"), f"<pre>{html.escape(gains)}</pre>", per_action.render("html")]
    body += [f'<figure><img src="{html.escape(name)}" alt="{html.escape(k)}"></figure>'
             for k, name in plots]
    files["html"] = out / "report.html"
    files["html"].write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>liftbench demo</title>"
        "</head><body><h1>liftbench demo report</h1>" + "".join(body) + "</body></html>\n")
    return files
