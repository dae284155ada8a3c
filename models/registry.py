"""A timm-style lifter registry: `@register_lifter`, `create_lifter`, `list_lifters`.

A registered factory builds the paper configuration; its entry also records the paper it comes
from and a `tiny` set of overrides that trains in seconds on a CPU. `create_lifter("x_tiny")` and
`create_lifter("x", size="tiny")` are the same thing.
"""

from __future__ import annotations

import difflib
import fnmatch
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

TINY_SUFFIX = "_tiny"


@dataclass(frozen=True)
class LifterEntry:
    """One registered lifter: its factory, the paper it comes from and its tiny overrides."""

    name: str
    factory: Callable[..., nn.Module]
    paper: str = ""
    tiny: dict[str, Any] = field(default_factory=dict)
    paper_params: int | None = None


_REGISTRY: dict[str, LifterEntry] = {}


def register_lifter(
    fn: Callable[..., nn.Module] | None = None,
    *,
    name: str | None = None,
    paper: str = "",
    tiny: dict[str, Any] | None = None,
    paper_params: int | None = None,
) -> Any:
    """Register a lifter factory (usable bare, `@register_lifter`, or with arguments).

    Args:
        fn: the factory, `fn(**overrides) -> nn.Module` building the paper configuration.
        name: registry name (default: the factory's `__name__`); must not end in `_tiny`.
        paper: short citation shown by `liftbench models`.
        tiny: keyword overrides that make a CPU-test-sized model.
        paper_params: trainable parameter count of the paper configuration as published
            (or as its official code builds it); tests check the built model against it (±0.5%).
    """

    def deco(f: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        key = name or f.__name__
        if key.endswith(TINY_SUFFIX):
            raise ValueError(f"lifter name {key!r} must not end in {TINY_SUFFIX!r} (reserved)")
        if key in _REGISTRY and _REGISTRY[key].factory is not f:
            warnings.warn(f"lifter {key!r} registered twice; the later one wins", stacklevel=2)
        _REGISTRY[key] = LifterEntry(key, f, paper, dict(tiny or {}), paper_params)
        return f

    return deco(fn) if fn is not None else deco


def _load_entry_points() -> None:
    """Import lifters that installed packages expose under the `liftbench.lifters` group."""
    from importlib.metadata import entry_points

    for ep in entry_points(group="liftbench.lifters"):
        try:
            ep.load()
        except Exception as exc:  # a broken plug-in must not take the whole CLI down
            warnings.warn(f"could not load lifter plug-in {ep.name!r}: {exc}", stacklevel=2)


_ENTRY_POINTS_LOADED = False


def _ensure_loaded() -> None:
    global _ENTRY_POINTS_LOADED
    if not _ENTRY_POINTS_LOADED:
        _ENTRY_POINTS_LOADED = True
        _load_entry_points()


def get_lifter_entry(name: str) -> LifterEntry:
    """Return the registry entry of `name` (a `_tiny` suffix is accepted and ignored)."""
    _ensure_loaded()
    base = name[: -len(TINY_SUFFIX)] if name.endswith(TINY_SUFFIX) else name
    if base not in _REGISTRY:
        close = difflib.get_close_matches(base, list(_REGISTRY), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ValueError(
            f"unknown lifter {name!r}{hint} (known: {', '.join(sorted(_REGISTRY))}; "
            "register your own with @register_lifter and `--import your_module`)"
        )
    return _REGISTRY[base]


def create_lifter(name: str, size: str = "paper", **overrides: Any) -> nn.Module:
    """Build a registered lifter.

    Args:
        name: registry name, optionally with a `_tiny` suffix.
        size: `"paper"` (the published configuration) or `"tiny"` (CPU-test sized).
        **overrides: constructor arguments that replace the configuration's values.

    Returns:
        The lifter, mapping `(B, T, J, 3)` 2D + confidence to `(B, T, J, 3)` 2.5D.
    """
    if size not in ("paper", "tiny"):
        raise ValueError(f"size must be 'paper' or 'tiny', got {size!r}")
    entry = get_lifter_entry(name)
    kwargs: dict[str, Any] = {}
    if size == "tiny" or name.endswith(TINY_SUFFIX):
        kwargs.update(entry.tiny)
    kwargs.update(overrides)
    return entry.factory(**kwargs)


def list_lifters(pattern: str | None = None) -> list[str]:
    """Sorted registry names, optionally filtered by a shell-style pattern (`"motionagformer*"`)."""
    _ensure_loaded()
    names = sorted(_REGISTRY)
    return [n for n in names if pattern is None or fnmatch.fnmatch(n, pattern)]


def is_lifter(name: str) -> bool:
    """Whether `name` (optionally `_tiny`-suffixed) is registered."""
    _ensure_loaded()
    base = name[: -len(TINY_SUFFIX)] if name.endswith(TINY_SUFFIX) else name
    return base in _REGISTRY
