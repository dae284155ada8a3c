"""`liftbench perf heatpose`: the same lifter with a regression head and with the HeatPose head.

Two `liftbench fit` runs with identical data, epochs, seed and optimiser: `regime=supervised`
(the lifter's own regression head, MPJPE + N-MPJPE + velocity) and `regime=heatpose` (the
HeatPose head on the lifter's `forward_features`, cross-entropy on the GMM target, decoded by
windowed soft-argmax). Prints the validation MPJPE after every epoch of both runs (does the
HeatPose error fall?) and their test metrics on the held-out sports takes (mm).

Also measured, with no model: the decoding error of the exact GMM target of the training poses
(mm), i.e. the floor the target + decoder put under any trained HeatPose head.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
from pathlib import Path
from typing import Any

NAME = "heatpose"
HELP = "regression head vs HeatPose head on the same lifter, same data and epochs (MPJPE mm)"

VARIANTS = {"regression": "regime=supervised", "heatpose": "regime=heatpose"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options: lifter, data size, epochs, learning rate, output folder, extra overrides."""
    p.add_argument("--model", default="motionagformer_xs", help="registered lifter (tiny size)")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--motions", default="walk,dance_a,run,kick",
                   help="synthetic motions (daily train -> sports test)")
    p.add_argument("--subjects", type=int, default=2)
    p.add_argument("--cache-dir", default=None, help="synthetic data cache (default: in --out)")
    p.add_argument("--out", type=Path, default=None, help="runs and records (default: a temp dir)")
    p.add_argument("--override", action="append", default=[],
                   help="extra dotted config override for both runs (repeatable)")
    p.add_argument("--roundtrip-only", action="store_true",
                   help="only the exact-target decoding error, no training")


def _val_curve(run_dir: Path) -> list[float]:
    """`val/mpjpe` per epoch from the run's CSV log."""
    path = run_dir / "csv" / "metrics.csv"
    with path.open() as fh:
        rows = [r for r in csv.DictReader(fh) if r.get("val/mpjpe")]
    return [round(float(r["val/mpjpe"]), 1) for r in rows]


def target_roundtrip_mm(motions: list[str], subjects: int, cache: str) -> dict[str, float]:
    """MPJPE (mm) of decoding the exact target of the first training batch, per setting."""
    import torch

    from liftbench.datamodules.synthetic.datamodule import SyntheticDataModule
    from liftbench.losses.heatpose import HeatPoseGrid, decode_heatpose, heatpose_target

    dm = SyntheticDataModule(motions=motions, subjects=subjects, cameras=2, cache_dir=cache,
                             batch_size=16)
    dm.prepare_data()
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    pose = batch["target"] - batch["target"][..., :1, :]
    factor = batch["factor"][..., None]
    out = {}
    for label, side in (("gmm", 0.2), ("main_only", 0.0)):
        grid = HeatPoseGrid(side_weight=side)
        logp = heatpose_target(pose, grid, "factorised").clamp_min(1e-38).log()
        for method in ("argmax", "soft_argmax"):
            pred = decode_heatpose(logp, grid, "factorised", method, window=3)
            err = (torch.linalg.vector_norm(pred - pose, dim=-1) * factor).mean()
            out[f"{label}_{method}"] = round(float(err), 1)
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Fit both variants, print the curves and the test table, return the figures."""
    from liftbench.bench.cli import main
    from liftbench.leaderboard.records import read_records

    out = args.out or Path(tempfile.mkdtemp(prefix="liftbench-heatpose-"))
    cache = args.cache_dir or str(out / "cache")
    result: dict[str, Any] = {"model": args.model, "epochs": args.epochs, "lr": args.lr,
                              "motions": args.motions, "subjects": args.subjects}
    result["target_roundtrip_mm"] = target_roundtrip_mm(args.motions.split(","), args.subjects,
                                                        cache)
    print(f"exact target decoded (factorised, 65 bins, window 3), MPJPE mm: "
          f"{result['target_roundtrip_mm']}")
    if args.roundtrip_only:
        return result
    for variant, regime in VARIANTS.items():
        results_dir = out / variant / "results"
        argv = [
            "fit", f"model={args.model}", "size=tiny", regime, "data=synthetic",
            f"data.kwargs.motions=[{args.motions}]", f"data.kwargs.subjects={args.subjects}",
            "data.kwargs.cameras=2", f"data.kwargs.cache_dir={cache}",
            f"data.batch_size={args.batch_size}", f"trainer.max_epochs={args.epochs}",
            f"regime.optim.lr={args.lr}", "logger=csv", f"output_dir={out / variant / 'runs'}",
            f"results_dir={results_dir}", *args.override,
        ]
        if main(argv) != 0:
            raise RuntimeError(f"liftbench {' '.join(argv)} failed")
        records = sorted(read_records(results_dir), key=lambda r: r.created)
        rec = records[-1]
        result[variant] = {
            "val_mpjpe_per_epoch": _val_curve(out / variant / "runs" / rec.run_id),
            "test": {k: round(v, 1) for k, v in rec.metrics.items()},
            "params": rec.lifter["params"], "wall_s": rec.wall_time_s,
        }
    for variant in VARIANTS:
        print(f"{variant:<10} val/mpjpe per epoch: {result[variant]['val_mpjpe_per_epoch']}")
    keys = ("mpjpe", "pa_mpjpe", "n_mpjpe", "pck")
    print(f"{'head':<10} " + " ".join(f"{k:>9}" for k in keys) + "   (test, mm / %)")
    for variant in VARIANTS:
        test = result[variant]["test"]
        print(f"{variant:<10} " + " ".join(f"{test.get(k, float('nan')):>9.1f}" for k in keys))
    return result
