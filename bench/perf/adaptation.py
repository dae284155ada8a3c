"""`liftbench perf adaptation`: the acceptance experiments of the multi-view regimes, end to end.

Trains small models on the synthetic capture (CPU minutes; `--part` picks one experiment):

- `consistency` (Ingwersen et al.): pre-train `--lifter` with `regime=supervised` on the daily
  takes, then adapt it without 3D labels on multi-view sports takes with L_2D alone
  (`w_con=0`) and with L_2D + L_con (`w_con=0.3`); report sports-test MPJPE / PA-MPJPE (mm) of
  the pre-trained and both adapted models.
- `selffusion` (CanonPose → CVSF): pre-train `canonpose` on the daily takes (`regime=selffusion`
  with its supervised term added to L_rep, L_view, L_cam; no fusion), then adapt on multi-view
  sports takes as the CanonPose baseline (no fusion) and as CVSF S1+S2 (fusion + second pass +
  stage switch); report test N-MPJPE / PA-MPJPE, and the 2D joint detection rate (JDR, error
  < ½ head–thorax segment) of the input 2D and of the fusion-refined 2D on the test takes, with
  `--outlier-rate` of the refinable joints replaced by injected outliers (shifted by
  `--outlier-shift` in a random direction, confidence drawn in [0.05, 0.3]).

Every fit is a real `liftbench fit` (records and checkpoints under `--workdir`).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

NAME = "adaptation"
IN_ALL = False  # trains models for tens of CPU minutes: not part of `perf all`
HELP = ("multi-view regimes' acceptance experiments: L_2D vs L_2D+L_con adaptation, CanonPose vs "
        "CVSF (trains models, minutes on CPU)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the adaptation experiments."""
    parser.add_argument("--part", choices=("consistency", "selffusion", "all"), default="all")
    parser.add_argument("--lifter", default="motionagformer_xs",
                        help="lifter of the consistency experiment (tiny size)")
    parser.add_argument("--motions", default="[walk,dance_a,getup_faceup,crawl,run,jump,kick,"
                        "cartwheel,punch,spin]", help="motions (list literal)")
    parser.add_argument("--subjects", type=int, default=2)
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--pretrain-epochs", type=int, default=60,
                        help="supervised pre-training epochs of the consistency experiment")
    parser.add_argument("--adapt-epochs", type=int, default=15)
    parser.add_argument("--adapt-lr", type=float, default=5e-4)
    parser.add_argument("--w-con", type=float, default=0.3,
                        help="L_con weight of the L_2D + L_con run (paper's 2D + con: 0.3)")
    parser.add_argument("--adapt-noise", default="detector",
                        help="2D noise of the consistency experiment's adaptation and test takes")
    parser.add_argument("--canonpose-width", type=int, default=256,
                        help="hidden width of the CanonPose lifter (paper 1024, tiny 64)")
    parser.add_argument("--fusion-pretrain-epochs", type=int, default=30,
                        help="pre-training epochs of the self-fusion experiment")
    parser.add_argument("--fusion-epochs", type=int, default=12)
    parser.add_argument("--fusion-lr", type=float, default=5e-4)
    parser.add_argument("--noise", default="detector",
                        help="2D noise of the self-fusion experiment (default detector)")
    parser.add_argument("--fusion-threshold", type=float, default=0.5,
                        help="confidence below which the fusion refines a joint (official 0.85 "
                        "for its detector; the synthetic detector's failures fall below 0.5)")
    parser.add_argument("--outlier-rate", type=float, default=0.1,
                        help="share of refinable test joints replaced by injected outliers")
    parser.add_argument("--outlier-shift", type=float, default=0.1,
                        help="injected outlier displacement (normalised units, 2 = image width)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=None,
                        help="runs, records and data cache (default: a temporary folder)")
    parser.add_argument("--reuse-pretrained", action="store_true",
                        help="reuse the pre-training runs already recorded in --workdir")


def _fit(common: list[str], workdir: Path, name: str, extra: list[str],
         reuse: bool = False) -> dict[str, Any]:
    """One `liftbench fit` (or its earlier record when `reuse`): test metrics, best checkpoint."""
    from liftbench.bench.cli import main
    from liftbench.leaderboard.records import read_records

    results = workdir / "results" / name
    if reuse and results.is_dir() and len(read_records(results)) == 1:
        (record,) = read_records(results)
        ckpt = workdir / "runs" / record.run_id / "checkpoints" / "best.ckpt"
        return {"metrics": dict(record.metrics), "checkpoint": str(ckpt)}
    code = main(["fit", *common, f"run_name={name}", f"results_dir={results}", *extra])
    if code != 0:
        raise RuntimeError(f"liftbench fit {name} failed with exit code {code}")
    (record,) = read_records(results)
    ckpt = workdir / "runs" / record.run_id / "checkpoints" / "best.ckpt"
    return {"metrics": dict(record.metrics), "checkpoint": str(ckpt)}


def _common(args: argparse.Namespace, workdir: Path, model: str) -> list[str]:
    return [
        f"model={model}", "size=tiny", f"data.kwargs.motions={args.motions}",
        f"data.kwargs.subjects={args.subjects}", f"data.kwargs.cameras={args.cameras}",
        f"data.kwargs.cache_dir={workdir / 'cache'}", f"output_dir={workdir / 'runs'}",
        "logger=none", f"seed={args.seed}", f"data.kwargs.seed={args.seed}",
    ]


def _pick(metrics: dict[str, float], names: tuple[str, ...]) -> dict[str, float]:
    return {k: round(float(metrics[k]), 2) for k in names}


