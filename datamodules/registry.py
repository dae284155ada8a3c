"""Registry of LightningDataModules by dataset name (`synthetic`, `h36m`, `sportspose`, ...)."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

_DATAMODULES: dict[str, Callable[..., Any]] = {}


def register_datamodule(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Class decorator registering a DataModule (or a factory) under `name`."""

    def deco(cls: Callable[..., Any]) -> Callable[..., Any]:
        _DATAMODULES[name] = cls
        return cls

    return deco


def create_datamodule(name: str, **kwargs: Any) -> Any:
    """Instantiate the DataModule registered as `name` with `kwargs`."""
    _import_builtin()
    if name not in _DATAMODULES:
        close = difflib.get_close_matches(name, list(_DATAMODULES), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ValueError(
            f"unknown dataset {name!r}{hint} (known: {', '.join(sorted(_DATAMODULES))})"
        )
    return _DATAMODULES[name](**kwargs)


def list_datamodules() -> list[str]:
    """Sorted names of the registered DataModules."""
    _import_builtin()
    return sorted(_DATAMODULES)


def _import_builtin() -> None:
    """Import the built-in dataset packages (each dataset is one) so that their decorators ran."""
    import importlib
    import pkgutil
    from pathlib import Path

    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if info.ispkg:
            importlib.import_module(f"liftbench.datamodules.{info.name}")
