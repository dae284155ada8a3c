"""Humans7.1M's universal coordinate frame (SoloPose's AugMotion): key frames, Kabsch, merge.

Jeong et al. (SoloPose) §3 ("3D AugMotion Toolkit"):

1. **Key frame** per video: k-means with 3 clusters over the video's poses; the key frame is
   the frame nearest the centre of the largest cluster (`key_frame`). Poses are clustered
   root-relative and scale-normalised, so the clusters group body configurations.
2. **Universal frame**: z up; left shoulder at (−1, 0, 3), right shoulder at (1, 0, 3) and the
   pubis on the z axis at `3 − 2 / ratio`, where `ratio` = mean shoulder width / mean distance
   from mid-shoulder to pubis over every frame of every source (`universal_references`).
   With the paper's example ratio 0.8 the pubis is the quoted (0, 0, 0.5). The pubis is the
   H36M-17 pelvis (mid-hip).
3. **Kabsch**: the similarity (scale, rotation, translation) that takes the key frame's three
   reference joints onto the references, fitted with `geometry.procrustes.kabsch`, is applied
   to every frame of the video.

Deviations (documented in the README section): the paper's text also calls the shoulder line
the y axis, contradicting its own reference coordinates; the coordinates win. One universal
unit is `unit_m` metres (default: half the sources' mean shoulder width), so records stay
metric and the 2.5D targets and mm metrics keep working; every person then has the
average shoulder width.

The DataModule merging registered datasets this way is `datamodule.py` of this package.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.cluster.vq import kmeans2

from liftbench.datamodules.records import SequenceRecord
from liftbench.geometry.procrustes import kabsch

L_SHOULDER, R_SHOULDER, PUBIS = 11, 14, 0  # H36M-17 indices
REF_JOINTS = (L_SHOULDER, R_SHOULDER, PUBIS)


def key_frame(poses: np.ndarray, clusters: int = 3, seed: int = 0) -> int:
    """Index of the key frame of a video (SoloPose §3.1).

    Args:
        poses: `(T, J, 3)` joints (any unit); non-finite frames are never chosen.
        clusters: k-means clusters (the paper: 3).
        seed: k-means++ initialisation seed (deterministic result).

    Returns:
        The frame nearest the centre of the largest cluster.
    """
    x = np.asarray(poses, dtype=np.float64)
    if x.ndim != 3 or x.shape[-1] != 3:
        raise ValueError(f"poses must be (T, J, 3), got {x.shape}")
    ok = np.flatnonzero(np.isfinite(x).all(axis=(1, 2)))
    if ok.size == 0:
        raise ValueError("poses has no finite frame")
    rel = x[ok] - x[ok, PUBIS : PUBIS + 1]
    scale = np.sqrt((rel**2).sum((1, 2)).mean()) or 1.0
    feats = (rel / scale).reshape(len(ok), -1)
    k = min(clusters, len(ok))
    centres, labels = kmeans2(feats, k, minit="++", seed=seed)
    big = np.bincount(labels, minlength=k).argmax()
    members = np.flatnonzero(labels == big)
    best = members[np.argmin(((feats[members] - centres[big]) ** 2).sum(1))]
    return int(ok[best])


def shoulder_torso(poses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame shoulder width and mid-shoulder→pubis distance of `(..., J, 3)` poses."""
    x = np.asarray(poses, dtype=np.float64)
    width = np.linalg.norm(x[..., L_SHOULDER, :] - x[..., R_SHOULDER, :], axis=-1)
    mid = (x[..., L_SHOULDER, :] + x[..., R_SHOULDER, :]) / 2
    return width, np.linalg.norm(mid - x[..., PUBIS, :], axis=-1)


def universal_references(ratio: float) -> np.ndarray:
    """`(3, 3)` universal positions of (left shoulder, right shoulder, pubis).

    Args:
        ratio: mean shoulder width / mean mid-shoulder→pubis distance (> 0).
    """
    if not ratio > 0:
        raise ValueError(f"ratio must be > 0, got {ratio}")
    return np.array([[-1.0, 0.0, 3.0], [1.0, 0.0, 3.0], [0.0, 0.0, 3.0 - 2.0 / ratio]])


def universal_transform(
    key_pose: np.ndarray, references: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """Similarity `(s, R, t)` with `s·R·key + t ≈ references` on the three reference joints.

    Args:
        key_pose: `(J, 3)` H36M-17 key-frame joints.
        references: `(3, 3)` from `universal_references`.

    Returns:
        `(s, R (3, 3), t (3,))`; exact when the key frame has the references' proportions.
    """
    a = np.asarray(key_pose, dtype=np.float64)[list(REF_JOINTS)]
    R, t, s = kabsch(a, np.asarray(references, dtype=np.float64), scale=True, method="svd")
    return float(s), np.asarray(R), np.asarray(t)


def to_universal(
    rec: SequenceRecord, s: float, R: np.ndarray, t: np.ndarray, unit_m: float
) -> SequenceRecord:
    """A record with its world mapped by `X_u = unit_m·(s·R·X + t)` (metres), cameras adjusted.

    The cameras keep every 2D projection: with `c = unit_m·s`, `R_cam' = R_cam·Rᵀ` and
    `t_cam' = c·t_cam − R_cam'·unit_m·t` give `R_cam'·X_u + t_cam' = c·(R_cam·X + t_cam)`.
    """
    c = unit_m * s
    world = c * rec.pose3d_world @ R.T + unit_m * t
    r_cam = rec.R @ R.T
    t_cam = c * rec.t - np.einsum("vnij,j->vni", r_cam, unit_m * t)
    return SequenceRecord(
        subject=rec.subject, action=rec.action, take=rec.take, fps=rec.fps, pose2d=rec.pose2d,
        K=rec.K, R=r_cam, t=t_cam, image_size=rec.image_size, pose3d_world=world,
        pose2d_clean=rec.pose2d_clean, dist=rec.dist, valid=rec.valid,
        view_names=rec.view_names, labels=dict(rec.labels),
    )


def merge(
    sources: Mapping[str, list[SequenceRecord]], unit_m: float | None = None, seed: int = 0,
) -> tuple[list[SequenceRecord], dict[str, Any]]:
    """Map every take of every source into the universal frame.

    Args:
        sources: `{source name: records with 3D (H36M-17, metres)}`.
        unit_m: metres per universal unit (default half the mean shoulder width).
        seed: k-means seed.

    Returns:
        `(records, info)`: records with `subject`/`take` prefixed `"<source>/"` and
        `labels["source"]`; info = `{"ratio", "unit_m", "references" (3, 3) in units}`.
    """
    widths, torsos = [], []
    for recs in sources.values():
        for r in recs:
            w, d = shoulder_torso(r.pose3d_world)
            widths.append(w)
            torsos.append(d)
    if not widths:
        raise ValueError("merge needs at least one record with 3D")
    width, torso = np.concatenate(widths), np.concatenate(torsos)
    ok = np.isfinite(width) & np.isfinite(torso)
    ratio = float(width[ok].mean() / torso[ok].mean())
    unit = float(unit_m) if unit_m is not None else float(width[ok].mean() / 2)
    refs = universal_references(ratio)
    out = []
    for name, recs in sources.items():
        for r in recs:
            s, R, t = universal_transform(r.pose3d_world[key_frame(r.pose3d_world, seed=seed)],
                                          refs)
            u = to_universal(r, s, R, t, unit)
            u.subject, u.take = f"{name}/{r.subject}", f"{name}/{r.take}"
            u.labels["source"] = name
            out.append(u)
    return out, {"ratio": ratio, "unit_m": unit, "references": refs.tolist()}
