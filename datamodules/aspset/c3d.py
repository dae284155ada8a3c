"""A minimal C3D reader: the 3D point trajectories and the POINT parameters.

C3D (c3d.org) is a 512-byte-block binary format: a header block, a parameter section of
groups and typed parameters, then per frame the points' `X Y Z residual` (float32 when
`POINT:SCALE < 0`, else int16 × |scale|) followed by analog samples. ASPset-510 stores its
joints this way (read with ezc3d by the official code). This reader needs no compiled
dependency and covers the format's variants: the three processor types (Intel little-endian,
DEC with VAX floats, MIPS big-endian), float or scaled-integer points, and every parameter
shape (scalars, arrays of any rank, character arrays with zero-length strings or zero
entries, locked parameters, descriptions). A damaged file raises a `ValueError` that names it.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np

from liftbench.datamodules.input_errors import reading

_PROCESSORS = {84: "<", 85: "dec", 86: ">"}  # Intel, DEC (VAX floats), MIPS (big-endian)
_TYPES = {1: "i1", 2: "i2", 4: "f4"}  # C3D data types; -1 = characters


def _floats(raw: bytes, proc: str, count: int | None = None) -> np.ndarray:
    """float32 values from `raw` in the processor's format (DEC: VAX F-floats)."""
    if proc != "dec":
        return np.frombuffer(raw, dtype=proc + "f4", count=-1 if count is None else count)
    words = np.frombuffer(raw, dtype="<u2", count=-1 if count is None else 2 * count)
    swapped = words.reshape(-1, 2)[:, ::-1].copy().view("<f4").reshape(-1)
    return swapped / np.float32(4.0)  # VAX F: exponent bias 128 and a 0.1 hidden bit


def _numbers(raw: bytes, dtype: int, proc: str) -> np.ndarray:
    if dtype == 4:
        return _floats(raw, proc)
    return np.frombuffer(raw, dtype=("<" if proc == "dec" else proc) + _TYPES[dtype])


def _strings(chunk: bytes, dims: list[int]) -> Any:
    """Character data: the first dimension is the string length (Fortran order)."""
    if len(dims) <= 1:
        return chunk.decode("latin-1").strip()
    n, count = dims[0], int(np.prod(dims[1:]))
    if n == 0:
        return [""] * count
    return [chunk[i * n : (i + 1) * n].decode("latin-1").strip() for i in range(count)]


def _params(buf: bytes, start: int, path: Path) -> tuple[dict[str, dict[str, Any]], str]:
    """`({GROUP: {PARAM: value}}, processor)` of the parameter section at byte `start`."""
    if start + 4 > len(buf):
        raise ValueError(f"{path}: the parameter section starts at byte {start}, past the end "
                         f"of the {len(buf)}-byte file (truncated?)")
    proc = _PROCESSORS.get(buf[start + 3])
    if proc is None:
        raise ValueError(f"{path}: unknown C3D processor type {buf[start + 3]} (expected 84 "
                         "Intel, 85 DEC or 86 MIPS)")
    end = "<" if proc == "dec" else proc
    groups: dict[int, str] = {}
    raw: list[tuple[int, str, Any]] = []
    pos = start + 4
    while pos + 2 <= len(buf):
        nlen = abs(struct.unpack_from("b", buf, pos)[0])  # negative = locked
        gid = struct.unpack_from("b", buf, pos + 1)[0]
        if nlen == 0 or gid == 0:
            break
        name = buf[pos + 2 : pos + 2 + nlen].decode("latin-1").strip().upper()
        off_pos = pos + 2 + nlen
        offset = struct.unpack_from(end + "h", buf, off_pos)[0]
        if gid < 0:
            groups[-gid] = name
        else:
            dtype = struct.unpack_from("b", buf, off_pos + 2)[0]
            if dtype != -1 and dtype not in _TYPES:
                raise ValueError(f"{path}: parameter {name!r} has unknown data type {dtype} "
                                 "(expected -1, 1, 2 or 4)")
            ndim = buf[off_pos + 3]
            dims = list(buf[off_pos + 4 : off_pos + 4 + ndim])
            if len(dims) != ndim:
                raise ValueError(f"{path}: parameter {name!r} runs past the end of the file")
            data_pos = off_pos + 4 + ndim
            count = int(np.prod(dims)) if dims else 1
            chunk = buf[data_pos : data_pos + abs(dtype) * count]
            if len(chunk) != abs(dtype) * count:
                raise ValueError(f"{path}: parameter {name!r} runs past the end of the file")
            if dtype == -1:
                value: Any = _strings(chunk, dims)
            else:
                arr = _numbers(chunk, dtype, proc)
                value = arr[0].item() if not dims else arr.reshape(dims[::-1])
            raw.append((gid, name, value))
        if offset <= 0:
            break
        pos = off_pos + offset
    out: dict[str, dict[str, Any]] = {name: {} for name in groups.values()}
    for gid, name, value in raw:
        out.setdefault(groups.get(gid, str(gid)), {})[name] = value
    return out, proc


