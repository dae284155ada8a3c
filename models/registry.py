"""A timm-style lifter registry: `@register_lifter`, `create_lifter`, `list_lifters`.

A registered factory builds the paper configuration; its entry also records the paper it comes
from and a `tiny` set of overrides that trains in seconds on a CPU. `create_lifter("x_tiny")` and
`create_lifter("x", size="tiny")` are the same thing. The mechanism (decorator forms, entry-point
group `liftbench.lifters`, errors) is the one of datamodules and regimes: `liftbench.registry`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from liftbench.registry import Registry, registered_name

TINY_SUFFIX = "_tiny"


@dataclass(frozen=True)
class LifterEntry:
    """One registered lifter: its factory, the paper it comes from and its tiny overrides."""

    name: str
    factory: Callable[..., nn.Module]
    paper: str = ""
    tiny: dict[str, Any] = field(default_factory=dict)
    paper_params: int | None = None


LIFTERS = Registry(
    "lifter", "liftbench.lifters",
    hint="register your own with @register_lifter and `--import your_module`",
)  # fmt: skip
_REGISTRY: dict[str, LifterEntry] = LIFTERS.entries


def register_lifter(
    fn: Callable[..., nn.Module] | str | None = None,
    *,
    name: str | None = None,
    paper: str = "",
    tiny: dict[str, Any] | None = None,
    paper_params: int | None = None,
) -> Any:
    """Register a lifter factory (bare `@register_lifter`, `@register_lifter("name")`, or keywords).

    Args:
        fn: the factory, `fn(**overrides) -> nn.Module` building the paper configuration (or
            the registry name, as in `@register_lifter("name", paper=...)`).
        name: registry name (default: the factory's `__name__`); must not end in `_tiny`.
        paper: short citation shown by `liftbench models`.
        tiny: keyword overrides that make a CPU-test-sized model.
        paper_params: trainable parameter count of the paper configuration as published
            (or as its official code builds it); tests check the built model against it (±0.5%).
    """
    if isinstance(fn, str):
        name, fn = fn, None

    def deco(f: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        key = registered_name(f, name)
        if key.endswith(TINY_SUFFIX):
            raise ValueError(f"lifter name {key!r} must not end in {TINY_SUFFIX!r} (reserved)")
        LIFTERS.add(key, LifterEntry(key, f, paper, dict(tiny or {}), paper_params),
                    same=lambda a, b: a.factory is b.factory)
        return f

    return deco(fn) if fn is not None else deco


def _base_name(name: str) -> str:
    return name[: -len(TINY_SUFFIX)] if name.endswith(TINY_SUFFIX) else name


def get_lifter_entry(name: str) -> LifterEntry:
    """Return the registry entry of `name` (a `_tiny` suffix is accepted and ignored)."""
    LIFTERS.load()
    if _base_name(name) not in LIFTERS.entries:
        raise ValueError(LIFTERS.unknown(name))
    return LIFTERS.entries[_base_name(name)]


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
    return LIFTERS.names(pattern)


def is_lifter(name: str) -> bool:
    """Whether `name` (optionally `_tiny`-suffixed) is registered."""
    return _base_name(name) in LIFTERS
