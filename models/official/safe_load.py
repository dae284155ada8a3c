"""Reading official training-script checkpoints without unpickling arbitrary objects.

The official MotionBERT / MotionAGFormer / KASportsFormer scripts save their best metric as a
`numpy.float64`, so a plain `torch.load(weights_only=True)` refuses their files. Here
`weights_only=True` runs with exactly numpy's scalar constructor and dtype classes allow-listed
(they build a number from bytes and call nothing else); any other object in the file is refused
with a message naming it, never unpickled.

The MixSTE / KTPFormer / D3DP scripts (VideoPose3D's `run.py` lineage) also pickle their data
generator's `numpy.random.RandomState`. Its reconstruction is allowed as well, through stand-ins
registered under numpy's pickle names (`_randomstate_ctor`, `_bit_generator_ctor`): they only
build one of numpy's own bit generators, looked up by name (or by class identity) in numpy's
table, and never call a callable the file names. Numpy's `__randomstate_ctor` itself takes a
`bit_generator_ctor` argument and calls it, so it is not allow-listed. Files written by numpy <
1.17 use numpy's `numpy.random.__RandomState_ctor()`, which takes no argument and returns
`RandomState(seed=0)`; it is allowed as it is. The rest of the chain
(the bit generator classes, `RandomState`, `ndarray` reconstruction from bytes, dtypes) only
sets data: the bit generator and `RandomState` `__setstate__` validate and copy a state dict.
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


# Names under which numpy's array reconstructor is pickled (numpy 2.x and 1.x files).
_RECONSTRUCT_NAMES = ("numpy._core.multiarray._reconstruct", "numpy.core.multiarray._reconstruct")


def _numpy_bit_generators() -> dict[str, type]:
    """The bit generator classes numpy itself provides, by name (`MT19937`, `PCG64`, ...)."""
    from numpy.random import _pickle

    return dict(_pickle.BitGenerators)


def _bit_generator_ctor(bit_generator: Any = "MT19937") -> Any:
    """Stand-in for `numpy.random._pickle.__bit_generator_ctor`: a fresh numpy bit generator.

    Args:
        bit_generator: a name in numpy's bit generator table (numpy 1.x files) or one of those
            classes itself (numpy 2.x files); anything else is refused.

    Raises:
        pickle.UnpicklingError: not one of numpy's bit generators.
    """
    table = _numpy_bit_generators()
    if isinstance(bit_generator, str) and bit_generator in table:
        return table[bit_generator]()
    for cls in table.values():
        if bit_generator is cls:
            return cls()
    raise pickle.UnpicklingError(
        f"refused numpy bit generator {bit_generator!r}: not one of numpy's "
        f"{', '.join(table)}"
    )


def _randomstate_ctor(bit_generator_name: Any = "MT19937", bit_generator_ctor: Any = None
                      ) -> np.random.RandomState:  # fmt: skip
    """Stand-in for `numpy.random._pickle.__randomstate_ctor`: an unseeded `RandomState`.

    Its state is set afterwards from the file by `RandomState.__setstate__` (pure data).

    Args:
        bit_generator_name: a numpy bit generator instance (numpy 2.x files: already rebuilt by
            `_bit_generator_ctor`), or a name / class in numpy's table (numpy 1.x files).
        bit_generator_ctor: the constructor the file names (numpy 1.x files). It is never
            called; only numpy's own (i.e. this module's stand-in) or none is accepted.

    Raises:
        pickle.UnpicklingError: anything else.
    """
    if bit_generator_ctor is not None and bit_generator_ctor is not _bit_generator_ctor:
        raise pickle.UnpicklingError(
            f"refused RandomState constructor argument {bit_generator_ctor!r}"
        )
    if type(bit_generator_name) in _numpy_bit_generators().values():
        return np.random.RandomState(bit_generator_name)
    return np.random.RandomState(_bit_generator_ctor(bit_generator_name))


def _numpy_safe_globals() -> list[Any]:
    """What numpy scalars, dtypes, arrays and a `RandomState` need to be rebuilt (no more)."""
    scalar = np._core.multiarray.scalar
    reconstruct = np._core.multiarray._reconstruct
    dtype_classes = [c for c in vars(np.dtypes).values()
                     if isinstance(c, type) and issubclass(c, np.dtype)]
    random_state = [
        # numpy < 1.17 pickles: `__RandomState_ctor()` takes no argument (RandomState(seed=0))
        getattr(np.random, "__RandomState_ctor"),
        (_randomstate_ctor, "numpy.random._pickle.__randomstate_ctor"),
        (_bit_generator_ctor, "numpy.random._pickle.__bit_generator_ctor"),
        np.random.RandomState, *_numpy_bit_generators().values(),
        *((reconstruct, name) for name in _RECONSTRUCT_NAMES), np.ndarray,
    ]  # fmt: skip
    return [*((scalar, name) for name in _SCALAR_NAMES), np.dtype, *dtype_classes, *random_state]


def safe_torch_load(path: str | Path) -> Any:
    """`torch.load(path, weights_only=True)` onto the CPU, numpy scalars/dtypes allowed.

    Also allowed: numpy arrays and a `numpy.random.RandomState` over one of numpy's own bit
    generators (what the MixSTE / KTPFormer / D3DP scripts pickle; see the module docstring).

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
        refused = re.search(r"refused ((numpy bit generator|RandomState constructor argument)"
                            r" .*)", str(exc))  # fmt: skip
        what = (f"`{found.group(1)}`" if found else f"a {refused.group(1)}" if refused
                else "an object type that is not allowed")  # fmt: skip
        raise ValueError(
            f"{path}: refused to load: the checkpoint holds {what}, which is neither a tensor "
            "nor a plain value (only tensors, containers, numbers, strings, numpy "
            "scalars/dtypes/arrays and numpy RandomStates are accepted; unpickling other "
            "objects can run code from the "
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
