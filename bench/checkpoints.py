"""Loading lifter weights from any checkpoint flavour.

Accepted: a Lightning checkpoint written by liftbench (`state_dict` keys prefixed `lifter.`), a raw
`state_dict`, or the official repos' dicts (`{"model_pos": ...}`, `{"model": ...}`) whose keys carry
the `module.` prefix of `nn.DataParallel` (MotionBERT issue #60). Prefixes are stripped before a
strict load, so a wrong lifter fails with the missing/unexpected keys listed.
"""

from __future__ import annotations

import inspect
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from liftbench.models.normalization import PoseNormalizer

_LIFTBENCH_MARKERS = (b"hyper_parameters", b"pytorch-lightning_version")
_LEGACY_HEAD_BYTES = 4 << 20  # a pre-zip torch file pickles its dict before the tensor data
_PREFIXES = ("module.", "lifter.", "model.")
_CONTAINER_KEYS = ("state_dict", "model_pos", "model", "model_state_dict")


def is_liftbench_checkpoint(path: str | Path) -> bool:
    """Whether `path` is a liftbench / Lightning checkpoint (not an official one).

    A liftbench checkpoint records `hyper_parameters`; the official training scripts' files never
    do. The raw pickle bytes are searched, so nothing is unpickled.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            pickles = [n for n in zf.namelist() if n.endswith("data.pkl")]
            head = zf.read(pickles[0]) if pickles else b""
    else:
        with path.open("rb") as f:
            head = f.read(_LEGACY_HEAD_BYTES)
    return any(marker in head for marker in _LIFTBENCH_MARKERS)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint file onto the CPU; a missing file raises a clear `FileNotFoundError`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise ValueError(f"{path}: not a readable torch checkpoint ({exc})") from exc


def extract_state_dict(ckpt: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The lifter's parameters from `ckpt`, with `module.` / `lifter.` / `model.` prefixes removed.

    Keys of other sub-modules of a Lightning module (e.g. a HeatPose head `head.`) are kept as they
    are, so `strip` only touches the prefixes listed above.
    """
    state: Any = ckpt
    for key in _CONTAINER_KEYS:
        if isinstance(state, dict) and key in state and isinstance(state[key], dict):
            state = state[key]
            break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError("checkpoint holds no state_dict of tensors")
    lifter_only = {k: v for k, v in state.items() if k.startswith("lifter.")}
    if lifter_only:
        state = lifter_only
    out = {}
    for key, value in state.items():
        changed = True
        while changed:
            changed = False
            for prefix in _PREFIXES:
                if key.startswith(prefix):
                    key = key[len(prefix):]
                    changed = True
        out[key] = value
    return out


def load_lifter_weights(model: nn.Module, ckpt: dict[str, Any] | str | Path,
                        expected_name: str | None = None) -> None:
    """Load lifter weights strictly into `model`, with an error that says what does not match.

    Args:
        model: the freshly built lifter.
        ckpt: a checkpoint dict or a path to one.
        expected_name: the registry name the caller built; compared with the name a liftbench
            checkpoint records (`hyper_parameters.lifter`) for a clearer message.
    """
    if not isinstance(ckpt, dict):
        ckpt = read_checkpoint(ckpt)
    hp = ckpt.get("hyper_parameters") or {}
    saved_name = hp.get("lifter") or hp.get("lifter_name")  # older checkpoints: lifter_name
    if expected_name and saved_name and saved_name != expected_name:
        raise ValueError(
            f"checkpoint was trained with lifter {saved_name!r}, but {expected_name!r} was "
            f"requested (use model={saved_name})"
        )
    state = extract_state_dict(ckpt)
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shape_errors = [
        f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}"
        for k, v in state.items()
        if k in own and own[k].shape != v.shape
    ]
    if missing or unexpected or shape_errors:
        raise ValueError(
            "checkpoint does not fit this lifter: "
            f"{len(missing)} missing keys (e.g. {missing[:3]}), "
            f"{len(unexpected)} unexpected keys (e.g. {unexpected[:3]})"
            + (f", shape mismatches: {shape_errors[:3]}" if shape_errors else "")
        )
    model.load_state_dict(state, strict=True)


def load_regime_extras(module: nn.Module, ckpt: dict[str, Any] | str | Path) -> list[str]:
    """Load a Lightning checkpoint's non-lifter weights that `module` also has (same shapes).

    A regime may own modules beside the lifter (the self-fusion regime's rotation head or MLP,
    a HeatPose head); fine-tuning from a checkpoint of the same regime continues them instead of
    starting them afresh. Keys that the module lacks, or whose shape differs, are left alone, so
    a checkpoint of another regime loads only its lifter. Returns the loaded keys.
    """
    if not isinstance(ckpt, dict):
        ckpt = read_checkpoint(ckpt)
    state = ckpt.get("state_dict")
    if not isinstance(state, dict):
        return []
    own = module.state_dict()
    extras = {k: v for k, v in state.items() if not k.startswith("lifter.") and k in own
              and isinstance(v, torch.Tensor) and own[k].shape == v.shape}
    if extras:
        module.load_state_dict(extras, strict=False)
    return sorted(extras)


