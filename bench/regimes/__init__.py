"""Training regimes (LightningModules) by config name.

Each module of this package defines a `LiftingRegime` subclass with a `regime_name`; they are
found by importing every module here, so adding a regime is adding one file (plus its
`bench/configs/regime/<name>.yaml`).
"""

from __future__ import annotations

import importlib
import pkgutil

from liftbench.bench.regimes.base import LiftingRegime


def _discover() -> dict[str, type[LiftingRegime]]:
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_") and info.name != "base":
            importlib.import_module(f"{__name__}.{info.name}")
    found: dict[str, type[LiftingRegime]] = {}
    stack = list(LiftingRegime.__subclasses__())
    while stack:
        cls = stack.pop()
        stack += cls.__subclasses__()
        if cls.__dict__.get("regime_name"):
            found[cls.regime_name] = cls
    return found


def regime_class(name: str) -> type[LiftingRegime]:
    """The LightningModule class of regime `name`."""
    regimes = _discover()
    if name not in regimes:
        raise ValueError(f"unknown regime {name!r} (known: {', '.join(sorted(regimes))})")
    return regimes[name]


def list_regimes() -> list[str]:
    """Names of all regimes."""
    return sorted(_discover())