def _scalar(v: Any) -> float:
    arr = np.asarray(v, dtype=np.float64).reshape(-1)
    if arr.size == 0:
        raise ValueError("empty numeric parameter")
    return float(arr[0])


def _count(v: Any) -> int:
    """A count stored as int16 (read back unsigned) or, past 65535, as a float."""
    value = _scalar(v)
    return int(value) & 0xFFFF if float(value).is_integer() and value < 0 else int(value)


def read_c3d(path: str | Path) -> dict[str, Any]:
    """Read a C3D file's points.

    Args:
        path: the `.c3d` file.

    Returns:
        `{"points": (T, N, 3) float64 in the file's unit, "residual": (T, N), "rate": Hz,
        "units": str (e.g. "mm"), "labels": [N names], "parameters": {GROUP: {NAME: value}}}`.

    Raises:
        FileNotFoundError: missing file. ValueError: not a C3D file, truncated or damaged
        (message names the file).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"C3D file {path} not found")
    with reading(path, "a C3D motion-capture file"):
        return _read(path, path.read_bytes())


def _read(path: Path, buf: bytes) -> dict[str, Any]:
    if len(buf) < 512 or buf[1] != 0x50 or buf[0] < 2:
        raise ValueError(f"{path}: not a C3D file (bad header key)")
    params, proc = _params(buf, (buf[0] - 1) * 512, path)
    end = "<" if proc == "dec" else proc
    point = params.get("POINT", {})
    n_points, analog, first, last = struct.unpack_from(end + "HHHH", buf, 2)
    scale = float(_floats(buf[12:16], proc)[0])
    data_block = struct.unpack_from(end + "H", buf, 16)[0]
    rate = float(_floats(buf[20:24], proc)[0])
    n_points = _count(point["USED"]) if "USED" in point else n_points
    scale = _scalar(point.get("SCALE", scale))
    rate = _scalar(point.get("RATE", rate))
    data_block = _count(point["DATA_START"]) if "DATA_START" in point else data_block
    frames = _count(point["FRAMES"]) if "FRAMES" in point else last - first + 1
    if data_block < 1 or frames < 0:
        raise ValueError(f"{path}: bad C3D data start block {data_block} / frame count {frames}")
    word = 4 if scale < 0 else 2
    per_frame = (n_points * 4 + analog) * word
    data = buf[(data_block - 1) * 512 :]
    if len(data) < frames * per_frame:
        raise ValueError(f"{path}: truncated C3D data ({len(data)} bytes for {frames} frames)")
    if scale < 0:
        values = _floats(data[: frames * per_frame], proc)
    else:
        values = np.frombuffer(data[: frames * per_frame], dtype=end + "i2")
    rows = values.reshape(frames, -1) if per_frame else np.zeros((frames, 0))
    pts = rows[:, : n_points * 4].reshape(frames, n_points, 4).astype(np.float64)
    if scale > 0:
        pts[..., :3] *= scale
    labels = point.get("LABELS", [])
    labels = [labels] if isinstance(labels, str) else list(labels)
    return {
        "points": pts[..., :3], "residual": pts[..., 3], "rate": float(rate),
        "units": str(point.get("UNITS", "")).strip(), "labels": labels[:n_points],
        "parameters": params,
    }
