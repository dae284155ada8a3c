"""The one registry mechanism behind lifters, datamodules and regimes.

Each kind has a `Registry` with the same behaviour, and its package the same functions around it:

- lifters: `@register_lifter`, `create_lifter`, `list_lifters`, `get_lifter_entry`, entry-point
  group `liftbench.lifters` (`liftbench.models`);
- datamodules: `@register_datamodule`, `create_datamodule`, `list_datamodules`,
  `get_datamodule_entry`, group `liftbench.datamodules` (`liftbench.datamodules.registry`);
- regimes: `@register_regime`, `create_regime`, `list_regimes`, `get_regime_entry`, group
  `liftbench.regimes` (`liftbench.bench.regimes`).

A decorator works bare (the name is the object's own: a factory's `__name__`, a DataModule's
`name`, a regime's `regime_name`), with a name (`@register_datamodule("mydata")`) or with
keywords (`@register_lifter(name="x", paper=...)`). The first lookup imports the built-in
implementations, then every entry point of the kind's group that installed distributions declare
(`[project.entry-points."liftbench.lifters"] mine = "my_package.lifters"`): loading one imports
its module, whose decorators register what it defines. An unknown name fails with the valid
names. This module imports nothing of liftbench (and no torch), so every package may use it.
"""

from __future__ import annotations

import difflib
import fnmatch
import warnings
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any


class Registry:
    """Named entries of one kind, filled by decorators, built-in imports and entry points.

    Args:
        kind: what an entry is, for messages (`"lifter"`).
        group: the entry-point group of plug-ins (`"liftbench.lifters"`).
        builtins: imports the built-in implementations (run once, at the first lookup).
        refresh: run at every lookup (e.g. to register subclasses defined since the last one).
        hint: how to add one, appended to the unknown-name error.
    """

    def __init__(self, kind: str, group: str, builtins: Callable[[], None] | None = None,
                 refresh: Callable[[], None] | None = None, hint: str = "") -> None:
        self.kind, self.group, self.hint = kind, group, hint
        self._builtins, self._refresh = builtins, refresh
        self.entries: dict[str, Any] = {}
        self._loaded = False

    def add(self, name: str, entry: Any, same: Callable[[Any, Any], bool] | None = None) -> None:
        """Register `entry` under `name`; a different object under a taken name replaces it."""
        old = self.entries.get(name)
        if old is not None and not (same or (lambda a, b: a is b))(old, entry):
            warnings.warn(f"{self.kind} {name!r} registered twice; the later one wins",
                          stacklevel=3)
        self.entries[name] = entry

    def load(self) -> None:
        """Import the built-ins and the entry-point plug-ins (once), then refresh."""
        if not self._loaded:
            self._loaded = True
            if self._builtins is not None:
                self._builtins()
            load_entry_points(self.group, self.kind)
        if self._refresh is not None:
            self._refresh()

    def get(self, name: str) -> Any:
        """The entry registered as `name`.

        Raises:
            ValueError: for an unknown name, listing the valid ones (and close matches).
        """
        self.load()
        if name not in self.entries:
            raise ValueError(self.unknown(name))
        return self.entries[name]

    def unknown(self, name: str) -> str:
        """The error message for an unknown `name`: close matches and every valid name."""
        close = difflib.get_close_matches(name, list(self.entries), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        known = ", ".join(sorted(self.entries)) or "none"
        more = f"; {self.hint}" if self.hint else ""
        return f"unknown {self.kind} {name!r}{hint} (known: {known}{more})"

    def names(self, pattern: str | None = None) -> list[str]:
        """Sorted names, optionally filtered by a shell-style pattern (`"motion*"`)."""
        self.load()
        return [n for n in sorted(self.entries) if pattern is None or fnmatch.fnmatch(n, pattern)]

    def __contains__(self, name: object) -> bool:
        self.load()
        return name in self.entries


def load_entry_points(group: str, kind: str) -> list[str]:
    """Load every entry point of `group`; returns the names loaded.

    A plug-in that fails to import is reported as a warning and skipped: one broken package must
    not take the whole command line down.
    """
    loaded = []
    for ep in entry_points(group=group):
        try:
            ep.load()
        except Exception as exc:  # noqa: BLE001
            warnings.warn(f"could not load {kind} plug-in {ep.name!r} ({ep.value}): {exc}",
                          stacklevel=2)
            continue
        loaded.append(ep.name)
    return loaded


def registered_name(obj: Any, name: str | None, attribute: str | None = None) -> str:
    """The name to register `obj` under: `name`, else `obj.<attribute>`, else `__name__`."""
    if name:
        return name
    if attribute and isinstance(getattr(obj, attribute, None), str) and getattr(obj, attribute):
        return getattr(obj, attribute)
    return obj.__name__
