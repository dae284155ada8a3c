"""Logger construction: none / csv / wandb (offline automatically without an API key)."""

from __future__ import annotations

import netrc
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from omegaconf import DictConfig

from liftbench.bench.config import to_container


def wandb_api_key_configured() -> bool:
    """Whether an API key is available (env `WANDB_API_KEY` or a `~/.netrc` entry for wandb)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname or ""
    try:
        return netrc.netrc().authenticators(host) is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def resolve_wandb_mode(mode: str) -> str:
    """`auto` → `online` with an API key, else `offline`; `WANDB_MODE` in the environment wins."""
    env = os.environ.get("WANDB_MODE")
    if env:
        return "offline" if env == "dryrun" else env
    if mode not in ("auto", "online", "offline", "disabled"):
        raise ValueError(f"logger.mode must be auto|online|offline|disabled, got {mode!r}")
    if mode == "auto":
        return "online" if wandb_api_key_configured() else "offline"
    return mode


def build_logger(cfg: DictConfig, run_dir: Path, run_name: str, wandb_id: str | None) -> Any:
    """Build the Lightning logger chosen by `cfg.logger.name` (False for none).

    Args:
        cfg: the composed run config.
        run_dir: the run's output folder (loggers write below it).
        run_name: human-readable run name.
        wandb_id: an existing wandb run id to continue (a resumed run), or None for a new one.
    """
    name = cfg.logger.name
    if name == "none":
        return False
    if name == "csv":
        from lightning.pytorch.loggers import CSVLogger

        return CSVLogger(save_dir=str(run_dir), name="csv", version="")
    if name == "wandb":
        from lightning.pytorch.loggers import WandbLogger

        mode = resolve_wandb_mode(cfg.logger.mode)
        if mode == "disabled":
            os.environ["WANDB_MODE"] = "disabled"
        logger = WandbLogger(
            name=run_name,
            project=cfg.logger.project,
            entity=cfg.logger.entity,
            group=cfg.logger.group,
            tags=list(cfg.logger.tags),
            save_dir=str(run_dir),
            offline=mode == "offline",
            log_model=bool(cfg.logger.log_model) and mode == "online",
            id=wandb_id,
            resume="allow" if wandb_id else None,
            mode=mode,
        )
        logger.log_hyperparams(to_container(cfg))
        return logger
    raise ValueError(f"unknown logger {name!r} (none | csv | wandb)")


def wandb_run_id(logger: Any) -> str | None:
    """The wandb run id of `logger` (None for other loggers or a disabled run)."""
    from lightning.pytorch.loggers import WandbLogger

    if isinstance(logger, WandbLogger):
        try:
            return str(logger.experiment.id)
        except Exception:  # disabled runs have no usable id
            return None
    return None
