"""C3D reader: every processor type and parameter shape the format allows."""

import struct
from functools import partial

import numpy as np
import pytest

from liftbench.datamodules.aspset.c3d import read_c3d


def _f32(values, proc):
    """float32 bytes in the processor's format (DEC: VAX F = IEEE × 4 with swapped words)."""
    arr = np.asarray(values, dtype=np.float32).reshape(-1)
    if proc == 85:
        words = (arr * np.float32(4.0)).astype("<f4").view("<u2").reshape(-1, 2)[:, ::-1]
        return words.copy().tobytes()
    return arr.astype((">" if proc == 86 else "<") + "f4").tobytes()


def _param(gid, name, dtype, dims, data, e, desc=b"", locked=False):
    body = struct.pack("bB", dtype, len(dims)) + bytes(dims) + data + bytes([len(desc)]) + desc
    nm = name.encode()
    return struct.pack("bb", -len(nm) if locked else len(nm), gid) + nm + struct.pack(
        e + "h", len(body) + 2) + body


def write(path, pts, proc=84, integer=False, extra=b""):
    """A C3D file with T×N points, POINT parameters of many shapes, and `extra` parameters."""
    e = ">" if proc == 86 else "<"
    t, n, _ = pts.shape
    scale = 0.1 if integer else -1.0
    fl = partial(_f32, proc=proc)
    i16 = partial(struct.pack, e + "h")
    g = b"POINT"
    ps = struct.pack("bb", len(g), -1) + g + struct.pack(e + "h", 3) + b"\x00"
    ps += _param(1, "USED", 2, [], i16(n), e)
    ps += _param(1, "FRAMES", 2, [], i16(t), e, locked=True)
    ps += _param(1, "SCALE", 4, [], fl(scale), e, desc=b"scale")
    ps += _param(1, "RATE", 4, [], fl(100.0), e)
    ps += _param(1, "DATA_START", 2, [], i16(3), e)
    ps += _param(1, "UNITS", -1, [2], b"mm", e)
    ps += _param(1, "LABELS", -1, [3, n], b"".join(f"P{k:<2d}".encode() for k in range(n)), e)
    ps += _param(1, "DESCRIPTIONS", -1, [0, n], b"", e)  # zero-length strings
    ps += _param(1, "EMPTY", -1, [4, 0], b"", e)  # zero strings
    ps += _param(1, "NOTHING", 2, [0], b"", e)  # an empty numeric array
    ps += _param(1, "MATRIX", 4, [2, 3], fl(np.arange(6)), e)
    ps += _param(1, "BYTES", 1, [3], bytes([1, 2, 255]), e)
    ps += extra + b"\x00\x00"
    psec = struct.pack("BBBB", 1, 0x50, 1, proc) + ps
    assert len(psec) <= 512  # one parameter block, data from block 3
    header = bytes([2, 0x50]) + struct.pack(e + "HHHHH", n, 0, 1, t, 0) + fl(scale) + \
        struct.pack(e + "HH", 3, 0) + fl(100.0)
    body = np.concatenate([pts, np.zeros((t, n, 1))], -1)
    data = np.round(body / 0.1).astype(e + "i2").tobytes() if integer else _f32(body, proc)
    path.write_bytes(header.ljust(512, b"\x00") + psec.ljust(512, b"\x00") + data)


@pytest.mark.parametrize("proc", [84, 85, 86])
@pytest.mark.parametrize("integer", [False, True])
def test_processors_and_parameter_shapes(tmp_path, proc, integer):
    pts = np.round(np.random.default_rng(proc).normal(size=(5, 4, 3)) * 300, 1)
    f = tmp_path / "a.c3d"
    write(f, pts, proc, integer)
    c = read_c3d(f)
    np.testing.assert_allclose(c["points"], pts, atol=0.06 if integer else 1e-3)
    assert c["rate"] == 100.0 and c["units"] == "mm" and c["labels"] == ["P0", "P1", "P2", "P3"]
    point = c["parameters"]["POINT"]
    assert point["DESCRIPTIONS"] == [""] * 4 and point["EMPTY"] == []
    assert point["NOTHING"].shape == (0,)
    np.testing.assert_allclose(point["MATRIX"], np.arange(6).reshape(3, 2))
    assert point["BYTES"].tolist() == [1, 2, -1]


def test_damaged_files_name_the_file(tmp_path):
    f = tmp_path / "cut.c3d"
    write(f, np.zeros((5, 4, 3)))
    whole = f.read_bytes()
    for size in (0, 10, 600, len(whole) - 7):
        f.write_bytes(whole[:size])
        with pytest.raises(ValueError, match="cut.c3d"):
            read_c3d(f)
    f.write_bytes(whole[:515] + bytes([99]) + whole[516:])  # processor type
    with pytest.raises(ValueError, match="cut.c3d: unknown C3D processor type 99"):
        read_c3d(f)
