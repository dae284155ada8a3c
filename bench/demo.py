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

from bench.config import compose
from bench.regimes import list_regimes

DEMO_LIFTERS = ("motionagformer_xs", "kasportsformer", "videopose3d_27")


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
    Stage("pretrain", "supervised on daily (no adaptation)", ("regime=supervised",),
          needs_pretrained=False),
    Stage("consistency", "2D + multi-view consistency on sports",
          ("regime=consistency", "data.kwargs.views=2", "data.kwargs.train_on=adapt",
           "trainer.monitor=null"),
          regime="consistency"),
    Stage("selffusion", "canonical self-fusion on sports",
          ("regime=selffusion", "data.kwargs.views=2", "data.kwargs.train_on=adapt",
           "trainer.monitor=null"),
          regime="selffusion"),
    Stage("pseudolabel", "pseudo-label fine-tuning on sports",
          ("regime=pseudolabel", "data.kwargs.views=2", "data.kwargs.train_on=adapt",
           "trainer.monitor=null"),
          regime="pseudolabel"),
    Stage("upper", "supervised on sports 3D (upper bound)",
          ("regime=supervised", "data.kwargs.train_on=adapt", "trainer.monitor=null")),
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
