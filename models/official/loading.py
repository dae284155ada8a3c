"""`load_official`: an official training-script checkpoint → a liftbench lifter (and back)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from liftbench.models.base import Lifter
from liftbench.models.official import d3dp as d3dp_official
from liftbench.models.official import kasportsformer, motionagformer, motionbert, videopose3d
from liftbench.models.official import ktpformer as ktpformer_official
from liftbench.models.official import mixste as mixste_official
from liftbench.models.official import pstmo as pstmo_official
from liftbench.models.official import stcformer as stcformer_official
from liftbench.models.official.family import OfficialFamily, StateDict
from liftbench.models.official.safe_load import official_weights, safe_torch_load
from liftbench.models.registry import create_lifter

FAMILIES: dict[str, OfficialFamily] = {
    fam.name: fam
    for fam in (motionbert.FAMILY, motionagformer.FAMILY, kasportsformer.FAMILY, videopose3d.FAMILY)
}
FAMILIES[mixste_official.FAMILY.name] = mixste_official.FAMILY
FAMILIES[ktpformer_official.FAMILY.name] = ktpformer_official.FAMILY
for _fam in (stcformer_official.FAMILY, pstmo_official.FAMILY):  # bare state dicts
    FAMILIES[_fam.name] = _fam
FAMILIES[d3dp_official.FAMILY.name] = d3dp_official.FAMILY
_BY_LIFTER = {lifter: fam for fam in FAMILIES.values() for lifter in fam.lifters}
_SHOWN = 30


def official_lifters() -> list[str]:
    """Registry names whose official checkpoints can be loaded."""
    return sorted(_BY_LIFTER)


def family_of(name: str) -> OfficialFamily:
    """The official code base behind registry name `name`."""
    if name not in _BY_LIFTER:
        raise ValueError(f"no official checkpoint format known for lifter {name!r} "
                         f"(supported: {', '.join(official_lifters())})")
    return _BY_LIFTER[name]


def read_official_config(config: Mapping[str, Any] | str | Path | None,
                         family: OfficialFamily) -> dict[str, Any]:  # fmt: skip
    """The official constructor arguments given as a dict or as the official YAML file.

    From a YAML file only the keys the official builder reads are taken (the file also holds
    training settings); nested sections are searched as well. A dict is taken as it is.
    """
    if config is None:
        return {}
    if isinstance(config, Mapping):
        return dict(config)
    import yaml

    path = Path(config)
    if not path.is_file():
        raise FileNotFoundError(f"official config {path} does not exist")
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, Mapping):
        raise ValueError(f"{path}: an official config YAML must hold a mapping")
    flat: dict[str, Any] = {}
    stack = [data]
    while stack:
        section = stack.pop(0)
        for key, value in section.items():
            if isinstance(value, Mapping):
                stack.append(value)
            elif key in family.yaml_keys:
                flat.setdefault(key, value)
    if not flat:
        raise ValueError(f"{path}: none of the {family.name} model keys "
                         f"({', '.join(family.yaml_keys)}) found")
    return flat


def official_config(name: str, config: Mapping[str, Any] | str | Path | None = None
                    ) -> dict[str, Any]:  # fmt: skip
    """Complete official constructor arguments of `name`.

    The paper configuration, updated with `config` (a dict or the official YAML file).
    """
    fam = family_of(name)
    return {**fam.paper_config(name), **read_official_config(config, fam)}


def lifter_kwargs_for(name: str, config: Mapping[str, Any] | str | Path | None = None
                      ) -> dict[str, Any]:  # fmt: skip
    """The liftbench constructor arguments equivalent to an official configuration."""
    return family_of(name).lifter_kwargs(official_config(name, config))


def official_to_liftbench(name: str, state: Mapping[str, torch.Tensor]) -> StateDict:
    """Official state dict (`module.` prefixes allowed) → liftbench names."""
    from liftbench.models.official.safe_load import strip_module_prefix

    return family_of(name).to_liftbench(strip_module_prefix(state))


def liftbench_to_official(name: str, state: Mapping[str, torch.Tensor],
                          data_parallel: bool = False) -> StateDict:  # fmt: skip
    """Rename a liftbench state dict to official names (with `module.` when `data_parallel`)."""
    out = family_of(name).to_official(dict(state))
    return {f"module.{k}": v for k, v in out.items()} if data_parallel else out


def _listed(keys: list[str]) -> str:
    more = f" ... and {len(keys) - _SHOWN} more" if len(keys) > _SHOWN else ""
    return ", ".join(keys[:_SHOWN]) + more


def load_official_state(lifter: torch.nn.Module, name: str,
                        state: Mapping[str, torch.Tensor], source: str = "checkpoint") -> None:
    """Strictly load official-named weights into `lifter`; any mismatch raises, listing keys.

    Missing and unexpected keys are reported with their official names.
    """
    fam = family_of(name)
    mapped = official_to_liftbench(name, state)
    own = lifter.state_dict()
    missing = [fam.key_to_official(k) for k in own if k not in mapped]
    unexpected = [fam.key_to_official(k) for k in mapped if k not in own]
    shapes = [f"{fam.key_to_official(k)}: checkpoint {tuple(v.shape)} vs model "
              f"{tuple(own[k].shape)}" for k, v in mapped.items()
              if k in own and own[k].shape != v.shape]  # fmt: skip
    if missing or unexpected or shapes:
        parts = [f"{len(missing)} missing keys: {_listed(missing)}" if missing else "",
                 f"{len(unexpected)} unexpected keys: {_listed(unexpected)}" if unexpected else "",
                 f"{len(shapes)} shape mismatches: {_listed(shapes)}" if shapes else ""]
        raise ValueError(
            f"{source} does not fit {name} ({fam.repo}) in this configuration: "
            + "; ".join(p for p in parts if p)
            + ". Pass the official config it was trained with (config= / --config)."
        )
    lifter.load_state_dict(mapped, strict=True)


def read_official_checkpoint(name: str, checkpoint: Mapping[str, Any] | str | Path
                             ) -> StateDict:  # fmt: skip
    """The official-named weights of a checkpoint file (loaded safely) or loaded dict."""
    fam = family_of(name)
    source = str(checkpoint) if isinstance(checkpoint, str | Path) else "checkpoint"
    ckpt = safe_torch_load(checkpoint) if isinstance(checkpoint, str | Path) else checkpoint
    return official_weights(ckpt, fam.weights_keys, source)


def load_official(name: str, checkpoint: Mapping[str, Any] | str | Path,
                  config: Mapping[str, Any] | str | Path | None = None) -> Lifter:
    """Build liftbench lifter `name` from a checkpoint of its official code.

    Args:
        name: registry name (`motionbert`, `motionagformer_xs`/`_s`/`_b`/`_l`,
            `kasportsformer`, `videopose3d`, `videopose3d_27`, `videopose3d_81`).
        checkpoint: the file the official training script saved (or that dict, loaded):
            weights under `model_pos` (MotionBERT, VideoPose3D, MixSTE `mixste`, KTPFormer
            `ktpformer`) or `model` (MotionAGFormer, KASportsFormer), with or without `module.`
            prefixes; other entries (optimizer, a numpy `RandomState`...) are ignored.
            STCFormer (`stcformer`, `stcformer_l`) and P-STMO (`pstmo`, `pstmo_s`) files are
            the bare state dict. Files are read with `torch.load(weights_only=True)`, numpy
            scalars, arrays and `RandomState`s allowed (`safe_load.py`).
        config: the official constructor arguments (a dict) or the official YAML file; keys
            not given take the paper configuration's values. Default: the paper configuration.

    Returns:
        The lifter in eval mode, `(B, T, 17, 3)` → `(B, T, 17, 3)`, giving the official outputs.
    """
    kwargs = lifter_kwargs_for(name, config)
    lifter = create_lifter(name, **kwargs)
    source = str(checkpoint) if isinstance(checkpoint, str | Path) else "checkpoint"
    load_official_state(lifter, name, read_official_checkpoint(name, checkpoint), source)
    return lifter.eval()  # type: ignore[return-value]


def official_checkpoint(name: str, state: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    """Export liftbench weights as the official script's checkpoint dict (weights only).

    MotionBERT, MotionAGFormer and KASportsFormer keys carry `module.` (their scripts wrap the
    model in `nn.DataParallel` before loading); VideoPose3D's do not.
    """
    fam = family_of(name)
    weights = liftbench_to_official(name, state, data_parallel=fam.data_parallel)
    weights = {k: v.detach().clone() for k, v in weights.items()}
    # STCFormer and P-STMO save the bare state dict (no weights key)
    return {fam.weights_keys[0]: weights} if fam.weights_keys else weights
