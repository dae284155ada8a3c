"""`fit` and `test` as a user runs them: config → DataModule + regime → Trainer → run record.

Every `fit` trains, then evaluates its best checkpoint on the test set; every `test` evaluates a
checkpoint. Each writes one JSON run record (`leaderboard/records.py`) from global rank 0. A run
resumed from its checkpoint keeps its run id and its wandb run id (both stored in the checkpoint),
so it still ends with exactly one record and one wandb run.
"""

from __future__ import annotations

import os
import platform
import secrets
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from omegaconf import DictConfig, OmegaConf

from liftbench.bench.checkpoints import (
    load_lifter_weights,
    load_regime_extras,
    read_checkpoint,
)
from liftbench.bench.compiling import compile_lifter, compile_mode
from liftbench.bench.config import config_hash, save_config, to_container
from liftbench.bench.logging_setup import build_logger, wandb_run_id
from liftbench.bench.precision import resolve_precision
from liftbench.bench.regimes import regime_class
from liftbench.bench.threads import configure_threads, cpu_processes_per_node
from liftbench.datamodules.registry import create_datamodule
from liftbench.leaderboard.records import RunRecord, write_record

STATE_KEY = "liftbench"


def git_commit() -> str | None:
    """The repository's HEAD commit (None outside a git checkout)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def hardware() -> dict[str, Any]:
    """Device facts stored with every record."""
    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return {
        "device": "cuda" if gpus else "cpu", "gpus": gpus, "cpu": platform.processor() or
        platform.machine(), "cpu_count": os.cpu_count(), "torch": torch.__version__,
        "python": platform.python_version(),
    }


def new_run_id(cfg: DictConfig) -> str:
    """`<lifter>-<regime>-<data>-<UTC time>-<random>`; unique across machines."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    name = cfg.run_name or f"{cfg.model.name}-{cfg.regime.name}-{cfg.data.name}"
    return f"{name}-{stamp}-{secrets.token_hex(3)}"


class RunState(Callback):
    """Stores the run id and the wandb run id in every checkpoint (for resuming)."""

    def __init__(self, run_id: str, logger: Any) -> None:
        self.run_id, self.logger = run_id, logger

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule,
                           checkpoint: dict[str, Any]) -> None:
        """Add `{"run_id", "wandb_id"}` under the `liftbench` key."""
        checkpoint[STATE_KEY] = {"run_id": self.run_id, "wandb_id": wandb_run_id(self.logger)}


class TrainClock(Callback):
    """Measures the training's CPU and wall time (this process; fit only, not the test pass).

    `cpu_s` is the process's CPU time (user + sys, all its threads) between the start and the end
    of `trainer.fit`, the figure the papers' "training cost" is compared in on a shared CPU where
    wall time depends on the load. Under DDP it is rank 0's share (the record states the world
    size).
    """

    def __init__(self) -> None:
        self.figures: dict[str, float | int] = {}
        self._start: tuple[float, float] | None = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Start both clocks."""
        self._start = (time.process_time(), time.time())

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Stop them: `{"cpu_s", "wall_s", "steps", "epochs"}`."""
        if self._start is None:
            return
        cpu0, wall0 = self._start
        self.figures = {"cpu_s": round(time.process_time() - cpu0, 2),
                        "wall_s": round(time.time() - wall0, 2),
                        "steps": int(trainer.global_step), "epochs": int(trainer.current_epoch),
                        "threads": torch.get_num_threads()}


