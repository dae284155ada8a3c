"""Registry of LightningDataModules by dataset name (`synthetic`, `h36m`, `sportspose`, ...).

The same mechanism as the lifters' and the regimes' (`liftbench.registry`): `@register_datamodule`
(bare: the class's `name`; or `@register_datamodule("name")`), `create_datamodule`,
`list_datamodules`, `get_datamodule_entry`, and plug-ins under the entry-point group
`liftbench.datamodules`. The built-in dataset packages are imported at the first lookup.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from liftbench.registry import Registry, registered_name


@dataclass(frozen=True)
class DataModuleEntry:
    """One registered dataset: its name and the DataModule class (or factory) that builds it."""

    name: str
    factory: Callable[..., Any]


def _import_builtin() -> None:
    """Import the built-in dataset packages (each dataset is one) so that their decorators ran."""
    import importlib
    import pkgutil
    from pathlib import Path

    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if info.ispkg:
            importlib.import_module(f"liftbench.datamodules.{info.name}")


DATAMODULES = Registry(
    "dataset", "liftbench.datamodules", builtins=_import_builtin,
    hint="register your own with @register_datamodule and `--import your_module`",
)  # fmt: skip


def register_datamodule(cls: Callable[..., Any] | str | None = None, *,
                        name: str | None = None) -> Any:
    """Register a DataModule class (or a factory) under a dataset name.

    Usable bare (`@register_datamodule`: the class's `name` attribute, else its `__name__`), with
    the name (`@register_datamodule("mydata")`) or `@register_datamodule(name="mydata")`.

    Args:
        cls: the class or factory, `cls(**kwargs) -> LightningDataModule` (or the name).
        name: the dataset name (`data=<name>`).
    """
    if isinstance(cls, str):
        name, cls = cls, None

    def deco(obj: Callable[..., Any]) -> Callable[..., Any]:
        key = registered_name(obj, name, "name")
        DATAMODULES.add(key, DataModuleEntry(key, obj), same=lambda a, b: a.factory is b.factory)
        return obj

    return deco(cls) if cls is not None else deco


def get_datamodule_entry(name: str) -> DataModuleEntry:
    """The registry entry of dataset `name` (an unknown name fails listing the valid ones)."""
    return DATAMODULES.get(name)


def create_datamodule(name: str, **kwargs: Any) -> Any:
    """Instantiate the DataModule registered as `name` with `kwargs`."""
    return get_datamodule_entry(name).factory(**kwargs)


def list_datamodules(pattern: str | None = None) -> list[str]:
    """Sorted names of the registered DataModules, optionally filtered by a shell-style pattern."""
    return DATAMODULES.names(pattern)
