"""SkiPose reader (Rhodin et al., CVPR 2018): `<root>/{train,test}/labels.h5` (needs `h5py`).

One row per (sequence, camera, frame) image: `seq, cam, frame, subj`, `3D (N, 51)` root-relative
joints in metres, `2D (N, 34)` in [0, 1] of the 256-px crop, `cam_intrinsic (N, 9)` of the
crop divided by 256, `cam_position (N, 3)` camera centre (world, m), `R_cam_2_world (N, 9)`.
Joints are in H36M-17 order. The 6 pan-tilt-zoom cameras move, and every crop has its own
intrinsics, so:

- the root's world position in each frame is the least-squares intersection of the views'
  rays through the root's 2D (`triangulate_rays`), and the world joints are that root plus the
  relative joints; whether `3D` is camera- or world-oriented is not documented, so
  `pose_frame="auto"` picks the reading under which all views agree on the pose;
- a view's per-frame crop intrinsics `K_t` are replaced by one virtual `K0` per take (the
  median): the 2D is mapped by the homography `K0·K_t⁻¹`, an exact change of pixel frame for
  the same camera centre and orientation, so the records keep a fixed `K` with per-frame R, t.
  Joints are valid where they lie inside the original 256-px crop.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from liftbench.datamodules.real.reader_helpers import check_person_scale
from liftbench.datamodules.records import SequenceRecord

CROP = 256
KEYS = ("seq", "cam", "frame", "subj", "3D", "2D", "cam_intrinsic", "cam_position",
        "R_cam_2_world")


def load_labels(path: str | Path) -> dict[str, np.ndarray]:
    """Every array of a `labels.h5`, shapes checked."""
    try:
        import h5py
    except ImportError as exc:
        raise ImportError("reading SkiPose labels.h5 needs h5py: pip install h5py") from exc
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"SkiPose labels {path} not found")
    with h5py.File(path, "r") as f:
        missing = [k for k in KEYS if k not in f]
        if missing:
            raise ValueError(f"{path}: missing datasets {missing}")
        d = {k: np.asarray(f[k]) for k in KEYS}
    n = len(d["seq"])
    widths = {"3D": 51, "2D": 34, "cam_intrinsic": 9, "cam_position": 3, "R_cam_2_world": 9}
    for k, w in widths.items():
        if d[k].reshape(len(d[k]), -1).shape != (n, w):
            raise ValueError(f"{path}: {k} must be (N, {w}) with N = {n} rows, got {d[k].shape}")
    return d


def triangulate_rays(centres: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    """Least-squares intersection of rays `(..., V, 3)` origins + directions → `(..., 3)`."""
    d = dirs / np.linalg.norm(dirs, axis=-1, keepdims=True)
    proj = np.eye(3) - d[..., :, None] * d[..., None, :]  # (..., V, 3, 3)
    a = proj.sum(-3)
    b = np.einsum("...vij,...vj->...i", proj, centres)
    return np.linalg.solve(a, b[..., None])[..., 0]


def _segments(frames: np.ndarray) -> list[np.ndarray]:
    """Index groups of consecutive frames (a jump larger than the usual step splits)."""
    if len(frames) < 2:
        return [np.arange(len(frames))]
    step = np.median(np.diff(frames))
    cuts = np.flatnonzero(np.diff(frames) != step) + 1
    return np.split(np.arange(len(frames)), cuts)


def read_split(path: str | Path, split: str, fps: float = 30.0,
               pose_frame: str = "auto") -> Iterator[SequenceRecord]:
    """Multi-view records of one `labels.h5` (one per sequence and run of frames)."""
    if pose_frame not in ("auto", "camera", "world"):
        raise ValueError(f"pose_frame must be 'auto', 'camera' or 'world', got {pose_frame!r}")
    path = Path(path)
    d = load_labels(path)
    n = len(d["seq"])
    rel = d["3D"].reshape(n, 17, 3).astype(np.float64)
    uv = d["2D"].reshape(n, 17, 2).astype(np.float64) * CROP
    K = d["cam_intrinsic"].reshape(n, 3, 3).astype(np.float64) * CROP
    K[:, 2] = [0.0, 0.0, 1.0]
    c2w = d["R_cam_2_world"].reshape(n, 3, 3).astype(np.float64)
    centre = d["cam_position"].reshape(n, 3).astype(np.float64)
    check_person_scale(rel, path)
    seqs, cams, frames = d["seq"].astype(int), d["cam"].astype(int), d["frame"].astype(int)
    for seq in np.unique(seqs):
        rows = np.flatnonzero(seqs == seq)
        views = sorted(set(cams[rows]))
        table = {(int(cams[r]), int(frames[r])): r for r in rows}
        fr = np.array(sorted(f for f in set(frames[rows])
                             if all((v, f) in table for v in views)))
        for seg in _segments(fr):
            if len(seg) == 0:
                continue
            idx = np.array([[table[(v, f)] for f in fr[seg]] for v in views])  # (V, T)
            yield _record(path, split, int(seq), views, fr[seg], idx, rel, uv, K, c2w, centre,
                          int(d["subj"][idx[0, 0]]), fps, pose_frame)


def _record(path: Path, split: str, seq: int, views: list[int], frames: np.ndarray,
            idx: np.ndarray, rel: np.ndarray, uv: np.ndarray, K: np.ndarray, c2w: np.ndarray,
            centre: np.ndarray, subj: int, fps: float, pose_frame: str) -> SequenceRecord:
    r_c2w, c = c2w[idx], centre[idx]  # (V, T, 3, 3), (V, T, 3)
    rel_v = rel[idx]  # (V, T, 17, 3)
    as_cam = np.einsum("vtij,vtkj->vtki", r_c2w, rel_v)  # camera-oriented reading, in world
    if pose_frame == "auto":
        spread = lambda x: float(np.abs(x - x.mean(0)).mean())  # noqa: E731
        pose_frame = "camera" if spread(as_cam) <= spread(rel_v) else "world"
    rel_world = (as_cam if pose_frame == "camera" else rel_v).mean(0)  # (T, 17, 3)
    k_inv = np.linalg.inv(K[idx])
    root_px = np.concatenate([uv[idx][..., 0, :], np.ones(idx.shape + (1,))], -1)
    rays = np.einsum("vtij,vtjk,vtk->vti", r_c2w, k_inv, root_px)
    root = triangulate_rays(np.swapaxes(c, 0, 1), np.swapaxes(rays, 0, 1))  # (T, 3)
    world = root[:, None] + rel_world
    R = np.swapaxes(r_c2w, -1, -2)
    t = -np.einsum("vtij,vtj->vti", R, c)
    K0 = np.median(K[idx], axis=1)  # (V, 3, 3) virtual fixed intrinsics
    h = np.einsum("vij,vtjk->vtik", K0, k_inv)  # K0 · K_t⁻¹
    px = np.concatenate([uv[idx], np.ones(idx.shape + (17, 1))], -1)
    mapped = np.einsum("vtij,vtkj->vtki", h, px)
    pose2d = np.concatenate([mapped[..., :2] / mapped[..., 2:], np.ones(idx.shape + (17, 1))],
                            -1)
    x_cam = np.einsum("vtij,tkj->vtki", R, world) + t[:, :, None]
    clean = np.einsum("vij,vtkj->vtki", K0, x_cam / x_cam[..., 2:])[..., :2]
    inside = ((uv[idx] >= 0) & (uv[idx] <= CROP)).all(-1)
    return SequenceRecord(
        subject=f"subj{subj}", action="ski", take=f"{split}_seq{seq:03d}_{frames[0]:06d}",
        fps=fps, pose2d=pose2d, K=K0, R=R, t=t, image_size=np.full((len(views), 2), CROP),
        pose3d_world=world, pose2d_clean=clean, valid=inside,
        view_names=tuple(f"cam_{v:02d}" for v in views),
        labels={"split": split, "pose_frame": pose_frame},
    )