class RecordWriter(Callback):
    """Writes the run record at the end of `trainer.test` (global rank 0 only)."""

    def __init__(self, cfg: DictConfig, run_id: str, kind: str, started: float,
                 protocol: dict[str, Any], checkpoint: str | Path | None = None,
                 clock: TrainClock | None = None) -> None:
        self.cfg, self.run_id, self.kind, self.started = cfg, run_id, kind, started
        self.clock = clock
        self.protocol = protocol
        # the checkpoint evaluated when the Trainer tests without `ckpt_path` (a baseline's)
        self.checkpoint = checkpoint
        # Known up front: under ddp_spawn the parent process never sees the callback's state.
        self.path = Path(cfg.results_dir) / f"{run_id}.json"

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Build the record from the regime's `last_test_results` and write it atomically."""
        if trainer.global_rank != 0:
            return
        record = make_record(self.cfg, self.run_id, self.kind, pl_module, self.protocol,
                             pl_module.last_test_results, time.time() - self.started,
                             {"world_size": trainer.world_size,
                              "precision": str(trainer.precision),
                              "precision_reason": trainer_precision(self.cfg)[1],
                              "compile": compile_mode(self.cfg.trainer.get("compile"))})
        tested = trainer.ckpt_path or self.checkpoint
        record.checkpoint = str(Path(tested).resolve()) if tested else None
        if self.clock is not None and self.clock.figures:
            record.extra["train"] = dict(self.clock.figures)
        write_record(record, self.cfg.results_dir)


def make_record(cfg: DictConfig, run_id: str, kind: str, module: Any, protocol: dict[str, Any],
                results: dict[str, Any], seconds: float,
                trainer_info: dict[str, Any] | None = None) -> RunRecord:
    """The run record of a finished run.

    Args:
        cfg: the run's config (stored whole; `config_hash` excludes seed and paths).
        run_id: the record's id (its file name).
        kind: `"fit"` or `"test"`.
        module: the regime module (its lifter's parameter count is recorded).
        protocol: `protocol_fields(cfg, dm, module)`.
        results: the regime's `last_test_results` (`{"overall": {metric: value}, "groups":
            {action: {metric: value}}}`, mm or %).
        seconds: wall time of the run.
        trainer_info: extra hardware facts (world size, the precision that ran and why, compile).
    """
    container = to_container(cfg)
    return RunRecord(
        run_id=run_id,
        kind=kind,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        lifter={"name": cfg.model.name, "size": cfg.model.size,
                "params": sum(p.numel() for p in module.lifter.parameters()),
                "kwargs": container["model"]["kwargs"]},
        # the weights the regime trained with (its YAML defaults completed and checked)
        regime={"name": cfg.regime.name,
                "loss_weights": dict(getattr(module, "loss_cfg", None)
                                     or container["regime"].get("loss", {}))},
        protocol=protocol,
        metrics=results["overall"],
        groups={"action": results["groups"]},
        seed=int(cfg.seed),
        git_commit=git_commit(),
        config_hash=config_hash(cfg),
        config=container,
        wall_time_s=round(seconds, 3),
        hardware={**hardware(), **(trainer_info or {})},
        sweep=container.get("sweep"),
    )


def build_datamodule(cfg: DictConfig) -> L.LightningDataModule:
    """The DataModule of `cfg.data` (batch size, workers and seed from the config)."""
    kwargs = to_container(cfg)["data"].get("kwargs", {})
    kwargs.setdefault("batch_size", int(cfg.data.batch_size))
    kwargs.setdefault("num_workers", int(cfg.trainer.num_workers))
    kwargs.setdefault("seed", int(cfg.seed))
    return create_datamodule(cfg.data.name, **kwargs)


def protocol_fields(cfg: DictConfig, dm: Any, module: Any) -> dict[str, Any]:
    """The protocol fields of a record (what makes two numbers comparable)."""
    if hasattr(dm, "protocol"):
        proto = dict(dm.protocol())
    else:
        proto = {"dataset": cfg.data.name, "split": "default", "source_2d": "unknown",
                 "frames": None, "stride": None}
    joints = module.joints_eval if module.joints_eval is not None else list(range(17))
    lifter = module.lifter
    proto.update({"flip_tta": bool(module.flip_tta), "joints_evaluated": joints,
                  "averaging": "frame", "units": "mm", "scale": module.eval_scale,
                  # seq2seq (every frame of a window scored) or centre (seq2frame lifters)
                  "output": "centre" if getattr(lifter, "output_frames", "all") == "centre"
                  else "seq2seq",
                  "joint_set": getattr(lifter, "joint_set", "h36m17")})
    # a regime's own protocol fields (the diffusion regime's multi-hypothesis setting)
    proto.update(module.protocol_extra() if hasattr(module, "protocol_extra") else {})
    return proto


