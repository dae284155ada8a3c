"""Performance benchmarks behind `liftbench perf NAME`.

Each module in this package defines `NAME: str`, `HELP: str`, `add_arguments(parser)` and
`run(args) -> dict` (the measured figures, also printed). `liftbench perf all` runs them all.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def benchmark_modules() -> dict[str, ModuleType]:
    """Return `{name: module}` for every benchmark module in this package."""
    out: dict[str, ModuleType] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        out[module.NAME] = module
    return out
