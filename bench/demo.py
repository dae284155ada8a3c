"""The demo benchmark: the papers' domain-adaptation question on the synthetic capture.

For each lifter (tiny configurations), every stage is one `fit` (train, then test on the
held-out *sports* takes) writing one run record:

1. `pretrain`: supervised on *daily* motion (the "before adaptation" row);
2. adaptation on unlabelled multi-view *sports* clips, each starting from the pre-trained weights:
   the consistency, self-fusion and pseudo-label regimes (those registered);
3. `upper`: supervised on *sports* with its 3D labels, also from the pre-trained weights
   (the upper bound).

Shared settings come from `bench/configs/experiment/demo.yaml`. The pretrain stage keeps its
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

from bench.config import compose
from bench.regimes import list_regimes

# Three fast tiny lifters: every regime of all three fits in 10 CPU minutes with the set-up.
# The tiny transformers take ~3 CPU minutes per stage here: pass `--lifters motionagformer_xs
# kasportsformer ...` to add them.
DEMO_LIFTERS = ("videopose3d_27", "canonpose", "simplebaseline")
PRETRAIN_EPOCHS, ADAPT_EPOCHS = 80, 10
# The supervised stages drop the velocity term (MotionAGFormer's w_vel = 20): on these short,
# noisy clips it holds the tiny frame-wise lifters at a near-constant pose (simplebaseline,
# 40 epochs: held-out daily MPJPE 396 mm with it, 171 mm without; `liftbench fit` measured).
SUPERVISED = ("regime=supervised", "regime.loss.w_vel=0", "regime.optim.lr=2e-3")


@dataclass(frozen=True)
class Stage:
    """One training stage of the demo."""

    name: str
    label: str
    overrides: tuple[str, ...]
    needs_pretrained: bool = True
    regime: str = "supervised"
    per_lifter: dict[str, tuple[str, ...]] = field(default_factory=dict)


STAGES = (
    Stage("pretrain", "supervised on daily (no adaptation)",
          (*SUPERVISED, f"trainer.max_epochs={PRETRAIN_EPOCHS}"),
          needs_pretrained=False),
    Stage("consistency", "2D + multi-view consistency on sports",
          ("regime=consistency", "data.kwargs.views=2", "data.kwargs.train_on=adapt",
           "trainer.monitor=null", f"trainer.max_epochs={ADAPT_EPOCHS}"),
          regime="consistency"),
    Stage("selffusion", "canonical self-fusion on sports",
          ("regime=selffusion", "data.kwargs.views=2", "data.kwargs.train_on=adapt",
           "trainer.monitor=null", f"trainer.max_epochs={ADAPT_EPOCHS}"),
          regime="selffusion"),
    Stage("pseudolabel", "pseudo-label fine-tuning on sports",
          ("regime=pseudolabel", "data.kwargs.views=2", "data.kwargs.train_on=adapt",
           "trainer.monitor=null", f"trainer.max_epochs={ADAPT_EPOCHS}"),
          regime="pseudolabel"),
    Stage("upper", "supervised on sports 3D (upper bound)",
          (*SUPERVISED, "data.kwargs.train_on=adapt", "trainer.monitor=null",
           f"trainer.max_epochs={ADAPT_EPOCHS}")),
)


def available_stages() -> list[Stage]:
    """The stages whose regime is registered."""
    known = set(list_regimes())
    return [s for s in STAGES if s.regime in known]


def run_demo(lifters: Sequence[str], out: Path, overrides: Sequence[str] = (),
             stages: Sequence[Stage] | None = None,
             fit: Callable[..., Path | None] | None = None) -> list[dict]:
    """Run every stage for every lifter; returns one row per run (lifter, stage, record path).

    Args:
        lifters: registry names (their `tiny` configurations are used).
        out: folder receiving `runs/` and `results/`.
        overrides: config overrides applied to every run (after the experiment's).
        stages: the stages (default: `available_stages()`).
        fit: the function that runs one config (default `bench.runner.run_fit`).
    """
    if fit is None:
        from bench.runner import run_fit as fit
    stages = list(stages or available_stages())
    rows: list[dict] = []
    total, k = len(lifters) * len(stages), 0
    for lifter in lifters:
        pretrained: Path | None = None
        for stage in stages:
            k += 1
            print(f"\n[{k}/{total}] {lifter} (tiny) — {stage.name}: {stage.label}", flush=True)
            extra = []
            if stage.needs_pretrained:
                if pretrained is None:
                    raise ValueError(f"stage {stage.name!r} needs the pretrain stage first")
                extra.append(f"init_from={pretrained}")
            cfg = compose([
                "experiment=demo", f"model={lifter}", f"output_dir={out / 'runs'}",
                f"results_dir={out / 'results'}", f"run_name={lifter}-{stage.name}",
                *stage.overrides, *stage.per_lifter.get(lifter, ()), *extra, *overrides,
            ])
            started = time.time()
            record = fit(cfg)
            if record is None:
                raise RuntimeError(f"{lifter} {stage.name}: the run wrote no record")
            if stage.name == "pretrain":
                from leaderboard.records import read_record

                run_id = read_record(record).run_id
                pretrained = out / "runs" / run_id / "checkpoints" / "best.ckpt"
            rows.append({"lifter": lifter, "stage": stage.name, "label": stage.label,
                         "record": record, "seconds": time.time() - started})
    return rows


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


def write_report(rows: Sequence[dict], out: Path) -> dict[str, Path]:
    """Markdown + HTML report of a demo run: the comparison table and the plots.

    Rows are labelled by stage (pretrain and upper are both `supervised`, so the stage, not the
    regime, names a row). Returns the written files by kind.
    """
    import html

    from leaderboard.plots import iterations_frame, plot_iterations, plot_per_action
    from leaderboard.records import read_record
    from leaderboard.tables import build_table, records_frames

    out.mkdir(parents=True, exist_ok=True)
    records = [read_record(r["record"]) for r in rows]
    runs, groups = records_frames(records)
    stage_of = {rec.run_id: r["stage"] for rec, r in zip(records, rows, strict=True)}
    runs["stage"] = runs["run_id"].map(stage_of)
    runs["regime"] = runs["stage"]
    table = build_table(runs, groups, metrics=[m for m in REPORT_METRICS if m in runs],
                        ci="none", title="Demo: held-out sports takes, mm (PCK %)")
    per_action = build_table(runs, groups, by="action", metric="mpjpe", ci="none",
                             title="MPJPE per sports action (mm)")
    files = {"stages": _stage_bars(runs, out),
             "per_action": plot_per_action(per_action, out / "per_action.png")}
    iters = iterations_frame(records)
    if not iters.empty:
        files["iterations"] = plot_iterations(iters, out / "iterations.png")
    plots = [(k, Path(p).name) for k, p in files.items()]
    md = ["# liftbench demo report", "", table.render("md"), "", per_action.render("md"), ""]
    md += [f"![{k}]({name})" for k, name in plots]
    files["markdown"] = out / "report.md"
    files["markdown"].write_text("\n".join(md) + "\n")
    body = [table.render("html"), per_action.render("html")]
    body += [f'<figure><img src="{html.escape(name)}" alt="{html.escape(k)}"></figure>'
             for k, name in plots]
    files["html"] = out / "report.html"
    files["html"].write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>liftbench demo</title>"
        "</head><body><h1>liftbench demo report</h1>" + "".join(body) + "</body></html>\n")
    return files