def build_module(cfg: DictConfig, dm: Any) -> L.LightningModule:
    """The regime's LightningModule around the configured lifter."""
    regime = to_container(cfg)["regime"]
    name, head = regime.pop("name"), cfg.model.get("head", "regression")
    if head != "regression" and not (head == "heatpose" and name in ("supervised", "heatpose")):
        raise ValueError(f"model.head must be regression | heatpose (heatpose with regime="
                         f"supervised | heatpose), got head={head!r}, regime={name!r}")
    cls = regime_class("heatpose" if head == "heatpose" else name)
    return cls(
        lifter=cfg.model.name,
        size=cfg.model.size,
        lifter_kwargs=to_container(cfg)["model"]["kwargs"],
        action_names=list(getattr(dm, "action_names", []) or ["all"]),
        frames=getattr(dm, "frames", None),
        **regime,
    )


def trainer_precision(cfg: DictConfig) -> tuple[str, str]:
    """Lightning's precision for `cfg.trainer.precision` (`auto` resolved) and why."""
    t = cfg.trainer
    return resolve_precision(t.precision, t.accelerator, cfg.model.name)


def compile_module(cfg: DictConfig, module: L.LightningModule) -> list[str]:
    """`trainer.compile`: compile the regime's lifter in place (`bench/compiling.py`)."""
    return compile_lifter(module.lifter, cfg.trainer.get("compile", False))


def build_trainer(cfg: DictConfig, run_dir: Path, callbacks: list[Callback],
                  logger: Any, reload_every: int = 0) -> L.Trainer:
    """A Lightning Trainer from `cfg.trainer` (our DataModules shard data themselves).

    `reload_every`: rebuild the train loader every this many epochs (0: never), for regimes
    whose training data changes between rounds (pseudo-labels).
    """
    t = cfg.trainer
    configure_threads(cpu_processes_per_node(t.accelerator, t.devices))
    from lightning.pytorch.callbacks import TQDMProgressBar

    # redraw the bar every 10 steps, not every step (a per-step cost for tiny lifters)
    callbacks = [*callbacks, TQDMProgressBar(refresh_rate=10)]
    return L.Trainer(
        accelerator=t.accelerator, devices=t.devices, num_nodes=t.num_nodes, strategy=t.strategy,
        precision=trainer_precision(cfg)[0], max_epochs=t.max_epochs, max_steps=t.max_steps,
        limit_train_batches=t.limit_train_batches, limit_val_batches=t.limit_val_batches,
        val_check_interval=t.val_check_interval,
        check_val_every_n_epoch=t.check_val_every_n_epoch,
        gradient_clip_val=t.gradient_clip_val, accumulate_grad_batches=t.accumulate_grad_batches,
        log_every_n_steps=t.log_every_n_steps, deterministic=t.deterministic,
        default_root_dir=str(run_dir), logger=logger, callbacks=callbacks,
        use_distributed_sampler=False, enable_model_summary=False,
        num_sanity_val_steps=0, reload_dataloaders_every_n_epochs=int(reload_every),
    )


def _resume_state(cfg: DictConfig) -> dict[str, Any]:
    if not cfg.ckpt_path:
        return {}
    return dict(read_checkpoint(cfg.ckpt_path).get(STATE_KEY) or {})


