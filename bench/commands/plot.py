"""`liftbench plot KIND`: report figures from run records or a checkpoint.

Kinds:
  actions     per-action bars (95% CI error bars) of the records (+ --reported-from tables)
  sweep       a metric against a swept value:  --param regime.loss.w_con [--sweep-id ID]
  iterations  per-iteration curves of records' iter<k>/<metric> values (regime=pseudolabel)
  overlay     prediction vs ground-truth skeleton: --ckpt runs/<run>/checkpoints/best.ckpt
              (first test clip of the run's own data config), or --npz FILE with pred, gt
              arrays (T, 17, 3) in mm
Examples:
  liftbench plot actions --results results --regime supervised --out actions.png
  liftbench plot sweep --results sweeps/results --param regime.loss.w_con --out w_con.png
  liftbench plot overlay --ckpt runs/<run>/checkpoints/best.ckpt --out overlay.png
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

KINDS = ("actions", "sweep", "iterations", "overlay")


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register `plot`."""
    p = sub.add_parser("plot", help="figures: per-action bars, sweep curves, iterations, "
                                    "skeleton overlays", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("kind", choices=KINDS)
    p.add_argument("--out", "-o", type=Path, required=True, help="image file (.png/.pdf/.svg)")
    p.add_argument("--results", type=Path, default=Path("results"),
                   help="run records dir, read recursively (as `liftbench table` does)")
    p.add_argument("--dataset", nargs="+")
    p.add_argument("--regime", nargs="+")
    p.add_argument("--lifter", nargs="+")
    p.add_argument("--source-2d", nargs="+", dest="source_2d")
    p.add_argument("--metric", default="mpjpe", help="metric plotted (mpjpe)")
    p.add_argument("--reported-from", nargs="+", metavar="TABLE",
                   help="actions: add these reported tables")
    p.add_argument("--param", help="sweep: the swept key (e.g. regime.loss.w_con)")
    p.add_argument("--sweep-id", help="sweep: only records of this sweep id")
    p.add_argument("--logx", action="store_true", help="sweep: log-scale x axis")
    p.add_argument("--hue", default="lifter",
                   help="sweep: the runs column that separates lines (lifter; e.g. w.w_scale)")
    p.add_argument("--key", default="iterations",
                   help="iterations: also read extra[KEY] (list of dicts / dict of lists)")
    p.add_argument("--metrics", nargs="+", help="iterations: panels (default all)")
    p.add_argument("--ckpt", type=Path, help="overlay: a checkpoint of a fit run")
    p.add_argument("--npz", type=Path, help="overlay: npz with pred and gt (T, 17, 3) mm")
    p.add_argument("--clip", type=int, default=0, help="overlay: test clip index (0)")
    p.add_argument("--frame", type=int, help="overlay: frame (default: median error)")
    p.add_argument("--title", help="figure title")
    p.set_defaults(func=_run)
    return p


def _runs(args: argparse.Namespace) -> tuple[Any, Any, list[Any]]:
    from liftbench.leaderboard.frames import filter_runs, records_frames
    from liftbench.leaderboard.records import read_records

    records = read_records(args.results, strict=False, recursive=True)
    runs, groups = records_frames(records, roots=[args.results])
    runs, groups = filter_runs(runs, groups, dataset=args.dataset, regime=args.regime,
                               lifter=args.lifter, source_2d=args.source_2d)
    return runs, groups, records


def _run(args: argparse.Namespace) -> int:
    from liftbench.leaderboard import plots

    if args.kind == "actions":
        from liftbench.leaderboard.frames import concat_frames, reported_frames
        from liftbench.leaderboard.reported import load_reported
        from liftbench.leaderboard.tables import build_table

        pairs = []
        if args.results.is_dir() or not args.reported_from:
            pairs.append(_runs(args)[:2])
        if args.reported_from:
            pairs.append(reported_frames(load_reported(args.reported_from)))
        table = build_table(*concat_frames(*pairs), by="action", metric=args.metric)
        out = plots.plot_per_action(table, args.out, args.title)
    elif args.kind == "sweep":
        if not args.param:
            raise ValueError("plot sweep needs --param (the swept key, e.g. regime.loss.w_con)")
        runs, _, _ = _runs(args)
        if args.sweep_id:
            runs = runs[runs["sweep_id"] == args.sweep_id]
        if args.hue not in runs:
            raise ValueError(f"--hue {args.hue!r} is not a runs column "
                             f"({', '.join(c for c in runs.columns if '.' in c)}, lifter, ...)")
        out = plots.plot_sweep(runs, args.param, args.out, metric=args.metric, hue=args.hue,
                               logx=args.logx, title=args.title)
    elif args.kind == "iterations":
        runs, _, records = _runs(args)
        keep = set(runs["run_id"])
        frame = plots.iterations_frame([r for r in records if r.run_id in keep], args.key)
        out = plots.plot_iterations(frame, args.out, args.metrics, args.title)
    else:
        pred, gt, title = _overlay_data(args)
        from liftbench.geometry.skeletons import H36M17

        out = plots.plot_skeleton_overlay(pred, gt, H36M17.parents, args.out, frame=args.frame,
                                          title=args.title or title)
    print(f"wrote {out}")
    return 0


def _overlay_data(args: argparse.Namespace) -> tuple[Any, Any, str]:
    """(pred, gt) `(T, 17, 3)` in mm, root-relative, and a title."""
    import numpy as np

    if args.npz:
        if not args.npz.is_file():
            raise FileNotFoundError(f"{args.npz} not found")
        with np.load(args.npz) as f:
            if "pred" not in f.files or "gt" not in f.files:
                raise ValueError(f"{args.npz} must hold arrays 'pred' and 'gt' (T, 17, 3) mm")
            return f["pred"], f["gt"], args.npz.stem
    if not args.ckpt:
        raise ValueError("plot overlay needs --ckpt CHECKPOINT or --npz FILE")
    return predict_clip(args.ckpt, args.clip)


def predict_clip(ckpt: Path, clip: int = 0) -> tuple[Any, Any, str]:
    """Lift test clip `clip` of the run's own data config with its checkpoint.

    Returns:
        `(pred, gt, title)`: `(T, 17, 3)` root-relative mm (2.5D × factor, the evaluation
        protocol of `bench/regimes/base.py`, flip TTA as configured) and a title.
    """
    import torch
    from omegaconf import OmegaConf

    from liftbench.bench.checkpoints import load_lifter_weights
    from liftbench.bench.regimes.base import flatten_views
    from liftbench.bench.runner import build_datamodule, build_module
    from liftbench.geometry.skeletons import ROOT

    ckpt = Path(ckpt)
    config = ckpt.parent.parent / "config.yaml"
    if not ckpt.is_file() or not config.is_file():
        raise FileNotFoundError(f"{ckpt}: need a checkpoint inside a run folder "
                                f"(runs/<run>/checkpoints/*.ckpt with runs/<run>/config.yaml)")
    cfg = OmegaConf.load(config)
    dm = build_datamodule(cfg)
    dm.prepare_data()
    dm.setup("test")
    module = build_module(cfg, dm)
    load_lifter_weights(module.lifter, ckpt, expected_name=cfg.model.name)
    module.eval()
    seen = 0
    for batch in dm.test_dataloader():
        batch = flatten_views(batch)
        n = batch["input"].shape[0]
        if clip < seen + n:
            i = clip - seen
            with torch.no_grad():
                pred = module.predict_pose(batch["input"][i: i + 1])[0]
            target = batch["target"][i] - batch["target"][i][..., ROOT: ROOT + 1, :]
            scale = batch["factor"][i][..., None, None]
            names = list(getattr(dm, "action_names", []) or [])
            action = int(batch["action"][i]) if "action" in batch else -1
            what = names[action] if 0 <= action < len(names) else f"clip {clip}"
            return ((pred * scale).numpy(), (target * scale).numpy(),
                    f"{cfg.model.name} · {cfg.regime.name} · {what}")
        seen += n
    raise ValueError(f"clip must be in [0, {seen - 1}], got {clip}")
