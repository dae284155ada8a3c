"""Training regimes (LightningModules) by config name.

Each module of this package defines a `LiftingRegime` subclass with a `regime_name`; they are
found by importing every module here, so adding a regime is adding one file (plus its
`bench/configs/regime/<name>.yaml`, or a `regime/<name>.yaml` in a `--config-dir` folder).
The registry (`register_regime`, `create_regime`, `list_regimes`, `get_regime_entry`, plug-ins
under the entry-point group `liftbench.regimes`) is `registry.py`.
"""

from __future__ import annotations

from liftbench.bench.regimes.base import LiftingRegime
from liftbench.bench.regimes.registry import (
    RegimeEntry,
    create_regime,
    get_regime_entry,
    list_regimes,
    regime_class,
    register_regime,
)

__all__ = [
    "LiftingRegime",
    "RegimeEntry",
    "create_regime",
    "get_regime_entry",
    "list_regimes",
    "regime_class",
    "register_regime",
]
