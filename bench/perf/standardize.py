"""`liftbench perf standardize`: one-batch overfit error with and without z-scoring.

The check behind the standardisation defaults (`Lifter.standardize`): a fixed batch of the
synthetic capture, plain MPJPE loss, AdamW at a constant lr, the same seed and steps per setting;
the error is then measured in eval mode (BatchNorm running statistics, no flip) in millimetres.
A lifter that cannot drive this near zero has a scale or optimisation problem, not a data one.
"""

from __future__ import annotations

import argparse
import tempfile

import torch

NAME = "standardize"
HELP = "one-batch overfit error (mm) of tiny lifters with and without input/target z-scoring"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the standardisation benchmark."""
    parser.add_argument("--lifters", nargs="+",
                        default=["simplebaseline", "videopose3d_27", "canonpose"],
                        help="lifters, tiny config (default: the three demo lifters)")
    parser.add_argument("--steps", type=int, default=400, help="optimisation steps (400)")
    parser.add_argument("--lr", type=float, default=3e-3, help="constant AdamW lr (3e-3)")


def overfit_one_batch(regime: torch.nn.Module, batch: dict[str, torch.Tensor], steps: int,
                      lr: float) -> float:
    """Train `regime.lift` on one batch for `steps` steps; return its eval-mode MPJPE in mm.

    `regime` is a `LiftingRegime` (statistics already fitted when it standardises); `batch` a
    single-view batch with `input`, `target` `(B, T, J, 3)` and `factor` `(B, T)` mm per unit.
    """
    torch.manual_seed(0)
    opt = torch.optim.AdamW([p for p in regime.parameters() if p.requires_grad], lr=lr,
                            weight_decay=0.0, foreach=True)
    regime.train()
    for _ in range(steps):
        opt.zero_grad()
        (regime.lift(batch["input"]) - batch["target"]).norm(dim=-1).mean().backward()
        opt.step()
    regime.eval()
    with torch.no_grad():
        pred = regime.lift(batch["input"])
    pred = pred - pred[..., :1, :]
    target = batch["target"] - batch["target"][..., :1, :]
    return ((pred - target) * batch["factor"][..., None, None]).norm(dim=-1).mean().item()


def run(args: argparse.Namespace) -> dict:
    """Overfit one batch per lifter and setting; print and return the errors (mm)."""
    from liftbench.bench.regimes.supervised import SupervisedRegime
    from liftbench.datamodules.synthetic.datamodule import SyntheticDataModule

    with tempfile.TemporaryDirectory() as tmp:
        dm = SyntheticDataModule(motions=["walk", "dance_a", "run", "kick"], subjects=2,
                                 cameras=2, cache_dir=tmp, batch_size=16)
        dm.setup()
        batch = next(iter(dm.train_dataloader()))
        train = dm.datasets["train"].arrays
        rows: dict[str, dict[str, float]] = {}
        for name in args.lifters:
            rows[name] = {}
            for standardize in (False, True):
                torch.manual_seed(0)
                regime = SupervisedRegime(name, size="tiny", frames=dm.frames,
                                          standardize=standardize, flip_tta=False)
                regime.fit_normalizer(train["input"], train["target"])
                key = "zscored_mm" if standardize else "raw_mm"
                rows[name][key] = round(overfit_one_batch(regime, batch, args.steps, args.lr), 2)
    print(f"{'lifter':<18} {'raw (mm)':>10} {'z-scored (mm)':>14}   ({args.steps} steps)")
    for name, row in rows.items():
        print(f"{name:<18} {row['raw_mm']:>10} {row['zscored_mm']:>14}")
    return {"lifters": rows, "steps": args.steps, "lr": args.lr}
