"""Loss weights of a regime: defaults in one place (its YAML), checked when the regime is built.

The `loss:` section of `regime/<name>.yaml` (the user's `--config-dir` first, then the packaged
configs) is the single source of a regime's loss terms and their defaults: it names every valid
key, its type (a number, a flag, a choice string, or a nested group such as self-fusion's
`stage1` / `stage2`) and its default value. A regime built from Python with `loss=None` gets
exactly the defaults `liftbench fit regime=<name>` would; keys the section does not name are an
error listing the valid ones, and a value of the wrong type is an error naming the key. A regime
without a YAML file (a user's own, registered from Python) is not checked.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def loss_defaults(regime_name: str) -> dict[str, Any] | None:
    """The `loss:` section of the regime's YAML (None when the regime has no YAML file)."""
    from omegaconf import OmegaConf

    from liftbench.bench.config import find_config

    path = find_config("regime", f"{regime_name}.yaml")
    if path is None:
        return None
    raw = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    loss = raw.get("loss") if isinstance(raw, dict) else None
    return dict(loss) if isinstance(loss, dict) else None


def _check(key: str, value: Any, default: Any) -> Any:
    if isinstance(default, Mapping):
        return resolve_loss(value, default, prefix=f"{key}.")
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"regime.loss.{key} must be true or false, got {value!r}")
        return value
    if isinstance(default, int | float):
        if isinstance(value, bool) or not isinstance(value, int | float) or \
                not math.isfinite(value):
            raise ValueError(f"regime.loss.{key} must be a finite number, got {value!r}")
        return float(value)
    if isinstance(default, str) and not isinstance(value, str):
        raise ValueError(f"regime.loss.{key} must be a string, got {value!r}")
    return value


def resolve_loss(given: Mapping[str, Any] | None, defaults: Mapping[str, Any] | None,
                 regime: str = "", prefix: str = "") -> dict[str, Any]:
    """`defaults` updated with `given`, every key and type checked against `defaults`.

    Args:
        given: the configured weights (`regime.loss`), possibly partial; None = defaults.
        defaults: the regime's `loss:` section (`loss_defaults`); None: nothing to check
            against (`given` is returned as it is).
        regime: the regime's name, for the error message.
        prefix: key path of a nested group (`stage1.`), for the error message.

    Raises:
        ValueError: an unknown key (the message lists the valid ones) or a value of the wrong
            type.
    """
    given = dict(given or {})
    if defaults is None:
        return given
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        where = f" for regime {regime!r}" if regime else ""
        raise ValueError(
            f"regime.loss: unknown key{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(prefix + k for k in unknown)}{where} (valid: "
            f"{', '.join(prefix + k for k in defaults)})")
    return {key: _check(prefix + key, given.get(key, default), default)
            for key, default in defaults.items()}
