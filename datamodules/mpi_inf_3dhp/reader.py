"""MPI-INF-3DHP readers: the raw training/test release and mmpose's npz.

- Training set `S{1..8}/Seq{1,2}/annot.mat` (MATLAB v5: `annot2`, `annot3` cells of 14
  cameras, rows = frames, 28 joints, camera-frame mm) + `camera.calibration` (Skeletool text:
  per camera a 4×4 `intrinsic` and a 4×4 world→camera `extrinsic`, mm). Only the first F rows
  of a sequence are valid (`SEQUENCE_FRAMES`). Records: one multi-view take per sequence, the
  world joints from the first camera's `annot3` mapped through its extrinsic.
- Test set `TS{1..6}/annot_data.mat` (MATLAB v7.3 = HDF5, needs `h5py`: `annot2 (T,1,17,2)`,
  `annot3 (T,1,17,3)` mm, `valid_frame`, `activity_annotation`), no calibration file: the
  intrinsics are the published reconstruction (`TEST_CAMERAS`); a single view per take, split
  at invalid frames.
- mmpose `mpi_inf_3dhp_*.npz` (`imgname`, `part`, `S (N, 17, 4)` camera m, MPI-17 order) +
  `cameras_{train,test}.pkl`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from liftbench.datamodules.real.reader_helpers import (
    check_person_scale,
    finite_segments,
    project_views,
)
from liftbench.datamodules.records import SequenceRecord
from liftbench.datamodules.safe_pickle import load_npz, load_pickle
from liftbench.geometry.skeletons import convert

# (frames, fps) per training sequence (official mpii_get_sequence_info).
SEQUENCE_FRAMES = {
    ("S1", "Seq1"): (6416, 25), ("S1", "Seq2"): (12430, 50), ("S2", "Seq1"): (6502, 25),
    ("S2", "Seq2"): (6081, 25), ("S3", "Seq1"): (12488, 50), ("S3", "Seq2"): (12283, 50),
    ("S4", "Seq1"): (6171, 25), ("S4", "Seq2"): (6675, 25), ("S5", "Seq1"): (12820, 50),
    ("S5", "Seq2"): (12312, 50), ("S6", "Seq1"): (6188, 25), ("S6", "Seq2"): (6145, 25),
    ("S7", "Seq1"): (6239, 25), ("S7", "Seq2"): (6320, 25), ("S8", "Seq1"): (6468, 25),
    ("S8", "Seq2"): (6054, 25),
}
VNECT_CAMERAS = (0, 1, 2, 4, 5, 6, 7, 8)  # the chest-height cameras most work trains on
TEST_ACTIVITIES = ("Stand/Walk", "Exercise", "Sit on Chair", "Reach/Crouch", "On Floor",
                   "Sports", "Misc")


def _test_camera(sensor: tuple[float, float], f_mm: float, size: tuple[int, int],
                 aspect: float, offset_mm: tuple[float, float]) -> np.ndarray:
    """Pixel intrinsics from the sensor-model parameters of the test cameras."""
    sx, sy = size[0] / sensor[0], size[1] / sensor[1]
    fx = f_mm * sx
    return np.array([[fx, 0, size[0] / 2 + offset_mm[0] * sx],
                     [0, fx * aspect, size[1] / 2 + offset_mm[1] * sy], [0, 0, 1]])


# Test-set cameras (PosePile's reconstruction): (K, image (W, H), dist).
_STUDIO = (_test_camera((10, 10), 7.32506, (2048, 2048), 1.00044, (-0.0322884, 0.0929296)),
           (2048, 2048), np.zeros(5))
_OUTDOOR = (_test_camera((10, 5.625), 8.770747185, (1920, 1080), 0.993236423,
                         (-0.104908645, 0.104899704)), (1920, 1080),
            np.array([-0.276859611, 0.131125256, -0.000360494, -0.001149441, -0.049318332]))
TEST_CAMERAS = {f"TS{i}": _STUDIO if i <= 4 else _OUTDOOR for i in range(1, 7)}
TEST_FPS = {f"TS{i}": 25.0 if i <= 4 else 50.0 for i in range(1, 7)}


def read_calibration(path: str | Path) -> dict[int, dict[str, np.ndarray]]:
    """Parse a Skeletool `camera.calibration`: `{cam: {"K" 3×3, "R", "t" (m), "size"}}`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"camera calibration {path} not found")
    lines = path.read_text().splitlines()
    if not lines or "Skeletool Camera Calibration" not in lines[0]:
        raise ValueError(f"{path}: not a Skeletool camera calibration file")
    cams: dict[int, dict[str, list[float]]] = {}
    cur = None
    for line in lines[1:]:
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "name":
            cur = cams.setdefault(int(parts[1]), {})
        elif cur is not None:
            cur[parts[0]] = [float(v) for v in parts[1:]]
    out = {}
    for cam, c in cams.items():
        try:
            intr = np.asarray(c["intrinsic"]).reshape(4, 4)
            ext = np.asarray(c["extrinsic"]).reshape(4, 4)
        except (KeyError, ValueError):
            raise ValueError(f"{path}: camera {cam} needs 16-value intrinsic/extrinsic") from None
        out[cam] = {"K": intr[:3, :3], "R": ext[:3, :3], "t": ext[:3, 3] / 1000.0,
                    "size": np.asarray(c.get("size", [2048, 2048]), int)}
    return out


