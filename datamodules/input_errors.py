"""Errors in users' input files: one exception type and a context that names the file.

Readers of user files wrap their parsing in `reading(path, "what was expected")`; whatever a
damaged file makes the parser raise (an `EOFError` from an empty `.npz`, `BadZipFile`,
`UnicodeDecodeError`, `JSONDecodeError`, unpickling errors, `struct.error`, a `KeyError` /
`IndexError` / `TypeError` from a structure that is not the expected one, ...) becomes an
`InputFileError` whose one-line message names the file and what it should have been. The CLI
turns these (and the `INPUT_ERRORS` it catches generally) into exit code 2 without a traceback.
"""

from __future__ import annotations

import json
import pickle
import struct
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# Exception classes a damaged or unexpected input file can raise while being read.
INPUT_ERRORS: tuple[type[BaseException], ...] = (
    ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError,
    zlib.error, struct.error,
)
# Inside `reading(...)` these also mean "the file does not have the expected structure".
_STRUCTURE_ERRORS = (IndexError, TypeError, AttributeError)


class InputFileError(ValueError):
    """A user's input file is unreadable or not what the command expected (names the file)."""


def one_line(text: str) -> str:
    """`text` with line breaks and runs of spaces collapsed (messages are one line)."""
    return " ".join(str(text).split())


@contextmanager
def reading(path: str | Path, expected: str) -> Iterator[None]:
    """Convert errors raised while parsing `path` into an `InputFileError` naming the file.

    Args:
        path: the file (or folder) being read.
        expected: what it should be, e.g. `"an .npz with 'pose2d' (T, J, 2|3)"`.

    Raises:
        FileNotFoundError: `path` does not exist (re-raised with the path in the message).
        InputFileError: anything in `INPUT_ERRORS` or a structural error while parsing; an
            error message that already names the file is kept, else the file and `expected`
            are prefixed.
    """
    path = Path(path)
    try:
        yield
    except InputFileError:
        raise
    except FileNotFoundError as exc:
        if str(path) in str(exc):
            raise
        raise FileNotFoundError(f"{path} not found (expected {expected})") from exc
    except (*INPUT_ERRORS, *_STRUCTURE_ERRORS) as exc:
        text = one_line(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc)
        if str(path) in text or (path.name and text.startswith(path.name)):
            raise InputFileError(text) from exc
        kind = type(exc).__name__
        detail = f"{kind}: {text}" if text else kind
        raise InputFileError(f"{path}: expected {expected}; cannot read it ({detail})") from exc


def read_json(path: str | Path, expected: str = "a JSON file") -> Any:
    """Parse a JSON file; empty, undecodable or invalid JSON raises `InputFileError`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found (expected {expected})")
    with reading(path, expected):
        text = path.read_bytes().decode("utf-8-sig")
        if not text.strip():
            raise InputFileError(f"{path}: the file is empty (expected {expected})")
        return json.loads(text)
