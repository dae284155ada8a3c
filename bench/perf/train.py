"""`liftbench perf train`: steps/s of the real `liftbench fit` loop vs a plain PyTorch loop.

Both loops train the same lifter (same initial weights, same normaliser statistics) with the
same optimiser on the same batches of the same DataModule, one after the other in one process,
alternating which goes first per repeat so that a noisy machine penalises both alike. The `fit`
side is the Lightning `Trainer` exactly as `liftbench fit` builds it (checkpointing, logger,
progress bar, validation at its configured cadence): its steps/s include all of that. The plain
side is `zero_grad → lift → supervised_loss → backward → step` and nothing else.
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path

import torch

NAME = "train"
HELP = "training throughput: liftbench fit loop vs a plain PyTorch loop (steps/s, same lifter)"
DEFAULT_LIFTERS = ("simplebaseline", "videopose3d_27", "canonpose", "motionagformer_xs")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the training-throughput benchmark."""
    parser.add_argument("--lifters", nargs="+", default=list(DEFAULT_LIFTERS),
                        help="lifters, tiny config (default: the four demo lifters)")
    parser.add_argument("--steps", type=int, default=200, help="timed steps per loop (200)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps first (10)")
    parser.add_argument("--repeats", type=int, default=2, help="alternating repeats (2)")
    parser.add_argument("--batch-size", type=int, default=32, help="clips per batch (32)")
    parser.add_argument("overrides", nargs="*", default=[],
                        help="extra config overrides (KEY=VALUE) for both loops")


def _config(lifter: str, args: argparse.Namespace, out: Path) -> object:
    from liftbench.bench.config import compose

    return compose([
        "experiment=demo", f"model={lifter}", "size=tiny", "regime=supervised",
        "data.kwargs.split=in-domain", f"data.batch_size={args.batch_size}",
        "logger=csv", f"output_dir={out / 'runs'}", f"results_dir={out / 'results'}",
        *args.overrides,
    ])


def _batches(dm: object, n: int) -> list[dict[str, torch.Tensor]]:
    out: list[dict[str, torch.Tensor]] = []
    while len(out) < n:
        for batch in dm.train_dataloader():  # type: ignore[attr-defined]
            out.append(batch)
            if len(out) == n:
                break
    return out


def plain_steps_per_s(module: torch.nn.Module, batches: list, warmup: int) -> float:
    """Steps/s of a bare loop over `batches` (the first `warmup` untimed)."""
    from liftbench.bench.regimes.base import flatten_views
    from liftbench.losses.supervised import supervised_loss

    module.train()
    opt = module.configure_optimizers()
    opt = opt["optimizer"] if isinstance(opt, dict) else opt
    loss_cfg = module.loss_cfg
    t0 = 0.0
    for i, batch in enumerate(batches):
        if i == warmup:
            t0 = time.perf_counter()
        batch = flatten_views(batch)
        opt.zero_grad(set_to_none=True)
        loss = supervised_loss(module.lift(batch["input"]), batch["target"],
                               mask=batch.get("valid"), **loss_cfg)["loss"]
        loss.backward()
        opt.step()
    return (len(batches) - warmup) / (time.perf_counter() - t0)


def fit_steps_per_s(cfg: object, dm: object, module: object, steps: int, warmup: int,
                    run_dir: Path) -> float:
    """Steps/s of `Trainer.fit` as `liftbench fit` builds it, over `steps` after `warmup`."""
    from lightning.pytorch.callbacks import Callback, ModelCheckpoint

    from liftbench.bench.logging_setup import build_logger
    from liftbench.bench.runner import build_trainer

    class Clock(Callback):
        t0: float = 0.0
        t1: float = 0.0

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:  # noqa: ANN001
            if trainer.global_step == warmup:
                self.t0 = time.perf_counter()

        def on_train_end(self, trainer, pl_module) -> None:  # noqa: ANN001
            self.t1 = time.perf_counter()

    cfg.trainer.max_steps = warmup + steps  # type: ignore[attr-defined]
    cfg.trainer.max_epochs = -1  # type: ignore[attr-defined]
    clock = Clock()
    ckpt = ModelCheckpoint(dirpath=run_dir / "checkpoints", filename="best",
                           monitor=cfg.trainer.monitor, mode="min", save_last=True)  # type: ignore[attr-defined]
    logger = build_logger(cfg, run_dir, run_dir.name, None)
    trainer = build_trainer(cfg, run_dir, [ckpt, clock], logger)
    trainer.fit(module, datamodule=dm)
    return steps / (clock.t1 - clock.t0)


def run(args: argparse.Namespace) -> dict:
    """Measure and print steps/s of both loops per lifter, and their ratio."""
    import lightning as L

    from liftbench.bench.runner import build_datamodule, build_module

    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for lifter in args.lifters:
            cfg = _config(lifter, args, Path(tmp))
            L.seed_everything(0, verbose=False)
            dm = build_datamodule(cfg)
            dm.prepare_data()
            dm.setup("fit")
            base = build_module(cfg, dm)
            if not any(p.requires_grad for p in base.parameters()):
                print(f"{lifter}: no parameters to train (a trivial baseline), skipped")
                rows[lifter] = {"skipped": True}
                continue
            base.prepare_normalizer(dm)
            batches = _batches(dm, args.warmup + args.steps)
            fit, plain = [], []
            for r in range(args.repeats):
                order = ("plain", "fit") if r % 2 == 0 else ("fit", "plain")
                for kind in order:
                    module = copy.deepcopy(base)
                    if kind == "plain":
                        plain.append(plain_steps_per_s(module, batches, args.warmup))
                    else:
                        fit.append(fit_steps_per_s(copy.deepcopy(cfg), dm, module, args.steps,
                                                   args.warmup, Path(tmp) / f"{lifter}-{r}"))
            f, p = max(fit), max(plain)  # best of the repeats: the least disturbed run of each
            rows[lifter] = {"fit_steps_per_s": round(f, 1), "plain_steps_per_s": round(p, 1),
                            "ratio": round(f / p, 3), "threads": torch.get_num_threads(),
                            "train_clips": len(dm.datasets[dm.train_on])}
    print(f"{'lifter':<20} {'fit steps/s':>12} {'plain steps/s':>14} {'fit/plain':>10}")
    for name, row in rows.items():
        if row.get("skipped"):
            continue
        print(f"{name:<20} {row['fit_steps_per_s']:>12} {row['plain_steps_per_s']:>14} "
              f"{row['ratio']:>10}")
    return {"lifters": rows, "steps": args.steps, "batch_size": args.batch_size}