def _cell(mat: dict, key: str, cam: int, width: int, path: Path) -> np.ndarray:
    try:
        arr = np.asarray(mat[key][cam][0], dtype=np.float64)
    except (KeyError, IndexError):
        raise ValueError(f"{path}: no {key!r} cell for camera {cam}") from None
    if arr.ndim != 2 or arr.shape[1] != width:
        raise ValueError(f"{path}: {key}[{cam}] must be (frames, {width}), got {arr.shape}")
    return arr


def read_train_sequence(
    seq_dir: str | Path, cameras: tuple[int, ...] = VNECT_CAMERAS, source_2d: str = "gt",
) -> SequenceRecord:
    """One training sequence `S*/Seq*` as a multi-view record (H36M-17, world metres).

    Args:
        seq_dir: the `S<k>/Seq<j>` folder (`annot.mat`, `camera.calibration`).
        cameras: camera indices (0..13) to keep, in order.
        source_2d: `"gt"` (projection of the 3D) or `"dataset"` (`annot2`).
    """
    from scipy.io import loadmat

    seq_dir = Path(seq_dir)
    subj, seq = seq_dir.parent.name, seq_dir.name
    if (subj, seq) not in SEQUENCE_FRAMES:
        raise ValueError(f"{seq_dir}: expected a S1..S8/Seq1|Seq2 folder")
    n, fps = SEQUENCE_FRAMES[(subj, seq)]
    annot = seq_dir / "annot.mat"
    if not annot.is_file():
        raise FileNotFoundError(f"{annot} not found")
    mat = loadmat(annot)
    calib = read_calibration(seq_dir / "camera.calibration")
    c0 = cameras[0]
    a3 = _cell(mat, "annot3", c0, 84, annot)
    n = min(n, len(a3))  # rows past the sequence's frame count are not annotations
    cam3d = convert(a3[:n].reshape(n, 28, 3) / 1000.0, "mpi3dhp28", "h36m17")
    R0, t0 = calib[c0]["R"], calib[c0]["t"]
    world = (cam3d - t0) @ R0  # R0ᵀ (X_cam − t0), row vectors
    check_person_scale(world, annot)
    K = np.stack([calib[c]["K"] for c in cameras])
    v = len(cameras)
    R = np.broadcast_to(np.stack([calib[c]["R"] for c in cameras])[:, None], (v, n, 3, 3))
    t = np.broadcast_to(np.stack([calib[c]["t"] for c in cameras])[:, None], (v, n, 3))
    size = np.stack([calib[c]["size"] for c in cameras])
    pose2d, clean, valid = project_views(world, K, R, t, size)
    if source_2d == "dataset":
        a2 = np.stack([_cell(mat, "annot2", c, 56, annot)[:n].reshape(n, 28, 2) for c in cameras])
        kp = convert(a2, "mpi3dhp28", "h36m17")
        pose2d = np.concatenate([kp, np.ones(kp.shape[:-1] + (1,))], -1)
    return SequenceRecord(
        subject=subj, action=seq, take=f"{subj}_{seq}", fps=float(fps), pose2d=pose2d, K=K,
        R=R, t=t, image_size=size, pose3d_world=world, pose2d_clean=clean, valid=valid,
        view_names=tuple(f"cam{c}" for c in cameras),
    )


