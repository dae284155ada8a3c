"""Registry of training regimes (LightningModules) by config name (`regime=<name>`).

The same mechanism as the lifters' and the datamodules' (`liftbench.registry`): `@register_regime`
(bare: the class's `regime_name`; or `@register_regime("name")`), `create_regime`,
`list_regimes`, `get_regime_entry`, and plug-ins under the entry-point group `liftbench.regimes`.
A `LiftingRegime` subclass with a `regime_name` of its own needs no decorator: every lookup
registers such subclasses, wherever they are defined (this package's modules are imported at the
first lookup, a user's module by `--import`).
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from liftbench.registry import Registry, registered_name


@dataclass(frozen=True)
class RegimeEntry:
    """One registered regime: its config name and its LightningModule class."""

    name: str
    cls: type


def _import_builtin() -> None:
    """Import every module of this package, so that their regimes are defined."""
    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if not info.name.startswith("_") and info.name not in ("base", "registry"):
            importlib.import_module(f"liftbench.bench.regimes.{info.name}")


def _register_subclasses() -> None:
    """Register every `LiftingRegime` subclass that names itself (`regime_name` in its body)."""
    from liftbench.bench.regimes.base import LiftingRegime

    stack = list(LiftingRegime.__subclasses__())
    while stack:
        cls = stack.pop()
        stack += cls.__subclasses__()
        name = cls.__dict__.get("regime_name")
        if name and name not in REGIMES.entries:
            REGIMES.entries[name] = RegimeEntry(name, cls)


REGIMES = Registry(
    "regime", "liftbench.regimes", builtins=_import_builtin, refresh=_register_subclasses,
    hint="define a LiftingRegime subclass with a regime_name and `--import your_module`",
)  # fmt: skip


def register_regime(cls: type | str | None = None, *, name: str | None = None) -> Any:
    """Register a regime class (bare: its `regime_name`; or `@register_regime("name")`).

    A class registered under a name it does not carry gets it as its `regime_name` (the name its
    run records and checkpoints hold).

    Args:
        cls: the `LiftingRegime` subclass (or the name).
        name: the config name (`regime=<name>`).
    """
    if isinstance(cls, str):
        name, cls = cls, None

    def deco(obj: type) -> type:
        key = registered_name(obj, name, "regime_name")
        if obj.__dict__.get("regime_name") != key:
            obj.regime_name = key
        REGIMES.add(key, RegimeEntry(key, obj), same=lambda a, b: a.cls is b.cls)
        return obj

    return deco(cls) if cls is not None else deco


def get_regime_entry(name: str) -> RegimeEntry:
    """The registry entry of regime `name` (an unknown name fails listing the valid ones)."""
    return REGIMES.get(name)


def regime_class(name: str) -> type:
    """The LightningModule class of regime `name`."""
    return get_regime_entry(name).cls


def create_regime(name: str, **kwargs: Any) -> Any:
    """Instantiate regime `name` with `kwargs` (the regime YAML's keys other than `name`)."""
    return regime_class(name)(**kwargs)


def list_regimes(pattern: str | None = None) -> list[str]:
    """Sorted names of the registered regimes, optionally filtered by a shell-style pattern."""
    return REGIMES.names(pattern)
