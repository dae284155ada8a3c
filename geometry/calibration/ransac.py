"""RANSAC over random subsets of directions and points (official `calib_linear_ransac`)."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from liftbench.geometry.calibration.linear import _linear, points_given_extrinsics


# ------------------------------------------------------------------------------ residuals / RANSAC
def _reprojection_px(n: np.ndarray, K: np.ndarray, R: np.ndarray, t: np.ndarray,
                     X: np.ndarray) -> np.ndarray:
    """`(C, M)` pixel distance between the observed rays and the reprojected points."""
    Xc = np.stack([X @ R[c].T for c in range(len(R))]) + t[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        diff = Xc[..., :2] / Xc[..., 2:3] - n[..., :2] / n[..., 2:3]
    fx = K[:, 0, 0][:, None]
    return np.linalg.norm(diff, axis=-1) * np.abs(fx)


def _angle_residual(dirs: np.ndarray, R: np.ndarray) -> np.ndarray:
    """`(N,)` mean angle (rad) between camera 1's and the other cameras' world directions."""
    world = np.einsum("cji,cnj->cni", R, dirs)  # R_cᵀ v
    world /= np.linalg.norm(world, axis=-1, keepdims=True)
    cos = np.clip((world[1:] * world[:1]).sum(-1), -1.0, 1.0)
    return np.arccos(cos).mean(0)


def _ransac(
    dirs: np.ndarray, n: np.ndarray, K: np.ndarray, solver: str, planar_tol: float,
    orthonormalize: bool, iterations: int, sample: int, th_px: float, th_deg: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Best linear fit on random subsets, then a refit on its inliers.

    Score (official code): `‖2D residuals‖/M + ‖angle residuals‖/N`; inliers have a mean
    reprojection error `<= th_px` pixels (points) or an angle `<= th_deg` degrees (directions).
    """
    N, M = dirs.shape[1], n.shape[1]
    best = None
    for _ in range(iterations):
        di = rng.choice(N, size=min(sample, N), replace=False)
        pi = rng.choice(M, size=min(sample, M), replace=False)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                R, t, _, _ = _linear(dirs[:, di], n[:, pi], "schur", planar_tol, orthonormalize)
        except (ValueError, np.linalg.LinAlgError):
            continue
        X = points_given_extrinsics(n, R, t)
        r2d = _reprojection_px(n, K, R, t, X).mean(0)
        rang = _angle_residual(dirs, R)
        if not (np.isfinite(r2d).all() and np.isfinite(rang).all()):
            continue
        score = np.linalg.norm(r2d) / M + np.linalg.norm(rang) / N
        if best is None or score < best[0]:
            best = (score, r2d, rang)
    if best is None:
        raise ValueError(f"RANSAC: none of the {iterations} random subsets gave a calibration")
    in_pts = best[1] <= th_px
    in_dirs = best[2] <= math.radians(th_deg)
    if in_pts.sum() < 2 or in_dirs.sum() < 3:
        raise ValueError(
            f"RANSAC: only {int(in_pts.sum())} point / {int(in_dirs.sum())} direction inliers "
            f"(thresholds {th_px} px, {th_deg} deg); loosen the thresholds"
        )
    return in_dirs, in_pts, {"ransac_inlier_points": int(in_pts.sum()),
                             "ransac_inlier_directions": int(in_dirs.sum())}


