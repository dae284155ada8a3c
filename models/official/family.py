"""What liftbench needs to know about one official code base: names, layout, key and config maps."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

StateDict = dict[str, torch.Tensor]
Rules = tuple[tuple[str, str], ...]


def rename_key(key: str, rules: Rules) -> str:
    """Apply every `(regex, replacement)` rule in turn to one key."""
    for pattern, repl in rules:
        key = re.sub(pattern, repl, key)
    return key


def same_keys(state: Mapping[str, torch.Tensor]) -> StateDict:
    """The key map of a family whose official keys are liftbench's (a shallow copy)."""
    return dict(state)


def rename(state: Mapping[str, torch.Tensor], rules: Rules) -> StateDict:
    """`{rename_key(k): v}` for a whole state dict (order kept)."""
    return {rename_key(k, rules): v for k, v in state.items()}


@dataclass(frozen=True)
class OfficialFamily:
    """One official code base and how its checkpoints map onto a liftbench lifter.

    Attributes:
        name: family name (`"motionbert"`).
        repo: the official repository (`owner/name`).
        lifters: the liftbench registry names it covers.
        weights_keys: where the official training script stores the weights.
        data_parallel: whether the official script saves `nn.DataParallel` keys (`module.`).
        to_liftbench: official-named state dict → liftbench-named.
        to_official: liftbench-named state dict → official-named (the exact inverse).
        key_to_official: one liftbench key → its official name (for error messages).
        paper_config: registry name → the official constructor arguments of its paper config.
        lifter_kwargs: official constructor arguments → liftbench constructor arguments.
        yaml_keys: keys the official builder reads from its YAML config.
    """

    name: str
    repo: str
    lifters: tuple[str, ...]
    weights_keys: tuple[str, ...]
    data_parallel: bool
    to_liftbench: Callable[[StateDict], StateDict]
    to_official: Callable[[StateDict], StateDict]
    key_to_official: Callable[[str], str]
    paper_config: Callable[[str], dict[str, Any]]
    lifter_kwargs: Callable[[dict[str, Any]], dict[str, Any]]
    yaml_keys: tuple[str, ...]


def require(config: Mapping[str, Any], family: str, **expected: Any) -> None:
    """Raise unless every `config[key]` equals the only value liftbench implements."""
    wrong = {k: config[k] for k, v in expected.items() if k in config and config[k] != v}
    if wrong:
        want = ", ".join(f"{k}={expected[k]!r}" for k in wrong)
        got = ", ".join(f"{k}={v!r}" for k, v in wrong.items())
        raise ValueError(
            f"{family}: official config {got} is not supported by the liftbench lifter "
            f"(it implements {want} only)"
        )


def warn_dropout(config: Mapping[str, Any], family: str, *keys: str) -> None:
    """Dropout / drop-path rates only act in training; liftbench does not reproduce them."""
    active = {k: config[k] for k in keys if config.get(k)}
    if active:
        warnings.warn(
            f"{family}: official training-time rates {active} are not applied by the liftbench "
            "lifter (outputs in eval mode are unaffected)",
            stacklevel=3,
        )


def check_known(config: Mapping[str, Any], known: Mapping[str, Any], family: str) -> None:
    """Raise on constructor arguments the official constructor does not have (typos)."""
    unknown = sorted(set(config) - set(known))
    if unknown:
        raise ValueError(
            f"{family}: unknown official constructor arguments {unknown} "
            f"(known: {', '.join(sorted(known))})"
        )
