"""Restricted unpickling of dataset files: numpy arrays, dtypes and builtin containers only.

Several datasets ship pickles (MotionBERT-style `.pkl`, SportsPose `calib.pkl`, AIST++
annotations, the object arrays inside VideoPose3D's `.npz`). `pickle.load` runs whatever code
a file names; a downloaded file is untrusted input. `load_pickle` resolves only the globals
that rebuild numpy arrays, dtypes and scalars plus plain containers; anything else (e.g.
`os.system`, `builtins.eval`, an arbitrary class) is refused with an `UnsafePickleError` that
names the file and the global it asked for.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

# (module, name) pairs a numpy/builtin pickle needs. numpy 2 moved `numpy.core` to
# `numpy._core`; files written by either must load, so both spellings are listed.
_NUMPY = {
    (mod, name)
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray")
    for name in ("_reconstruct", "scalar")
} | {
    ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
}
_BUILTINS = {
    ("builtins", name)
    for name in (
        "dict", "list", "tuple", "set", "frozenset", "str", "bytes", "bytearray", "int",
        "float", "complex", "bool", "slice", "range",
    )
} | {("__builtin__", n) for n in ("set", "frozenset", "list", "dict", "tuple", "unicode")} | {
    ("collections", "OrderedDict"),
    # Python-2-era numpy pickles store raw bytes as latin-1 text decoded by `_codecs.encode`
    # (a pure function of its arguments).
    ("_codecs", "encode"),
}
ALLOWED_GLOBALS = frozenset(_NUMPY | _BUILTINS)


class UnsafePickleError(ValueError):
    """A pickle asked for a global outside `ALLOWED_GLOBALS` (it would run code)."""


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BufferedIOBase, source: str, encoding: str) -> None:
        super().__init__(file, encoding=encoding)
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in ALLOWED_GLOBALS or (
            module in ("numpy", "numpy.dtypes") and name.endswith("DType")
        ):
            return super().find_class(module, name)
        raise UnsafePickleError(
            f"{self.source}: refusing to unpickle global {module}.{name}; dataset pickles may "
            "only contain numpy arrays/dtypes and builtin types (this file would run code)"
        )

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(f"{self.source}: persistent ids are not allowed ({pid!r})")


def loads_pickle(data: bytes, source: str = "<bytes>", encoding: str = "latin1") -> Any:
    """Unpickle `data` with the restricted unpickler.

    Args:
        data: the pickle bytes.
        source: name used in error messages (a file name).
        encoding: how Python-2 `str` objects are decoded (`"latin1"` keeps numpy buffers intact).

    Returns:
        The unpickled object (dicts, lists, numpy arrays, scalars, strings).

    Raises:
        UnsafePickleError: the pickle references a global that is not allowed.
        ValueError: the data is not a valid pickle (message names `source`).
    """
    try:
        return _RestrictedUnpickler(io.BytesIO(data), source, encoding).load()
    except UnsafePickleError:
        raise
    except Exception as exc:  # corrupt / truncated files raise many types
        raise ValueError(f"{source}: not a readable pickle ({type(exc).__name__}: {exc})") from exc


def load_pickle(path: str | Path, encoding: str = "latin1") -> Any:
    """Load a pickle file with the restricted unpickler (see `loads_pickle`).

    Raises:
        FileNotFoundError: `path` does not exist (named in the message).
        UnsafePickleError: the file tries to run code.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"pickle file {path} not found")
    return loads_pickle(path.read_bytes(), str(path), encoding)


def _read_npy(raw: bytes, source: str) -> np.ndarray:
    """One `.npy` member; object arrays go through the restricted unpickler."""
    f = io.BytesIO(raw)
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    else:
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
    if dtype.hasobject:
        arr = loads_pickle(f.read(), source)
        if not isinstance(arr, np.ndarray):
            raise ValueError(f"{source}: object payload is {type(arr).__name__}, not an array")
        return arr
    data = np.frombuffer(f.read(), dtype=dtype, count=int(np.prod(shape)))
    order = "F" if fortran else "C"
    return data.reshape(shape, order=order).copy()


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Load every array of an `.npz` (or one `.npy`), object arrays via the safe unpickler.

    Replaces `np.load(path, allow_pickle=True)` for files such as VideoPose3D's
    `data_3d_h36m.npz`, whose `positions_3d` is a pickled dict in a 0-d object array
    (`arrays["positions_3d"].item()` gives the dict).

    Args:
        path: an `.npz` or `.npy` file.

    Returns:
        `{name: array}` (for `.npy`: `{"arr_0": array}`).

    Raises:
        FileNotFoundError: missing file. ValueError / UnsafePickleError: unreadable or unsafe.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"numpy file {path} not found")
    if path.suffix == ".npy":
        return {"arr_0": _read_npy(path.read_bytes(), str(path))}
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{path}: not an .npz archive ({exc})") from exc
    with zf:
        return {
            name.removesuffix(".npy"): _read_npy(zf.read(name), f"{path}:{name}")
            for name in zf.namelist()
        }
