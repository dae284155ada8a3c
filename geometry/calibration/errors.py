"""Errors of an estimated calibration against ground truth (rotation angle, camera centres)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from liftbench.geometry.calibration.linear import nearest_rotation


def rotation_angle_deg(Ra: np.ndarray, Rb: np.ndarray) -> np.ndarray:
    """Geodesic angle between rotations `(..., 3, 3)` in degrees (`Ra` projected to SO(3)).

    Computed as `2·asin(‖Ra − Rb‖_F / √8)`, accurate for tiny angles (unlike `acos` of the trace).
    """
    Ra = nearest_rotation(np.asarray(Ra, dtype=np.float64))
    diff = np.linalg.norm(Ra - np.asarray(Rb, dtype=np.float64), axis=(-2, -1))
    return np.degrees(2 * np.arcsin(np.clip(diff / math.sqrt(8), 0.0, 1.0)))


def extrinsic_errors(
    R_est: Any, t_est: Any, R_gt: Any, t_gt: Any
) -> dict[str, Any]:
    """Rotation and camera-centre errors of an estimated calibration against ground truth.

    The ground truth is first expressed in the estimate's gauge (world = camera 1). Rotations:
    the geodesic angle of each `R_est[c]` against `R_gt[c]·R_gt[0]ᵀ` in degrees (deviation: the
    official ASP code divides the angle by √2). Centres `−R⁻¹t`: aligned to the ground-truth
    centres by a similarity (Umeyama) for C ≥ 3, by the least-squares scale for C = 2 (a
    similarity would fit two points exactly), then the distance per camera, also relative to the
    rig size (RMS distance of the ground-truth centres from their centroid).

    Args:
        R_est: `(C, 3, 3)` estimated world→camera rotations (`R_est[0] ≈ I`).
        t_est: `(C, 3)` estimated translations (any unit).
        R_gt: `(C, 3, 3)` ground-truth world→camera rotations.
        t_gt: `(C, 3)` ground-truth translations (metres or any unit).

    Returns:
        `{"rotation_deg" (C,), "rotation_deg_mean", "centre_error" (C,) in t_gt's unit,
        "centre_error_rel" (C,), "centre_error_rel_mean"}`.
    """
    R_est, t_est = np.asarray(R_est, np.float64), np.asarray(t_est, np.float64)
    R_gt, t_gt = np.asarray(R_gt, np.float64), np.asarray(t_gt, np.float64)
    C = len(R_est)
    for name, a, shape in (("R_est", R_est, (C, 3, 3)), ("t_est", t_est, (C, 3)),
                           ("R_gt", R_gt, (C, 3, 3)), ("t_gt", t_gt, (C, 3))):
        if a.shape != shape:
            raise ValueError(f"{name} must have shape {shape}, got {a.shape}")
    R_rel = R_gt @ R_gt[0].T
    rot = rotation_angle_deg(R_est, R_rel)
    c_gt = -np.einsum("cji,cj->ci", R_gt, t_gt)
    c_gt = (c_gt - c_gt[0]) @ R_gt[0].T  # in camera 1's frame
    c_est = -np.linalg.solve(R_est, t_est[..., None])[..., 0]
    if C >= 3:
        from liftbench.geometry.procrustes import procrustes

        aligned = procrustes(c_est, c_gt, per="frame", method="svd")[0]
    else:
        aligned = c_est * (c_est * c_gt).sum() / max((c_est * c_est).sum(), 1e-300)
    err = np.linalg.norm(aligned - c_gt, axis=-1)
    size = math.sqrt(((c_gt - c_gt.mean(0)) ** 2).sum(-1).mean())
    rel = err / size
    return {"rotation_deg": rot, "rotation_deg_mean": float(rot.mean()), "centre_error": err,
            "centre_error_rel": rel, "centre_error_rel_mean": float(rel.mean())}