def run_fit(cfg: DictConfig) -> Path | None:
    """Train, then test the best checkpoint; returns the record path (on rank 0)."""
    started = time.time()
    L.seed_everything(int(cfg.seed), workers=True, verbose=False)
    state = _resume_state(cfg)
    run_id = state.get("run_id") or new_run_id(cfg)
    run_dir = Path(cfg.output_dir) / run_id
    save_config(cfg, run_dir / "config.yaml")
    dm = build_datamodule(cfg)
    dm.prepare_data()
    dm.setup("fit")
    module = build_module(cfg, dm)
    if cfg.get("init_from") and not cfg.ckpt_path:
        # weights only (a resumed run restores everything from ckpt_path instead)
        init = read_checkpoint(cfg.init_from)
        load_lifter_weights(module.lifter, init, expected_name=cfg.model.name)
        load_regime_extras(module, init)
    compile_module(cfg, module)
    logger = build_logger(cfg, run_dir, run_id, state.get("wandb_id"))
    every = cfg.trainer.get("ckpt_every_n_steps") or None
    ckpt = ModelCheckpoint(
        dirpath=run_dir / "checkpoints", filename="best", monitor=cfg.trainer.monitor,
        mode="min", save_last=every is None, save_top_k=1,
    )
    callbacks = [ckpt, RunState(run_id, logger)]
    if every:
        # A monitored ModelCheckpoint saves nothing before the first validation, so mid-epoch
        # `last.ckpt`s come from a second, unmonitored callback.
        callbacks.append(ModelCheckpoint(
            dirpath=run_dir / "checkpoints", filename="last", monitor=None, save_top_k=1,
            every_n_train_steps=int(every), enable_version_counter=False,
        ))
    clock = TrainClock()
    writer = RecordWriter(cfg, run_id, "fit", started, protocol_fields(cfg, dm, module),
                          checkpoint=run_dir / "checkpoints" / "best.ckpt", clock=clock)
    # a regime that relabels its training set between rounds has the loader rebuilt then
    reload = module.iteration_epochs(cfg.trainer.max_epochs) \
        if hasattr(module, "iteration_epochs") else 0
    trainer = build_trainer(cfg, run_dir, [*callbacks, clock, writer], logger, reload)
    if not any(p.requires_grad for p in module.parameters()):
        # a trivial baseline: its statistics are fitted, there is nothing to train
        trainer.test(module, datamodule=dm, verbose=False)
        trainer.save_checkpoint(run_dir / "checkpoints" / "best.ckpt")
    else:
        trainer.fit(module, datamodule=dm, ckpt_path=cfg.ckpt_path or None)
        best = ckpt.best_model_path or None
        if best is None:
            # nothing was validated (e.g. max_steps=0): the tested weights get a file of their
            # own, so the record names the checkpoint its metrics came from
            best = str(run_dir / "checkpoints" / "best.ckpt")
            trainer.save_checkpoint(best)
        trainer.test(module, datamodule=dm, ckpt_path=best, verbose=False)
    _finish_logger(logger)
    return writer.path


def run_test(cfg: DictConfig) -> Path | None:
    """Evaluate `cfg.ckpt_path` on the test set; returns the record path (on rank 0)."""
    if not cfg.ckpt_path:
        raise ValueError("test needs a checkpoint: ckpt_path=runs/<run>/checkpoints/best.ckpt")
    started = time.time()
    L.seed_everything(int(cfg.seed), workers=True, verbose=False)
    ckpt = read_checkpoint(cfg.ckpt_path)
    hp = ckpt.get("hyper_parameters") or {}
    saved = hp.get("lifter") or hp.get("lifter_name")  # older checkpoints: lifter_name
    if saved and saved != cfg.model.name:
        raise ValueError(
            f"checkpoint {cfg.ckpt_path} was trained with lifter {saved!r}, but model="
            f"{cfg.model.name} was requested (pass model={saved})"
        )
    run_id = f"{(ckpt.get(STATE_KEY) or {}).get('run_id') or new_run_id(cfg)}-test"
    run_dir = Path(cfg.output_dir) / run_id
    save_config(cfg, run_dir / "config.yaml")
    dm = build_datamodule(cfg)
    dm.prepare_data()
    dm.setup("test")
    module = build_module(cfg, dm)
    compile_module(cfg, module)
    logger = build_logger(cfg, run_dir, run_id, None)
    writer = RecordWriter(cfg, run_id, "test", started, protocol_fields(cfg, dm, module))
    trainer = build_trainer(cfg, run_dir, [writer], logger)
    trainer.test(module, datamodule=dm, ckpt_path=cfg.ckpt_path, verbose=False)
    _finish_logger(logger)
    return writer.path


def _finish_logger(logger: Any) -> None:
    from lightning.pytorch.loggers import WandbLogger

    if isinstance(logger, WandbLogger):
        import wandb

        wandb.finish()


def print_config(cfg: DictConfig) -> None:
    """Print the resolved config (used by `--print-config`)."""
    print(OmegaConf.to_yaml(to_container(cfg)))
