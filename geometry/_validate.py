"""Input checking and numpy/torch dispatch shared by the geometry functions.

Every public geometry function accepts numpy arrays or torch tensors and returns the type it was
given. `as_floats` turns a group of arguments into one common floating type: if any argument is a
torch tensor, all become tensors of the promoted floating dtype on that tensor's device (so
gradients flow through the tensor arguments); otherwise all become numpy arrays of the promoted
dtype of the floating inputs (float32 stays float32), float64 when no input is floating.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

Array = np.ndarray | torch.Tensor


def is_torch(x: object) -> bool:
    """Whether `x` is a torch tensor."""
    return isinstance(x, torch.Tensor)


def _describe(expected_tail: Sequence[int | str | None]) -> str:
    parts = ["..."] + [str(d) if d is not None else "N" for d in expected_tail]
    return "(" + ", ".join(parts) + ")"


def shape_error(name: str, x: Any, expected: str) -> ValueError:
    """A `ValueError` naming the argument, the expected shape and the shape it had."""
    shape = tuple(getattr(x, "shape", np.shape(x)))
    return ValueError(f"{name} must have shape {expected}, got {shape}")


def check_shape(
    name: str,
    x: Any,
    expected_tail: Sequence[int | None],
    *,
    min_ndim: int | None = None,
    expected: str | None = None,
) -> None:
    """Check that the trailing dimensions of `x` match `expected_tail`.

    Args:
        name: argument name used in the error message.
        x: numpy array or torch tensor.
        expected_tail: required trailing sizes; `None` accepts any size (but at least 1).
        min_ndim: minimum number of dimensions (default: `len(expected_tail)`).
        expected: how to print the expected shape (default: `(..., *expected_tail)`).

    Raises:
        ValueError: wrong rank, wrong trailing size, or an empty array.
    """
    shape = tuple(x.shape)
    need = len(expected_tail) if min_ndim is None else min_ndim
    text = expected or _describe(expected_tail)
    if len(shape) < max(need, len(expected_tail)):
        raise shape_error(name, x, text)
    tail = shape[len(shape) - len(expected_tail) :]
    for got, want in zip(tail, expected_tail):
        if want is not None and got != want:
            raise shape_error(name, x, text)
    if any(d == 0 for d in shape):
        raise ValueError(f"{name} is empty (shape {shape}); expected {text} with no zero-size axis")


def check_finite(name: str, x: Array) -> None:
    """Raise `ValueError` if `x` holds NaN or ±inf.

    Raises:
        ValueError: naming the argument and how many entries are not finite.
    """
    bad = ~torch.isfinite(x) if is_torch(x) else ~np.isfinite(x)
    n_bad = int(bad.sum())
    if n_bad:
        raise ValueError(f"{name} must be finite, found {n_bad} NaN/inf entries")


def check_positive(name: str, x: Array) -> None:
    """Raise `ValueError` unless every entry of `x` is finite and > 0."""
    check_finite(name, x)
    if bool((x <= 0).any()):
        raise ValueError(f"{name} must be > 0 everywhere, got minimum {float(x.min())}")


def as_floats(**named: Any) -> tuple[list[Array | None], bool]:
    """Convert the named arguments to one floating array type (see module docstring).

    `None` values pass through unchanged. Python scalars and lists are accepted.

    Returns:
        `(values in the given order, True if the result type is torch)`.

    Raises:
        ValueError: an argument that cannot be read as a numeric array (names it).
    """
    tensors = [v for v in named.values() if is_torch(v)]
    if tensors:
        floats = [t.dtype for t in tensors if t.is_floating_point()]
        dtype = floats[0] if floats else torch.get_default_dtype()
        for d in floats[1:]:
            dtype = torch.promote_types(dtype, d)
        device = tensors[0].device
        out: list[Array | None] = []
        for key, v in named.items():
            if v is None:
                out.append(None)
            elif is_torch(v):
                out.append(v.to(dtype=dtype, device=device))
            else:
                out.append(torch.as_tensor(_numeric(key, v), dtype=dtype, device=device))
        return out, True
    arrays = {k: (None if v is None else _numeric(k, v)) for k, v in named.items()}
    present = [a for a in arrays.values() if a is not None]
    floats = [a for a in present if np.issubdtype(a.dtype, np.floating)]
    dtype = np.result_type(*floats) if floats else np.float64
    return [None if a is None else a.astype(dtype, copy=False) for a in arrays.values()], False


def _numeric(name: str, v: Any) -> np.ndarray:
    try:
        a = np.asarray(v)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a numeric array, got {type(v).__name__}") from err
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_):
        raise ValueError(f"{name} must be a numeric array, got dtype {a.dtype}")
    return a


def where(cond: Array, a: Array, b: Array | float) -> Array:
    """`numpy.where` / `torch.where` for whichever type `cond` is."""
    if is_torch(cond):
        return torch.where(cond, a, b)
    return np.where(cond, a, b)


def stack(xs: Sequence[Array], axis: int = -1) -> Array:
    """`numpy.stack` / `torch.stack` along `axis`."""
    if is_torch(xs[0]):
        return torch.stack(list(xs), dim=axis)
    return np.stack(xs, axis=axis)


def isfinite(x: Array) -> Array:
    """Element-wise finiteness for numpy or torch."""
    return torch.isfinite(x) if is_torch(x) else np.isfinite(x)