def read_test_sequence(ts_dir: str | Path, source_2d: str = "gt") -> Iterator[SequenceRecord]:
    """Valid runs of one test sequence `TS<k>` as single-view records (camera = world)."""
    try:
        import h5py
    except ImportError as exc:
        raise ImportError("reading MPI-INF-3DHP test annotations (MATLAB v7.3) needs h5py: "
                          "pip install h5py") from exc
    ts_dir = Path(ts_dir)
    name = ts_dir.name
    path = ts_dir / "annot_data.mat"
    if name not in TEST_CAMERAS or not path.is_file():
        raise FileNotFoundError(f"{path} not found (expected TS1..TS6/annot_data.mat)")
    with h5py.File(path, "r") as f:
        a3 = np.asarray(f["annot3"], dtype=np.float64)
        a2 = np.asarray(f["annot2"], dtype=np.float64)
        ok = np.asarray(f["valid_frame"]).reshape(-1).astype(bool)
        act = np.asarray(f["activity_annotation"]).reshape(-1).astype(int)
    n = len(ok)
    if a3.shape != (n, 1, 17, 3) or a2.shape != (n, 1, 17, 2):
        raise ValueError(f"{path}: annot3/annot2 must be (T, 1, 17, 3|2), got {a3.shape}, "
                         f"{a2.shape}")
    cam3d = convert(a3[:, 0] / 1000.0, "mpi3dhp17", "h36m17")
    K, size, dist = TEST_CAMERAS[name]
    ok &= np.isfinite(cam3d).all(axis=(1, 2))
    for a, b in finite_segments(ok):
        m = b - a
        eye = np.broadcast_to(np.eye(3), (1, m, 3, 3))
        pose2d, clean, valid = project_views(cam3d[a:b], K[None], eye, np.zeros((1, m, 3)),
                                             np.array([size]), dist[None])
        if source_2d == "dataset":
            kp = convert(a2[a:b, 0], "mpi3dhp17", "h36m17")[None]
            pose2d = np.concatenate([kp, np.ones(kp.shape[:-1] + (1,))], -1)
        check_person_scale(cam3d[a:b], path)
        yield SequenceRecord(
            subject=name, action=TEST_ACTIVITIES[int(np.bincount(act[a:b]).argmax()) - 1]
            if act[a:b].max() >= 1 else "unknown", take=f"{name}_{a:06d}", fps=TEST_FPS[name],
            pose2d=pose2d, K=K[None], R=eye, t=np.zeros((1, m, 3)), image_size=np.array([size]),
            pose3d_world=cam3d[a:b], pose2d_clean=clean, dist=dist[None], valid=valid,
            view_names=("cam0",),
        )


def read_mmpose_npz(
    path: str | Path, cameras: str | Path, source_2d: str = "gt"
) -> Iterator[SequenceRecord]:
    """Single-view records from mmpose `mpi_inf_3dhp_*.npz` + `cameras_{train,test}.pkl`.

    Train image names `S4_Seq2_Cam0_001033.jpg` use the camera's world→camera `R`, `T` (m);
    test names `TS1_002001.jpg` have intrinsics only (camera frame = world).
    """
    path = Path(path)
    d = load_npz(path)
    for key in ("imgname", "S", "part"):
        if key not in d:
            raise ValueError(f"{path}: missing {key!r} (keys: {sorted(d)})")
    s3, part = np.asarray(d["S"], np.float64), np.asarray(d["part"], np.float64)
    if s3.ndim != 3 or s3.shape[1:] != (17, 4) or part.shape != s3.shape[:2] + (3,):
        raise ValueError(f"{path}: S must be (N, 17, 4) m and part (N, 17, 3) px, got "
                         f"{s3.shape}, {part.shape}")
    cams = load_pickle(cameras)
    for i, name in enumerate(d["imgname"]):
        m = re.fullmatch(r"(?:(S\d+)_(Seq\d)_Cam(\d+)|(TS\d))_(\d+)\.jpg", str(name))
        if m is None:
            raise ValueError(f"{path}: imgname {name!r} is not S*_Seq*_Cam*_N.jpg / TS*_N.jpg")
        subj, seq, cam, ts, frame = m.groups()
        key = f"{subj}_{seq}_Cam{cam}" if ts is None else ts
        if key not in cams:
            raise ValueError(f"{cameras}: no camera {key!r}")
        c = cams[key]
        f, cc = np.asarray(c["f"]).reshape(2), np.asarray(c["c"]).reshape(2)
        K = np.array([[f[0], 0, cc[0]], [0, f[1], cc[1]], [0, 0, 1.0]])
        R = np.asarray(c.get("R", np.eye(3)), np.float64)
        t = np.asarray(c.get("T", np.zeros(3)), np.float64).reshape(3)
        cam3d = convert(s3[i : i + 1, :, :3], "mpi3dhp17", "h36m17")
        world = (cam3d - t) @ R
        check_person_scale(world, path)
        # Training images are 2048×2048; mmpose's train cameras store h = 204 (a typo).
        size = np.array([[int(c["w"]), int(c["w"] if ts is None else c["h"])]])
        pose2d, clean, valid = project_views(world, K[None], R[None, None], t[None, None], size)
        if source_2d == "dataset":
            pose2d = convert(part[i : i + 1], "mpi3dhp17", "h36m17", has_confidence=True)[None]
        yield SequenceRecord(
            subject=subj or ts, action=seq or "test", take=f"{key}_{frame}", fps=25.0,
            pose2d=pose2d, K=K[None], R=R[None, None], t=t[None, None], image_size=size,
            pose3d_world=world, pose2d_clean=clean, valid=valid, view_names=(f"cam{cam or 0}",),
        )
