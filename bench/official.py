"""Official checkpoints in the engine: tell them from liftbench's, convert them both ways.

A liftbench checkpoint (Lightning's, or one `liftbench convert` wrote) records
`hyper_parameters`; the official training scripts' files never do (`bench.checkpoints.
is_liftbench_checkpoint` tells them apart without unpickling). Official files are read only
through `models.official` (`weights_only=True`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from liftbench.bench.checkpoints import default_regime_of, is_liftbench_checkpoint
from liftbench.bench.regimes.base import REGIME_KEY
from liftbench.models import create_lifter
from liftbench.models.official import (
    family_of,
    lifter_kwargs_for,
    load_official_state,
    official_checkpoint,
    official_config,
    official_to_liftbench,
    read_official_checkpoint,
)


def liftbench_checkpoint(name: str, weights: Mapping[str, torch.Tensor],
                         lifter_kwargs: Mapping[str, Any],
                         source: Mapping[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """A self-describing liftbench checkpoint (what `predict` / `test` / `init_from` read).

    Args:
        name: registry name.
        weights: the lifter's liftbench-named state dict (stored prefixed `lifter.`).
        lifter_kwargs: its constructor arguments (paper size plus these overrides rebuilds it).
        source: provenance to record (official file, repo, constructor arguments).
    """
    import lightning

    hp = {"lifter": name, "size": "paper", "lifter_kwargs": dict(lifter_kwargs),
          "flip_tta": True, "frames": None, "standardize": False}  # fmt: skip
    state = {f"lifter.{k}": v.detach().clone() for k, v in weights.items()}
    regime = default_regime_of(name, dict(lifter_kwargs))  # the regime it is evaluated in
    ckpt = {"hyper_parameters": hp, "state_dict": state,
            "pytorch-lightning_version": lightning.__version__,
            REGIME_KEY: {"name": regime}}  # fmt: skip
    if source is not None:
        ckpt["converted_from"] = dict(source)
    return ckpt


def convert_official(path: str | Path, name: str, out: str | Path,
                     config: Mapping[str, Any] | str | Path | None = None) -> Path:  # fmt: skip
    """Official checkpoint → liftbench checkpoint at `out` (config included)."""
    fam = family_of(name)
    kwargs = lifter_kwargs_for(name, config)
    lifter = create_lifter(name, **kwargs)
    load_official_state(lifter, name, read_official_checkpoint(name, path), str(path))
    cfg = {k: v if isinstance(v, bool | int | float | str | list | None) else repr(v)
           for k, v in official_config(name, config).items()}  # fmt: skip
    source = {"file": Path(path).name, "repo": fam.repo, "official_config": cfg}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(liftbench_checkpoint(name, lifter.state_dict(), kwargs, source), out)
    return out


def export_official(path: str | Path, out: str | Path, name: str | None = None) -> Path:
    """Export a liftbench checkpoint in the official script's layout (weights only) at `out`."""
    from liftbench.bench.checkpoints import load_regime

    regime = load_regime(path)
    saved = regime.hparams["lifter"]
    if regime.normalizer is not None:
        raise ValueError(f"{path} was trained with z-score input/output normalisation, which the "
                         "official code does not have: its weights alone would give other outputs")
    extras = sorted({k.split(".")[0] for k in regime.state_dict()} - {"lifter"})
    if extras:
        raise ValueError(f"{path} is a {regime.regime_name!r} checkpoint that predicts through "
                         f"{', '.join(extras)} beside the lifter; the official format holds the "
                         "lifter's weights only")
    lifter = regime.lifter
    if name is not None and name != saved:
        raise ValueError(f"{path} holds lifter {saved!r}, not {name!r}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(official_checkpoint(saved, lifter.state_dict()), out)
    return out


def lightning_ready(path: str | Path, name: str, cache_dir: str | Path) -> Path:
    """The file to use for `ckpt_path=` / `init_from=`.

    `path` itself for a liftbench checkpoint; for an official one, a liftbench checkpoint
    converted into `cache_dir` (once per file content). Only the weights are mapped; the lifter
    is built from the run's config, so its architecture must match the checkpoint (a strict
    load reports any difference).
    """
    path = Path(path)
    if is_liftbench_checkpoint(path):
        return path
    fam = family_of(name)  # raises for lifters without an official format
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    out = Path(cache_dir) / f"{path.stem}-{name}-{digest}.ckpt"
    if not out.is_file():
        weights = official_to_liftbench(name, read_official_checkpoint(name, path))
        out.parent.mkdir(parents=True, exist_ok=True)
        source = {"file": path.name, "repo": fam.repo}
        torch.save(liftbench_checkpoint(name, weights, {}, source), out)
    return out
