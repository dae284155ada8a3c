"""Lifters: plain `nn.Module`s behind a timm-style registry.

Example:
    >>> from models import create_lifter, list_lifters
    >>> model = create_lifter("motionagformer_xs", size="tiny")
    >>> model = load_official("motionbert", "best_epoch.bin")  # an official checkpoint
"""

from liftbench.models.base import Lifter
from liftbench.models.registry import (
    create_lifter,
    get_lifter_entry,
    is_lifter,
    list_lifters,
    register_lifter,
)

# Importing the families registers them.
from liftbench.models import _families  # noqa: E402,F401  isort: skip
from liftbench.models.official import load_official  # noqa: E402  isort: skip

__all__ = [
    "Lifter",
    "create_lifter",
    "get_lifter_entry",
    "is_lifter",
    "list_lifters",
    "load_official",
    "register_lifter",
]
