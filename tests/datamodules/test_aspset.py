import json
import struct

import numpy as np
import pytest

from liftbench.datamodules.aspset.c3d import read_c3d
from liftbench.datamodules.aspset.reader import read_aspset, read_clip
from liftbench.datamodules.registry import create_datamodule
from liftbench.geometry.skeletons import convert
from tests.datamodules.real_helpers import motion_m, project_cv, ring

# Official test vectors (aspset510 tests/conftest.py, DATASETS.md §4.3): 04ac-right camera.
K34 = [[3908.201416, 0, 1907.136108, 0], [0, 3904.395020, 1082.651855, 0], [0, 0, 1, 0]]
E = [[0.355310, -0.037651, 0.933990, -16513.444863], [0.010982, 0.999288, 0.036106,
     -694.394037], [-0.934684, -0.002572, 0.355470, 12560.579233], [0, 0, 0, 1]]
J0, UV0 = [-518.131775, 1121.474, 18538.8398], [2021.66769504, 1299.42125245]
J12, UV12 = [-412.053192, -511.558380, 18571.8145], [2048.13982880, 974.88781273]
# H36M-17 joint used for each aspset_17j joint (head = nose, head_top = head)
ASP_FROM_H36M = [3, 2, 1, 16, 15, 14, 6, 5, 4, 13, 12, 11, 10, 9, 8, 7, 0]
NAMES = ["right_ankle", "right_knee", "right_hip", "right_wrist", "right_elbow",
         "right_shoulder", "left_ankle", "left_knee", "left_hip", "left_wrist", "left_elbow",
         "left_shoulder", "head_top", "head", "neck", "spine", "pelvis"]


def _param(gid, name, dtype, dims, data, desc=b""):
    body = struct.pack("<bB", dtype, len(dims)) + bytes(dims) + data + bytes([len(desc)]) + desc
    nm = name.encode()
    return struct.pack("<bb", len(nm), gid) + nm + struct.pack("<h", len(body) + 2) + body


def write_c3d(path, points_mm, rate=50.0, units="mm", skel="aspset_17j", labels=NAMES):
    """A float C3D file as ezc3d/posekit write it (one POINT group, no analog)."""
    t, n, _ = points_mm.shape
    lab_len = max(len(s) for s in labels)
    params = b""
    g = b"POINT"
    params += struct.pack("<bb", len(g), -1) + g + struct.pack("<h", 3) + b"\x00"
    params += _param(1, "USED", 2, [], struct.pack("<h", n))
    params += _param(1, "FRAMES", 2, [], struct.pack("<h", t))
    params += _param(1, "SCALE", 4, [], struct.pack("<f", -1.0))
    params += _param(1, "RATE", 4, [], struct.pack("<f", rate))
    params += _param(1, "DATA_START", 2, [], struct.pack("<h", 3))
    params += _param(1, "UNITS", -1, [len(units)], units.encode())
    params += _param(1, "LABELS", -1, [lab_len, n],
                     b"".join(s.ljust(lab_len).encode() for s in labels))
    params += _param(1, "SKEL", -1, [len(skel), 1], skel.encode())
    params += b"\x00\x00"
    psec = struct.pack("<BBBB", 1, 0x50, 1, 84) + params
    psec = psec.ljust(512, b"\x00")
    header = struct.pack("<BBHHHHHfHHf", 2, 0x50, n, 0, 1, t, 0, -1.0, 3, 0, rate).ljust(512, b"\0")
    pts = np.concatenate([points_mm, np.zeros((t, n, 1))], -1).astype("<f4")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + psec + pts.tobytes())


def _camera_json(path, K34, E):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"intrinsic_matrix": np.ravel(K34).tolist(),
                                "extrinsic_matrix": np.ravel(E).tolist()}))


def test_c3d_roundtrip(tmp_path):
    pts = np.random.default_rng(0).normal(size=(7, 17, 3)) * 500
    write_c3d(tmp_path / "a.c3d", pts, rate=50.0)
    c = read_c3d(tmp_path / "a.c3d")
    np.testing.assert_allclose(c["points"], pts.astype(np.float32), rtol=0, atol=0)
    assert c["rate"] == 50 and c["units"] == "mm" and c["labels"] == NAMES
    assert c["parameters"]["POINT"]["SKEL"] == ["aspset_17j"]


