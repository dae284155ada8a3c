"""`liftbench fit` and `liftbench test`: train / evaluate a lifter under a regime."""

from __future__ import annotations

import argparse

from omegaconf import DictConfig

from liftbench.bench.config import compose, describe_groups

EXAMPLES = {
    "fit": "liftbench fit model=motionagformer_xs size=tiny data=synthetic regime=supervised \\\n"
           "      regime.loss.w_vel=20 trainer.max_epochs=5 logger=wandb",
    "test": "liftbench test model=motionagformer_xs size=tiny data=synthetic \\\n"
            "      ckpt_path=runs/<run>/checkpoints/best.ckpt",
}
EPILOG = """\
overrides: group choices and dotted keys, e.g.
  {example}
config groups (options of the packaged configs and of --config-dir folders):
{groups}
aliases: size=… (model.size), lifter=… (model.name), epochs=… (trainer.max_epochs)
"""


def _add(sub: argparse._SubParsersAction, name: str, help_text: str) -> argparse.ArgumentParser:
    p = sub.add_parser(
        name, help=help_text, description=help_text,
        epilog=EPILOG.format(example=EXAMPLES[name], groups=describe_groups()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides")
    p.add_argument("--print-config", action="store_true",
                   help="print the composed config and exit")
    return p


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register `fit` and `test`."""
    fit = _add(sub, "fit", "train a lifter, then evaluate its best checkpoint (writes a record)")
    fit.set_defaults(func=_fit)
    test = _add(sub, "test", "evaluate a checkpoint (ckpt_path=…) on the test set "
                             "(writes a record)")
    test.set_defaults(func=_test)
    return fit


def _run(args: argparse.Namespace, stage: str) -> int:
    cfg = compose(args.overrides)
    from liftbench.bench import runner

    if args.print_config:
        runner.print_config(cfg)
        return 0
    _use_official_checkpoints(cfg, stage)
    path = runner.run_fit(cfg) if stage == "fit" else runner.run_test(cfg)
    if path is not None and path.exists():
        from liftbench.leaderboard.records import read_record

        rec = read_record(path)
        shown = ", ".join(f"{k} {v:.2f}" for k, v in rec.metrics.items() if v == v)
        print(f"test: {shown} (mm)\nrecord: {path}")
    return 0


def _use_official_checkpoints(cfg: DictConfig, stage: str) -> None:
    """Point `test`'s `ckpt_path` / `fit`'s `init_from` at conversions of official checkpoints.

    An official file (MotionBERT's `best_epoch.bin`, ...) is converted once into
    `<output_dir>/official/`; a liftbench checkpoint is used as it is. (`fit`'s `ckpt_path`
    resumes a liftbench run, with its optimizer state: official files cannot do that.)
    """
    from pathlib import Path

    from liftbench.bench.official import lightning_ready

    for key in ("ckpt_path",) if stage == "test" else ("init_from",):
        if cfg.get(key):
            cache = Path(cfg.output_dir) / "official"
            cfg[key] = str(lightning_ready(cfg[key], cfg.model.name, cache))


def _fit(args: argparse.Namespace) -> int:
    return _run(args, "fit")


def _test(args: argparse.Namespace) -> int:
    return _run(args, "test")
