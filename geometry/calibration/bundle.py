"""Bundle adjustment of a linear calibration (official `common/ba.py`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from liftbench.geometry.calibration.linear import (
    BONES,
    bone_directions,
    nearest_rotation,
    points_given_extrinsics,
    rays,
)


def _rotvec_to_matrix(r: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.from_rotvec(r).as_matrix()


def bundle_adjust_extrinsics(
    R: np.ndarray, t: np.ndarray, pose3d: np.ndarray, points_2d: np.ndarray,
    confidence: np.ndarray, K: np.ndarray, visible: np.ndarray,
    bones: tuple[tuple[int, int], ...] = BONES, lambda_direction: float = 1.0,
    lambda_length: float = 10.0, ftol: float = 1e-4,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Refine a calibration with `scipy.optimize.least_squares` (official `common/ba.py`).

    Parameters: a rotation vector and a translation per camera except camera 1 (held at the
    gauge `R = I, t = 0`), every visible joint, and one length per bone. Residuals:

    - `√2·s·(uv − π(K(RX + t)))` per camera and visible joint (pixels, confidence `s`);
    - `√λ_dir·(1 − ‖mean_c R_cᵀ v_c‖)` per bone direction (agreement of the cameras' world
      directions, as the official code);
    - `√(λ_len/n_b)·(‖X_a − X_b‖ − L_b)` per frame and bone; at the optimum of `L_b` its
      squares sum to `λ_len·Var(length of b)` (deviation: the official code puts the variance
      itself in one residual per bone, which makes the Jacobian dense).

    The result is rescaled to `‖t_2‖ = 1`. Finite-difference Jacobian with its sparsity pattern:
    fine for a few thousand points; slow for very long sequences (use frame subsets).

    Args:
        R: `(C, 3, 3)` initial rotations (projected to SO(3) first).
        t: `(C, 3)` initial translations.
        pose3d: `(C, T, J, 3)` monocular predictions (for the bone directions).
        points_2d: `(C, T, J, 2)` pixels.
        confidence: `(C, T, J)`.
        K: `(C, 3, 3)`.
        visible: `(T, J)` joints used.
        bones: bone list.
        lambda_direction: direction-agreement weight.
        lambda_length: bone-length constancy weight.
        ftol: `least_squares` tolerance (official: 1e-4).

    Returns:
        `(R, t, {"ba_cost_initial", "ba_cost_final", "ba_nfev"})`.
    """
    from scipy.optimize import least_squares
    from scipy.sparse import lil_matrix
    from scipy.spatial.transform import Rotation

    from liftbench.geometry.cameras import projection_matrix
    from liftbench.geometry.triangulation import triangulate

    C = len(R)
    R = nearest_rotation(R)
    frame, joint = np.nonzero(visible)
    M = len(frame)
    uv = points_2d[:, frame, joint]
    s = np.clip(np.nan_to_num(confidence[:, frame, joint]), 0, None)
    X0 = triangulate(uv, s, projection_matrix(K, R, t))
    X0 = np.where(np.isfinite(X0), X0, points_given_extrinsics(rays(uv, K), R, t))
    dirs, _ = bone_directions(pose3d, visible, bones)
    pid = -np.ones(visible.shape, dtype=np.int64)
    pid[frame, joint] = np.arange(M)
    pairs = [(pid[f, a], pid[f, b], k) for k, (a, b) in enumerate(bones)
             for f in range(visible.shape[0]) if pid[f, a] >= 0 and pid[f, b] >= 0]
    pa, pb, pk = (np.array([p[i] for p in pairs], dtype=np.int64) for i in range(3))
    nb = len(bones)
    count = np.maximum(np.bincount(pk, minlength=nb), 1)
    lengths0 = np.bincount(pk, np.linalg.norm(X0[pa] - X0[pb], axis=-1), nb) / count
    nc = 6 * (C - 1)

    def unpack(p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        Rs = np.concatenate([np.eye(3)[None], _rotvec_to_matrix(p[: 3 * (C - 1)].reshape(-1, 3))])
        ts = np.concatenate([np.zeros((1, 3)), p[3 * (C - 1) : nc].reshape(-1, 3)])
        X = p[nc : nc + 3 * M].reshape(M, 3)
        return Rs, ts, X, p[nc + 3 * M :]

    def residuals(p: np.ndarray) -> np.ndarray:
        Rs, ts, X, L = unpack(p)
        xc = np.einsum("cij,mj->cmi", Rs, X) + ts[:, None]
        proj = np.einsum("cij,cmj->cmi", K, xc)
        with np.errstate(divide="ignore", invalid="ignore"):
            r_px = math.sqrt(2) * s[..., None] * (uv - proj[..., :2] / proj[..., 2:3])
        world = np.einsum("cji,cnj->ni", Rs, dirs) / C
        r_dir = math.sqrt(lambda_direction) * (1 - np.linalg.norm(world, axis=-1))
        r_len = np.sqrt(lambda_length / count[pk]) * (
            np.linalg.norm(X[pa] - X[pb], axis=-1) - L[pk])
        return np.nan_to_num(np.concatenate([r_px.ravel(), r_dir, r_len]), nan=1e6)

    n_px, n_dir, n_len = 2 * C * M, dirs.shape[1], len(pa)
    sparsity = lil_matrix((n_px + n_dir + n_len, nc + 3 * M + nb), dtype=np.int8)
    for c in range(1, C):
        cols = list(range(3 * (c - 1), 3 * c)) + list(range(3 * (C - 1) + 3 * (c - 1),
                                                           3 * (C - 1) + 3 * c))
        rows = np.arange(c * 2 * M, (c + 1) * 2 * M)
        for col in cols:
            sparsity[rows, col] = 1
    px_rows = np.arange(n_px).reshape(C, M, 2)
    for k in range(3):
        for i in range(2):
            sparsity[px_rows[:, :, i].ravel(), nc + 3 * np.tile(np.arange(M), C) + k] = 1
    sparsity[n_px : n_px + n_dir, : 3 * (C - 1)] = 1
    len_rows = n_px + n_dir + np.arange(n_len)
    for k in range(3):
        sparsity[len_rows, nc + 3 * pa + k] = 1
        sparsity[len_rows, nc + 3 * pb + k] = 1
    sparsity[len_rows, nc + 3 * M + pk] = 1

    p0 = np.concatenate([Rotation.from_matrix(R[1:]).as_rotvec().ravel(), t[1:].ravel(),
                         X0.ravel(), lengths0])
    cost0 = 0.5 * float((residuals(p0) ** 2).sum())
    res = least_squares(residuals, p0, jac_sparsity=sparsity.tocsr(), method="trf", ftol=ftol,
                        x_scale="jac")
    Rs, ts, _, _ = unpack(res.x)
    base = np.linalg.norm(ts[1])
    if not base > 0:
        raise ValueError("bundle adjustment collapsed the camera-2 baseline to zero")
    return Rs, ts / base, {"ba_cost_initial": cost0, "ba_cost_final": float(res.cost),
                           "ba_nfev": int(res.nfev)}


