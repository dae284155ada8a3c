"""Imports every lifter family module so that its `@register_lifter` factories run."""

import importlib
import pkgutil
from pathlib import Path

# The folder is listed directly: importing the `models` package here would make the two import
# each other.
for _info in pkgutil.iter_modules([str(Path(__file__).parent)]):
    if not _info.name.startswith("_") and _info.name not in ("base", "registry"):
        importlib.import_module(f"liftbench.models.{_info.name}")
