"""A minimal C3D reader: the 3D point trajectories and the POINT parameters.

C3D (c3d.org) is a 512-byte-block binary format: a header block, a parameter section of
groups and typed parameters, then per frame the points' `X Y Z residual` (float32 when
`POINT:SCALE < 0`, else int16 × |scale|) followed by analog samples. ASPset-510 stores its
joints this way (read with ezc3d by the official code); this reader covers what mocap exports
use (Intel and DEC-free little-endian files, float or integer points) so no compiled
dependency is needed.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np

_INTEL = 84


def _params(buf: bytes, start: int, path: Path) -> dict[str, dict[str, Any]]:
    """`{GROUP: {PARAM: value}}` of the parameter section beginning at byte `start`."""
    if buf[start + 3] != _INTEL:
        raise ValueError(f"{path}: C3D processor type {buf[start + 3]} unsupported "
                         "(only Intel little-endian files)")
    groups: dict[int, str] = {}
    raw: list[tuple[int, str, Any]] = []
    pos = start + 4
    while pos < len(buf):
        nlen = abs(struct.unpack_from("<b", buf, pos)[0])
        gid = struct.unpack_from("<b", buf, pos + 1)[0]
        if nlen == 0:
            break
        name = buf[pos + 2 : pos + 2 + nlen].decode("ascii", "replace").upper()
        off_pos = pos + 2 + nlen
        offset = struct.unpack_from("<h", buf, off_pos)[0]
        if gid < 0:
            groups[-gid] = name
        else:
            dtype = struct.unpack_from("<b", buf, off_pos + 2)[0]
            ndim = buf[off_pos + 3]
            dims = list(buf[off_pos + 4 : off_pos + 4 + ndim])
            data_pos = off_pos + 4 + ndim
            count = int(np.prod(dims)) if dims else 1
            size = abs(dtype) * count
            chunk = buf[data_pos : data_pos + size]
            if dtype == -1:
                # chars: first dim = string length; the rest index strings (Fortran order)
                if len(dims) <= 1:
                    value: Any = chunk.decode("ascii", "replace").strip()
                else:
                    n = dims[0]
                    value = [chunk[i : i + n].decode("ascii", "replace").strip()
                             for i in range(0, len(chunk), n)]
            else:
                fmt = {1: "B", 2: "h", 4: "f"}[dtype]
                arr = np.frombuffer(chunk, dtype="<" + fmt if fmt != "B" else np.uint8)
                value = arr.reshape(dims[::-1]) if len(dims) > 1 else (
                    arr[0].item() if not dims else arr)
            raw.append((gid, name, value))
        if offset == 0:
            break
        pos = off_pos + offset
    out: dict[str, dict[str, Any]] = {name: {} for name in groups.values()}
    for gid, name, value in raw:
        out.setdefault(groups.get(gid, str(gid)), {})[name] = value
    return out


def _scalar(v: Any) -> float:
    return float(np.asarray(v).reshape(-1)[0])


def read_c3d(path: str | Path) -> dict[str, Any]:
    """Read a C3D file's points.

    Args:
        path: the `.c3d` file.

    Returns:
        `{"points": (T, N, 3) float64 in the file's unit, "residual": (T, N), "rate": Hz,
        "units": str (e.g. "mm"), "labels": [N names], "parameters": {GROUP: {NAME: value}}}`.

    Raises:
        FileNotFoundError: missing file. ValueError: not a C3D file / unsupported variant
        (message names the file).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"C3D file {path} not found")
    buf = path.read_bytes()
    if len(buf) < 1024 or buf[1] != 0x50:
        raise ValueError(f"{path}: not a C3D file (bad header key)")
    param_block = buf[0]
    params = _params(buf, (param_block - 1) * 512, path)
    point = params.get("POINT", {})
    n_points, analog, first, last = struct.unpack_from("<HHHH", buf, 2)
    scale = struct.unpack_from("<f", buf, 12)[0]
    data_block = struct.unpack_from("<H", buf, 16)[0]
    rate = struct.unpack_from("<f", buf, 20)[0]
    n_points = int(_scalar(point.get("USED", n_points)))
    scale = _scalar(point.get("SCALE", scale))
    rate = _scalar(point.get("RATE", rate))
    data_block = int(_scalar(point.get("DATA_START", data_block)))
    frames = last - first + 1
    if "FRAMES" in point:
        frames = int(_scalar(point["FRAMES"])) & 0xFFFF  # stored signed, meant unsigned
    word = 4 if scale < 0 else 2
    per_frame = (n_points * 4 + analog) * word
    data = buf[(data_block - 1) * 512 :]
    if len(data) < frames * per_frame:
        raise ValueError(f"{path}: truncated C3D data ({len(data)} bytes for {frames} frames)")
    dtype = "<f4" if scale < 0 else "<i2"
    rows = np.frombuffer(data[: frames * per_frame], dtype=dtype).reshape(frames, -1)
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