def load_normalizer(ckpt: dict[str, Any] | str | Path) -> PoseNormalizer | None:
    """The fitted `PoseNormalizer` a regime saved in `ckpt` (keys `normalizer.*`), else None."""
    if not isinstance(ckpt, dict):
        ckpt = read_checkpoint(ckpt)
    state = ckpt.get("state_dict")
    if not isinstance(state, dict):
        return None
    stats = {k[len("normalizer."):]: v for k, v in state.items() if k.startswith("normalizer.")}
    if not stats:
        return None
    norm = PoseNormalizer(int(stats["in_mean"].shape[0]))
    norm.load_state_dict(stats)
    return norm if norm.is_fitted else None


# Hyper-parameters only one regime has: how checkpoints written before the regime's name was
# recorded (`checkpoint["liftbench_regime"]["name"]`) are recognised.
_LEGACY_REGIME_KEYS = (("heatpose", "heatpose"), ("two_stage", "selffusion"),
                       ("calibration", "pseudolabel"), ("labelled_subjects", "consistency"))


def regime_name_of(ckpt: dict[str, Any]) -> str:
    """The name of the regime that wrote a liftbench checkpoint (`supervised` if it says none)."""
    recorded = (ckpt.get("liftbench_regime") or {}).get("name")
    if recorded:
        return str(recorded)
    hp = ckpt.get("hyper_parameters") or {}
    for key, name in _LEGACY_REGIME_KEYS:
        if key in hp:
            return name
    return "supervised"


def default_regime_of(name: str, lifter_kwargs: dict[str, Any]) -> str:
    """The regime lifter `name` is made for (`Lifter.default_regime`), read without weights."""
    from liftbench.models import create_lifter

    with torch.device("meta"):  # only the class attribute is read: no weights allocated
        return str(getattr(create_lifter(name, **lifter_kwargs), "default_regime", "supervised"))


def _official_regime(name: str, lifter_kwargs: dict[str, Any]) -> Any:
    """The regime an official lifter is evaluated in (its `default_regime`), paper size."""
    from liftbench.bench.regimes import regime_class

    cls = regime_class(default_regime_of(name, lifter_kwargs))
    return cls(lifter=name, size="paper", lifter_kwargs=lifter_kwargs, flip_tta=True,
               standardize=False)


def load_regime(path: str | Path, model: str | None = None,
                config: dict[str, Any] | str | Path | None = None) -> Any:
    """The regime (LightningModule, eval mode, CPU) of any checkpoint: the one inference path.

    A liftbench checkpoint is loaded as the regime that wrote it, as Lightning's
    `Regime.load_from_checkpoint` does (its head, normaliser and flip setting included), so its
    `predict_pose` /
    `predict_sequence` predict what its `test` scored. An official checkpoint (MotionBERT's
    `best_epoch.bin`, ...) becomes a supervised regime around the official lifter; it needs
    `model` (and `config`, the official YAML or constructor arguments, unless it is the paper
    configuration).

    Args:
        path: the checkpoint file.
        model: the registry name of the lifter; checked against a liftbench checkpoint's.
        config: official configuration of an official checkpoint.

    Raises:
        FileNotFoundError: no such file.
        ValueError: an official file without `model`, a wrong `model`, or a file that is no
            checkpoint of a lifter.
    """
    from liftbench.bench.regimes import regime_class

    path = Path(path)
    if not is_liftbench_checkpoint(path):
        from liftbench.models.official import (
            lifter_kwargs_for,
            load_official_state,
            official_lifters,
            read_official_checkpoint,
        )

        if model is None:
            raise ValueError(f"{path} is not a liftbench checkpoint; for an official checkpoint "
                             f"pass --model NAME (one of {', '.join(official_lifters())})")
        regime = _official_regime(model, lifter_kwargs_for(model, config))
        load_official_state(regime.lifter, model, read_official_checkpoint(model, path),
                            str(path))
        return regime.eval()
    ckpt = read_checkpoint(path)
    hp = ckpt.get("hyper_parameters") or {}
    if "lifter" not in hp:
        raise ValueError(
            f"{path} is not a liftbench checkpoint (no hyper_parameters.lifter); load plain "
            f"weights with liftbench.bench.checkpoints.load_lifter_weights into create_lifter(...)"
        )
    if model is not None and model != hp["lifter"]:
        raise ValueError(f"checkpoint was trained with lifter {hp['lifter']!r}, but {model!r} "
                         f"was requested (use model={hp['lifter']})")
    state = ckpt.get("state_dict") or {}
    overrides: dict[str, Any] = {}
    if not any(k.startswith("normalizer.") for k in state):
        overrides["standardize"] = False  # e.g. a converted official checkpoint
    cls = regime_class(regime_name_of(ckpt))
    # What `cls.load_from_checkpoint` does, from the dict already read (and for hand-written
    # checkpoints that carry no Lightning version): the saved hyper-parameters, filtered to the
    # constructor's arguments unless it takes **kwargs, then a strict load of every weight.
    kwargs = {**hp, **overrides}
    params = inspect.signature(cls.__init__).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        kwargs = {k: v for k, v in kwargs.items() if k in params}
    regime = cls(**kwargs)
    regime.load_state_dict(state, strict=True)
    return regime.eval()
