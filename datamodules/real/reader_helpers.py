"""Helpers of the dataset readers: the units check, ground-truth projection, take segments.

Every reader (`datamodules/<dataset>/reader.py`) turns raw files into `SequenceRecord`s with
these: `check_person_scale` catches a unit mistake (millimetres read as metres),
`project_views` gives the ground-truth 2D of every camera, `finite_segments` and `slice_record`
cut a take at frames without 3D.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from liftbench.datamodules.records import SequenceRecord
from liftbench.geometry.cameras import project

# Plausible standing heights / body extents of a person in metres; a reader whose unit is off
# by 10, 100 or 1000 lands far outside.
PERSON_EXTENT_M = (0.4, 3.0)


def check_person_scale(pose3d_m: np.ndarray, source: str | Path) -> float:
    """Raise when 3D joints in metres do not describe a human-sized body (a unit mistake).

    Args:
        pose3d_m: `(..., T, J, 3)` joints in metres; NaN frames are ignored.
        source: the file the joints came from (named in the error).

    Returns:
        The median over frames of the body's largest extent (m).

    Raises:
        ValueError: the median extent is outside `PERSON_EXTENT_M` (e.g. millimetres read as
            metres give a 1000× too tall person), naming `source` and the likely factor.
    """
    x = np.asarray(pose3d_m, dtype=np.float64)
    x = x.reshape((-1,) + x.shape[-2:])
    ok = np.isfinite(x).all(axis=(-1, -2))
    if not ok.any():
        raise ValueError(f"{source}: no frame with finite 3D joints")
    extent = np.linalg.norm(x[ok].max(-2) - x[ok].min(-2), axis=-1)
    size = float(np.median(extent))
    lo, hi = PERSON_EXTENT_M
    if not lo <= size <= hi:
        factor = 10.0 ** np.round(np.log10(size / 1.7))
        raise ValueError(
            f"{source}: the person spans {size:.4g} m after unit conversion, not a human size "
            f"({lo}-{hi} m); the file's unit is probably off by a factor {factor:g} "
            "(millimetres vs metres?)"
        )
    return size


def project_views(
    pose3d_world: np.ndarray, K: np.ndarray, R: np.ndarray, t: np.ndarray,
    image_size: np.ndarray, dist: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ground-truth 2D of every view: project world joints (OpenCV model).

    Args:
        pose3d_world: `(T, J, 3)` metres.
        K: `(V, 3, 3)` pixels.
        R: `(V, T, 3, 3)` world→camera rotations.
        t: `(V, T, 3)` world→camera translations, metres.
        image_size: `(V, 2)` `(W, H)` pixels.
        dist: optional `(V, 5)` OpenCV `k1, k2, p1, p2, k3`.

    Returns:
        `(pose2d (V, T, J, 3) px + confidence 1, clean (V, T, J, 2) px, valid (V, T, J))`;
        joints behind the camera or outside the image are invalid (their 2D is set to 0).
    """
    x_cam = np.einsum("vtij,tkj->vtki", R, pose3d_world) + t[:, :, None, :]
    d = None if dist is None else np.asarray(dist)[:, None, None, :]
    uv = np.asarray(project(x_cam, np.asarray(K)[:, None, None], d))
    size = np.asarray(image_size, dtype=np.float64)[:, None, None, :]
    valid = np.isfinite(uv).all(-1) & (uv >= 0).all(-1) & (uv <= size).all(-1)
    uv = np.where(np.isfinite(uv), uv, 0.0)
    pose2d = np.concatenate([uv, np.ones(uv.shape[:-1] + (1,))], axis=-1)
    return pose2d, uv, valid


def finite_segments(ok: np.ndarray, min_len: int = 1) -> list[tuple[int, int]]:
    """`[start, stop)` runs of True in a `(T,)` mask, at least `min_len` long."""
    ok = np.asarray(ok, bool)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], ok.astype(np.int8), [0]])))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2]) if b - a >= min_len]


def slice_record(rec: SequenceRecord, start: int, stop: int, take: str) -> SequenceRecord:
    """Frames `[start, stop)` of a record as a new take."""
    s = slice(start, stop)
    opt = lambda a: None if a is None else a[:, s]  # noqa: E731
    return SequenceRecord(
        subject=rec.subject, action=rec.action, take=take, fps=rec.fps,
        pose2d=rec.pose2d[:, s], K=rec.K, R=rec.R[:, s], t=rec.t[:, s],
        image_size=rec.image_size,
        pose3d_world=None if rec.pose3d_world is None else rec.pose3d_world[s],
        pose2d_clean=opt(rec.pose2d_clean), dist=rec.dist, valid=rec.valid[:, s],
        view_names=rec.view_names,
        labels={**rec.labels, "start_frame": str(int(rec.labels.get("start_frame", 0)) + start)},
    )
