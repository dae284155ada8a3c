"""Imports every lifter family module so that its `@register_lifter` factories run."""

import importlib
import pkgutil

import models as _pkg

for _info in pkgutil.iter_modules(_pkg.__path__):
    if not _info.name.startswith("_") and _info.name not in ("base", "registry"):
        importlib.import_module(f"models.{_info.name}")
