"""Reading official training-script checkpoints without unpickling arbitrary objects.

The official MotionBERT / MotionAGFormer / KASportsFormer scripts save their best metric as a
`numpy.float64`, so a plain `torch.load(weights_only=True)` refuses their files. Here
`weights_only=True` runs with exactly numpy's scalar constructor and dtype classes allow-listed
(they build a number from bytes and call nothing else); any other object in the file is refused
with a message naming it, never unpickled.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

# Names under which a numpy scalar's constructor is pickled (numpy 2.x and 1.x files).
_SCALAR_NAMES = ("numpy._core.multiarray.scalar", "numpy.core.multiarray.scalar")


def _numpy_safe_globals() -> list[Any]:
    """The numpy scalar constructor (under both module names) and its dtype classes."""
    scalar = np._core.multiarray.scalar
    dtype_classes = [c for c in vars(np.dtypes).values()
                     if isinstance(c, type) and issubclass(c, np.dtype)]
    return [*((scalar, name) for name in _SCALAR_NAMES), np.dtype, *dtype_classes]


def safe_torch_load(path: str | Path) -> Any:
    """`torch.load(path, weights_only=True)` onto the CPU, numpy scalars/dtypes allowed.

    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: the file holds another object type (it is refused, not unpickled), or it
            is not a torch checkpoint at all.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        with torch.serialization.safe_globals(_numpy_safe_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL (\S+)", str(exc))
        what = f"`{found.group(1)}`" if found else "an object type that is not allowed"
        raise ValueError(
            f"{path}: refused to load: the checkpoint holds {what}, which is neither a tensor "
            "nor a plain value (only tensors, containers, numbers, strings and numpy "
            "scalars/dtypes are accepted; unpickling other objects can run code from the "
            "file). If you trust the file, extract its weights once with `torch.load(path, "
            "weights_only=False)[<weights key>]` and `torch.save` them alone"
        ) from exc
    except (RuntimeError, EOFError, OSError) as exc:
        raise ValueError(f"{path}: not a readable torch checkpoint ({exc})") from exc


def strip_module_prefix(state: Mapping[str, Any]) -> dict[str, Any]:
    """Remove `nn.DataParallel`'s `module.` prefix from every key (repeatedly, if nested)."""
    out = {}
    for key, value in state.items():
        while key.startswith("module."):
            key = key[len("module."):]
        out[key] = value
    return out


def official_weights(ckpt: Any, weights_keys: tuple[str, ...], source: str = "checkpoint"
                     ) -> dict[str, torch.Tensor]:  # fmt: skip
    """The weights of an official checkpoint dict, `module.` prefixes removed.

    Args:
        ckpt: the loaded checkpoint: the training script's dict (weights under one of
            `weights_keys`; optimizer state, epoch, lr, best metric... are ignored) or a bare
            state dict.
        weights_keys: where the official script stores the weights (`model_pos`, `model`).
        source: the file name, for error messages.

    Returns:
        `{name: tensor}` in the official naming.
    """
    if not isinstance(ckpt, Mapping):
        raise ValueError(f"{source}: expected a dict checkpoint, got {type(ckpt).__name__}")
    state: Any = ckpt
    for key in weights_keys:
        if isinstance(ckpt.get(key), Mapping):
            state = ckpt[key]
            break
    if not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(
            f"{source}: no weights found: expected a dict of tensors under "
            f"{' or '.join(repr(k) for k in weights_keys)} (top-level keys: {sorted(ckpt)[:12]})"
        )
    return strip_module_prefix(state)
