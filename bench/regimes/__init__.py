"""Training regimes (LightningModules) by config name."""

from __future__ import annotations

from bench.regimes.base import LiftingRegime
from bench.regimes.supervised import SupervisedRegime

REGIMES: dict[str, type[LiftingRegime]] = {"supervised": SupervisedRegime}


def regime_class(name: str) -> type[LiftingRegime]:
    """The LightningModule class of regime `name`."""
    if name not in REGIMES:
        raise ValueError(f"unknown regime {name!r} (known: {', '.join(sorted(REGIMES))})")
    return REGIMES[name]