def test_official_test_vectors(tmp_path):
    subj, clip = "04ac", "0026"
    root = tmp_path / "ASPset-510"
    pts = np.tile(np.asarray(motion_m("walk", 1, up="-y")[0][ASP_FROM_H36M] * 1000), (3, 1, 1))
    pts = pts - pts[0, 16] + np.array([-460.0, 400.0, 18550.0])
    pts[:, 0], pts[:, 12] = J0, J12
    write_c3d(root / "test/joints_3d" / subj / f"{subj}-{clip}.c3d", pts)
    _camera_json(root / "test/cameras" / subj / f"{subj}-right.json", K34, E)
    (root / "splits.csv").write_text(f"{subj},{clip},test,right\n")
    rec = read_clip(root, subj, clip, "test", ("right",))
    np.testing.assert_allclose(rec.K[0], np.asarray(K34)[:, :3])
    np.testing.assert_allclose(rec.R[0, 0], np.asarray(E)[:3, :3])
    np.testing.assert_allclose(rec.t[0, 0], np.asarray(E)[:3, 3] / 1000)
    # the 3D is mapped to H36M-17; ASPset's right ankle is H36M 3, head top is H36M 10
    np.testing.assert_allclose(rec.pose2d[0, 0, 3, :2], UV0, atol=1e-3)
    np.testing.assert_allclose(rec.pose2d[0, 0, 10, :2], UV12, atol=1e-3)
    assert rec.view_names == ("right",) and rec.fps == 50


def _write_release(root, subjects, scale=1.0, extra_rows=""):
    rows = []
    for si, (subj, split) in enumerate(subjects):
        part = "test" if split == "test" else "trainval"
        cams = ring(3, 5.0, -1.2, (0, -0.9, 0), up="-y")
        R0, t0 = cams[0]
        for name, (R, t) in zip(("left", "mid", "right"), cams):
            Rl, tl = R @ R0.T, t - R @ R0.T @ t0  # world = left camera frame
            E4 = np.eye(4)
            E4[:3, :3], E4[:3, 3] = Rl, tl * 1000
            K = [[3900, 0, 1920, 0], [0, 3900, 1080, 0], [0, 0, 1, 0]]
            _camera_json(root / part / "cameras" / subj / f"{subj}-{name}.json", K, E4)
        for ci, clip in enumerate(("0001", "0002")):
            world = motion_m(("walk", "jump")[ci], 25 + si, up="-y") @ R0.T + t0
            write_c3d(root / part / "joints_3d" / subj / f"{subj}-{clip}.c3d",
                      world[:, ASP_FROM_H36M] * 1000 * scale)
            rows.append(f"{subj},{clip},{split},{'all' if split != 'test' else 'mid'}")
    (root / "splits.csv").write_text("\n".join(rows) + "\n" + extra_rows)


def test_release_reader_and_official_split(tmp_path):
    root = tmp_path / "asp"
    _write_release(root, [("1e28", "train"), ("8a59", "val"), ("4d9e", "test")],
                   extra_rows="4d9e,0001,test,right\n")
    recs = {r.take: r for r in read_aspset(root)}
    assert recs["1e28-0001"].view_names == ("left", "mid", "right")
    assert recs["4d9e-0001"].view_names == ("mid", "right")
    rec = recs["1e28-0002"]
    np.testing.assert_allclose(rec.R[0, 0], np.eye(3), atol=1e-9)  # left camera = world
    raw = read_c3d(root / "trainval/joints_3d/1e28/1e28-0002.c3d")["points"] / 1000
    np.testing.assert_allclose(rec.pose3d_world, convert(raw, "aspset17", "h36m17"), atol=1e-12)
    for v in range(3):
        ref = project_cv(rec.pose3d_world, rec.R[v, 0], rec.t[v, 0], rec.K[v])
        np.testing.assert_allclose(rec.pose2d[v, ..., :2], ref, atol=1e-6)
    dm = create_datamodule("aspset", root=root, frames=9, batch_size=4,
                           cache_dir=tmp_path / "cache")
    dm.setup()
    assert dm.takes["train"] == ["1e28-0001", "1e28-0002"]
    assert dm.takes["val"] == ["8a59-0001", "8a59-0002"]
    assert dm.takes["test"] == ["4d9e-0001", "4d9e-0002"]


def test_bad_inputs(tmp_path):
    root = tmp_path / "asp"
    _write_release(root, [("1e28", "train")], scale=1000.0)
    with pytest.raises(ValueError, match=r"1e28-0001\.c3d.*factor 1000"):
        list(read_aspset(root))
    write_c3d(root / "trainval/joints_3d/1e28/1e28-0001.c3d", np.zeros((3, 17, 3)),
              skel="h36m_17j")
    with pytest.raises(ValueError, match=r"1e28-0001\.c3d.*not aspset_17j"):
        list(read_aspset(root))
    write_c3d(root / "trainval/joints_3d/1e28/1e28-0001.c3d", np.zeros((3, 21, 3)),
              labels=NAMES + ["a", "b", "c", "d"])
    with pytest.raises(ValueError, match=r"1e28-0001\.c3d.*\(T, 17, 3\)"):
        list(read_aspset(root))
    ok = tmp_path / "ok"
    _write_release(ok, [("1e28", "train")])
    (ok / "trainval/cameras/1e28/1e28-mid.json").unlink()
    with pytest.raises(FileNotFoundError, match="1e28-mid.json"):
        list(read_aspset(ok))
    (tmp_path / "x.c3d").write_bytes(b"\x00" * 2000)
    with pytest.raises(ValueError, match="x.c3d: not a C3D"):
        read_c3d(tmp_path / "x.c3d")