def run_consistency(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Pre-train on daily motion, adapt on sports with L_2D vs L_2D + L_con."""
    common = _common(args, workdir, args.lifter)
    pre = _fit(common, workdir, "cons-pretrain", [
        "regime=supervised", f"trainer.max_epochs={args.pretrain_epochs}",
        "regime.optim.lr=2e-3", "data.batch_size=32", "data.kwargs.noise=detector",
    ], reuse=args.reuse_pretrained)
    # No target-domain 3D labels: the adapted model is the last epoch's (`trainer.monitor=null`);
    # the val set is held-out *daily* takes, which would pick the least-adapted epoch.
    adapt = [
        "regime=consistency", "trainer.monitor=null", "data.kwargs.views=2",
        "data.kwargs.train_on=adapt",
        f"data.kwargs.noise={args.adapt_noise}", f"init_from={pre['checkpoint']}",
        f"trainer.max_epochs={args.adapt_epochs}", f"regime.optim.lr={args.adapt_lr}",
        "data.batch_size=16",
    ]
    only_2d = _fit(common, workdir, "cons-l2d", [*adapt, "regime.loss.w_con=0.0"])
    with_con = _fit(common, workdir, "cons-l2d-lcon", [*adapt, f"regime.loss.w_con={args.w_con}"])
    names = ("mpjpe", "pa_mpjpe", "n_mpjpe")
    return {
        "pretrained_daily": _pick(pre["metrics"], names),
        "adapt_l2d": _pick(only_2d["metrics"], names),
        "adapt_l2d_lcon": _pick(with_con["metrics"], names),
    }


def _jdr_of_fusion(args: argparse.Namespace, workdir: Path, ckpt: str) -> dict[str, float]:
    """JDR (%) of the input 2D and of the fusion-refined 2D on the multi-view test takes."""
    from liftbench.bench.checkpoints import load_lifter_weights
    from liftbench.bench.fusion_jdr import jdr_of_fusion
    from liftbench.bench.regimes import regime_class
    from liftbench.datamodules.synthetic.datamodule import SyntheticDataModule

    dm = SyntheticDataModule(
        motions=args.motions.strip("[]").split(","), views=args.cameras, cameras=args.cameras,
        subjects=args.subjects, noise=args.noise, train_on="adapt", batch_size=32,
        cache_dir=workdir / "cache", seed=args.seed,
    )
    dm.prepare_data()
    dm.setup("test")
    regime = regime_class("selffusion")(lifter="canonpose", size="tiny", flip_tta=False,
                                        lifter_kwargs={"width": args.canonpose_width},
                                        fusion={"threshold": args.fusion_threshold})
    load_lifter_weights(regime.lifter, ckpt, expected_name="canonpose")
    regime.eval()
    out = jdr_of_fusion(regime, dm.test_dataloader(), args.outlier_rate, args.outlier_shift,
                        args.seed)
    return {k: round(v, 4 if k == "refined_joint_fraction" else 2) for k, v in out.items()}


def run_selffusion(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Pre-train CanonPose on daily motion; adapt as CanonPose vs CVSF S1+S2; JDR."""
    common = [*_common(args, workdir, "canonpose"), f"model.kwargs.width={args.canonpose_width}",
              f"data.kwargs.noise={args.noise}",
              f"data.kwargs.views={args.cameras}", "data.batch_size=16"]
    # The supervised term fixes the depth-mirror ambiguity; L_view puts the views' canonical
    # poses in one frame (what the fusion's cross-view hypotheses need).
    pre = _fit(common, workdir, "sf-pretrain", [
        "regime=selffusion", "regime.loss.stage1.sup=1.0",
        "regime.fusion.enabled=false", "regime.two_stage=false",
        f"regime.stage2_epoch={args.fusion_pretrain_epochs}",
        f"trainer.max_epochs={args.fusion_pretrain_epochs}",
        "regime.optim.lr=1e-3",
    ], reuse=args.reuse_pretrained)
    adapt = [
        "regime=selffusion", "data.kwargs.train_on=adapt", "trainer.monitor=null",
        f"init_from={pre['checkpoint']}",
        f"regime.fusion.threshold={args.fusion_threshold}",
        f"trainer.max_epochs={args.fusion_epochs}", f"regime.optim.lr={args.fusion_lr}",
    ]
    base = _fit(common, workdir, "sf-canonpose", [
        *adapt, "regime.fusion.enabled=false", "regime.two_stage=false",
        f"regime.stage2_epoch={args.fusion_epochs}",
    ])
    cvsf = _fit(common, workdir, "sf-cvsf-s1s2", [
        *adapt, f"regime.stage2_epoch={max(1, args.fusion_epochs // 2)}",
    ])
    names = ("n_mpjpe", "pa_mpjpe", "mpjpe")
    return {
        "pretrained_daily": _pick(pre["metrics"], names),
        "canonpose": _pick(base["metrics"], names),
        "cvsf_s1_s2": _pick(cvsf["metrics"], names),
        "fusion_2d": _jdr_of_fusion(args, workdir, cvsf["checkpoint"]),
    }


def run(args: argparse.Namespace) -> dict:
    """Run the chosen experiments; print and return the figures."""
    import json

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.workdir or tmp)
        out: dict[str, Any] = {"config": {k: (str(v) if isinstance(v, Path) else v)
                                          for k, v in vars(args).items()
                                          if k not in ("func", "module", "json", "threads", "argv",
                                                       "tables_dir")}}
        if args.part in ("consistency", "all"):
            out["consistency"] = run_consistency(args, workdir)
        if args.part in ("selffusion", "all"):
            out["selffusion"] = run_selffusion(args, workdir)
    print(json.dumps(out, indent=2))
    return out
