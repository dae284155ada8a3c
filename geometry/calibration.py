"""Extrinsic self-calibration of synchronized cameras from a moving person (Lee et al. 2022).

The linear method used by Suzuki et al. (their official `calib_linear`), numpy only:

1. **Rotations** from "oriented points": every bone direction `v` (unit, from each camera's own
   monocular 3D prediction, camera axes) is seen by camera `c` as `R_c v`. Stacking the cameras
   side by side, `[V_1 | … | V_C] = V·[R_1ᵀ | … | R_Cᵀ]` has rank 3; its top-3 right singular
   vectors scaled by `√C` give the stacked rotations up to one common `Q ∈ O(3)`, removed by
   making the first block the identity (world = camera 1; this also fixes the handedness).
2. **Translations and points** from the collinearity `[n]ₓ(R_c X_m + t_c) = 0` of every joint
   `m` visible in all cameras (`n = K⁻¹[u, v, 1]ᵀ`) and the coplanarity (epipolar) rows
   `(d_a × d_b)·(R_aᵀt_a − R_bᵀt_b) = 0` of every camera pair. The official code takes the four
   smallest eigenvectors of the dense `3(M+C)`-square normal matrix (M = frames × joints: far
   too big past a few hundred frames). Here (`solver="schur"`) the points are eliminated per
   point — the normal matrix is block-arrowhead, `H = [[H_xx, H_xt], [H_tx, H_tt]]` with `H_xx`
   block-diagonal 3×3 — leaving the `3C × 3C` Schur complement `S = H_tt − H_tx H_xx⁻¹ H_xt`,
   built in `O(M·C²)` and eigen-decomposed densely. `S` has the same 4-D null space (global
   translation + the solution) when the data are exact, so the result is identical noise-free;
   under noise the two differ slightly because the dense eigenvectors also normalise the
   points' norm (both are least-squares solutions of the same constraints). `solver="dense"`
   builds the explicit constraint matrix as the official code does (small problems only).
3. **Gauge**: the combination of the 4 null vectors with `t_1 = 0`, scale `‖t_2‖ = 1` (unit =
   the camera-1 ↔ camera-2 baseline), and the global sign by a cheirality vote (points in front
   of cameras 1 and 2 with `+t` vs `−t`; a tie picks `−t`, as the official code).

Optional (off by default, as in the released configs): RANSAC over random subsets of directions
and points, and a bundle adjustment with `scipy.optimize.least_squares` (confidence-weighted
reprojection + bone-direction agreement + bone-length constancy).

Conventions: world→camera `X_c = R_c X + t_c`, OpenCV camera axes, pixels; no lens distortion
(undistort the 2D first, e.g. `geometry.cameras.undistort_points`).
"""

from __future__ import annotations

import itertools
import math
import warnings
from typing import Any

import numpy as np

from geometry.skeletons import H36M17

BONES: tuple[tuple[int, int], ...] = H36M17.bones  # 16 (parent, child) pairs of H36M-17
DENSE_MAX_POINTS = 2000  # the dense solver's (3(M+C))² matrix: ~1 GB at this size
_CHUNK = 16384  # points per vectorised chunk (bounds temporaries to a few tens of MB)


class CalibrationWarning(UserWarning):
    """A calibration that ran but whose result may be unreliable (e.g. a close cheirality vote)."""


# --------------------------------------------------------------------------------------- checks
def _check_inputs(
    pose3d: Any, points_2d: Any, confidence: Any, K: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    p3 = np.asarray(pose3d, dtype=np.float64)
    p2 = np.asarray(points_2d, dtype=np.float64)
    cf = np.asarray(confidence, dtype=np.float64)
    K = np.asarray(K, dtype=np.float64)
    if p3.ndim != 4 or p3.shape[-1] != 3 or 0 in p3.shape:
        raise ValueError(f"pose3d_per_view must have shape (C, T, J, 3), got {p3.shape}")
    C, T, J = p3.shape[:3]
    if C < 2:
        raise ValueError(f"calibration needs at least 2 cameras, pose3d_per_view has C={C}")
    if p2.ndim != 4 or p2.shape[-1] != 2 or p2.shape[0] != C or p2.shape[2] != J:
        raise ValueError(
            f"points_2d must have shape (C, T, J, 2) = ({C}, T, {J}, 2) pixels, got {p2.shape}"
        )
    if p2.shape[1] != T:
        raise ValueError(
            f"mismatched frame counts: pose3d_per_view has T={T} frames, points_2d has "
            f"T={p2.shape[1]} (the views must be synchronized and cut to the same frames)"
        )
    if cf.shape != (C, T, J):
        raise ValueError(f"confidence must have shape (C, T, J) = {(C, T, J)}, got {cf.shape}")
    if K.shape != (C, 3, 3) or not np.isfinite(K).all():
        raise ValueError(f"K must have shape (C, 3, 3) = ({C}, 3, 3) finite pixels, got {K.shape}")
    if abs(np.linalg.det(K)).min() <= 0:
        raise ValueError("K must be invertible for every camera")
    return p3, p2, cf, K


def _visible(p3: np.ndarray, p2: np.ndarray, cf: np.ndarray, min_conf: float) -> np.ndarray:
    """`(T, J)` joints usable in every camera (confidence above threshold, all finite)."""
    ok = (cf > min_conf) & np.isfinite(cf) & np.isfinite(p2).all(-1) & np.isfinite(p3).all(-1)
    return ok.all(0)


# ------------------------------------------------------------------------------------ rotations
def bone_directions(
    pose3d: np.ndarray, visible: np.ndarray, bones: tuple[tuple[int, int], ...] = BONES
) -> tuple[np.ndarray, np.ndarray]:
    """Unit bone directions of each camera's own 3D prediction ("oriented points").

    Args:
        pose3d: `(C, T, J, 3)` per-camera 3D joints (camera axes, any scale).
        visible: `(T, J)` bool, joints usable in every camera.
        bones: `(a, b)` joint pairs; the direction is `P_b − P_a`.

    Returns:
        `(dirs (C, N, 3) unit vectors, index (N, 2) of (frame, bone))`, rows corresponding
        across cameras; only bones with both ends visible and non-zero length in all cameras.
    """
    a = np.array([b[0] for b in bones])
    b = np.array([b[1] for b in bones])
    d = pose3d[:, :, b] - pose3d[:, :, a]  # (C, T, B, 3)
    n = np.linalg.norm(d, axis=-1)
    with np.errstate(invalid="ignore"):
        ok = visible[:, a] & visible[:, b] & (n > 0).all(0) & np.isfinite(n).all(0)
    frame, bone = np.nonzero(ok)
    dirs = d[:, frame, bone] / n[:, frame, bone, None]
    return dirs, np.stack([frame, bone], -1)


def rotations_from_directions(
    dirs: np.ndarray, planar_tol: float = 1e-2
) -> tuple[np.ndarray, dict[str, Any]]:
    """World→camera rotations (world = camera 1) from corresponding bone directions.

    Args:
        dirs: `(C, N, 3)` unit directions, row `i` the same bone at the same time in every camera.
        planar_tol: raise when the third singular value of the stacked directions is below
            `planar_tol` times the first (directions near a plane leave a rotation free).

    Returns:
        `(R (C, 3, 3), diagnostics)`; `R[0] = I`. Blocks of other cameras are only approximately
        orthogonal under noise (the official code does not re-orthonormalise).
    """
    C, N = dirs.shape[:2]
    if N < 3:
        raise ValueError(
            f"only {N} bone directions are visible in all {C} cameras; need at least 3 "
            "non-coplanar ones (check confidences / visibility)"
        )
    stacked = np.moveaxis(dirs, 0, 1).reshape(N, 3 * C)
    # Right singular vectors from the 3C-square Gram matrix: one BLAS pass over the N rows
    # instead of an SVD of the tall matrix; the top-3 subspace is well separated (s ~ √(N/3)).
    w, V = np.linalg.eigh(stacked.T @ stacked)
    s, vt = np.sqrt(np.clip(w[::-1], 0.0, None)), V[:, ::-1].T
    planarity = s[2] / s[0]
    if not planarity >= planar_tol:
        raise ValueError(
            f"degenerate (near-planar) bone directions: singular values {np.round(s[:4], 6)}, "
            f"third/first = {planarity:.2e} < planar_tol={planar_tol:g}; the rotation about "
            "the plane's normal is not observable (the person must move out of one plane)"
        )
    B = math.sqrt(C) * vt[:3]  # (3, 3C) = Q·[R_1ᵀ | … | R_Cᵀ] for an unknown Q ∈ O(3)
    Bp = np.linalg.solve(B[:, :3], B)  # first block := I (world = camera 1, handedness fixed)
    R = np.stack([Bp[:, 3 * c : 3 * c + 3].T for c in range(C)])
    gap = s[2] / s[3] if len(s) > 3 and s[3] > 0 else math.inf
    return R, {"rotation_singular_values": s, "planarity": float(planarity),
               "rotation_gap": float(gap)}


def nearest_rotation(M: np.ndarray) -> np.ndarray:
    """Project `(..., 3, 3)` matrices to the closest proper rotation (SVD, det = +1)."""
    U, _, Vt = np.linalg.svd(M)
    d = np.sign(np.linalg.det(U @ Vt))
    D = np.ones(M.shape[:-1])
    D[..., 2] = d
    return (U * D[..., None, :]) @ Vt


def orthogonality_error(R: np.ndarray) -> np.ndarray:
    """`‖R Rᵀ − I‖_F` per camera, `(C,)` (0 for a rotation)."""
    return np.linalg.norm(R @ np.swapaxes(R, -1, -2) - np.eye(3), axis=(-2, -1))


# ---------------------------------------------------------------------------------- translation
def rays(points_2d: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Normalised homogeneous rays `K⁻¹[u, v, 1]ᵀ`, `(C, M, 2)` px → `(C, M, 3)`."""
    h = np.concatenate([points_2d, np.ones(points_2d.shape[:-1] + (1,))], -1)
    return np.einsum("cij,cmj->cmi", np.linalg.inv(K), h)


def _inverse_sym3(H: np.ndarray) -> np.ndarray:
    """Inverse of symmetric `(..., 3, 3)` matrices by the adjugate (vectorised, no LAPACK loop)."""
    a, b, c = H[..., 0, 0], H[..., 0, 1], H[..., 0, 2]
    d, e, f = H[..., 1, 1], H[..., 1, 2], H[..., 2, 2]
    A, B, Cc = d * f - e * e, c * e - b * f, b * e - c * d
    D, E, F = a * f - c * c, b * c - a * e, a * d - b * b
    det = a * A + b * B + c * Cc
    adj = np.stack([A, B, Cc, B, D, E, Cc, E, F], -1).reshape(H.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        return adj / det[..., None, None]


class _PointBlocks:
    """Per-point quantities of the collinearity normal equations for a chunk of points.

    With `Q = [n]ₓᵀ[n]ₓ = ‖n‖²I − n nᵀ` and `d_c = R_cᵀ n_c`: `H_xx = Σ_c R_cᵀ Q_c R_c
    = Σ_c ‖n_c‖² R_cᵀR_c − d_c d_cᵀ` and the `t_c` block `R_cᵀ Q_c = ‖n_c‖² R_cᵀ − d_c n_cᵀ`
    (exact also for the approximately orthogonal rotations of a noisy linear estimate).
    """

    def __init__(self, n: np.ndarray, R: np.ndarray) -> None:
        self.n = n  # (C, m, 3)
        self.R = R
        self.nn = (n * n).sum(-1)  # (C, m)
        self.d = np.stack([n[c] @ R[c] for c in range(len(R))])  # (C, m, 3) = R_cᵀ n
        G = np.swapaxes(R, -1, -2) @ R  # R_cᵀ R_c
        H = np.einsum("cm,cij->mij", self.nn, G)
        H -= np.einsum("cmi,cmj->mij", self.d, self.d)
        self.Hinv = _inverse_sym3(H)  # (m, 3, 3)
        self.h = np.einsum("mij,cmj->cmi", self.Hinv, self.d)  # H_xx⁻¹ d_c

    def points(self, t: np.ndarray) -> np.ndarray:
        """Least-squares points for translations `t (C, 3)`: `−H_xx⁻¹ Σ_c R_cᵀ Q_c t_c`."""
        rhs = sum(self.nn[c][:, None] * (self.R[c].T @ t[c])[None]
                  - self.d[c] * (self.n[c] @ t[c])[:, None] for c in range(len(self.R)))
        return -np.einsum("mij,mj->mi", self.Hinv, rhs)


def _coplanarity_rows(
    n: np.ndarray, R: np.ndarray
) -> list[tuple[int, int, np.ndarray, np.ndarray]]:
    """Per camera pair `(a, b)`: the t_a and t_b blocks `(M, 3)` of its coplanarity rows."""
    d = [n[c] @ R[c] for c in range(len(R))]  # world ray directions R_cᵀ n
    out = []
    for a, b in itertools.combinations(range(len(R)), 2):
        m = np.cross(d[a], d[b])
        out.append((a, b, m @ R[a].T, -(m @ R[b].T)))
    return out


def schur_system(n: np.ndarray, R: np.ndarray) -> np.ndarray:
    """The `3C × 3C` Schur complement of the points in the linear system's normal matrix.

    Args:
        n: `(C, M, 3)` rays of the M points seen by all C cameras.
        R: `(C, 3, 3)` world→camera rotations.

    Returns:
        `S (3C, 3C)`: `tᵀ S t = min_X ‖A [X; t]‖²` (collinearity + coplanarity rows).
    """
    C, M = n.shape[:2]
    S = np.zeros((C, 3, C, 3))
    for lo in range(0, M, _CHUNK):
        pb = _PointBlocks(n[:, lo : lo + _CHUNK], R)
        nn, nv, d, h = pb.nn, pb.n, pb.d, pb.h
        Hflat = pb.Hinv.reshape(-1, 9)
        for a in range(C):
            S[a, :, a] += nn[a].sum() * np.eye(3) - nv[a].T @ nv[a]  # Σ_m Q_am
            for b in range(C):
                # Σ_m (R_aᵀQ_a)ᵀ H_xx⁻¹ (R_bᵀQ_b), expanded into (3 × m)(m × 3) products
                p1 = (Hflat.T @ (nn[a] * nn[b])).reshape(3, 3)
                p2 = (h[b] * nn[a][:, None]).T @ nv[b]
                p3 = (nv[a] * nn[b][:, None]).T @ h[a]
                p4 = (nv[a] * (d[a] * h[b]).sum(-1)[:, None]).T @ nv[b]
                S[a, :, b] -= R[a] @ p1 @ R[b].T - R[a] @ p2 - p3 @ R[b].T + p4
    for a, b, ra, rb in _coplanarity_rows(n, R):
        S[a, :, a] += ra.T @ ra
        S[b, :, b] += rb.T @ rb
        S[a, :, b] += ra.T @ rb
        S[b, :, a] += rb.T @ ra
    return S.reshape(3 * C, 3 * C)


def points_given_extrinsics(n: np.ndarray, R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Unweighted least-squares points from the collinearity rows, `(C, M, 3)` rays → `(M, 3)`."""
    M = n.shape[1]
    X = np.empty((M, 3))
    for lo in range(0, M, _CHUNK):
        X[lo : lo + _CHUNK] = _PointBlocks(n[:, lo : lo + _CHUNK], R).points(t)
    return X


def dense_system(n: np.ndarray, R: np.ndarray) -> np.ndarray:
    """The official code's explicit constraint matrix `A`, `(3CM + P·M, 3(M + C))`.

    Columns: the M points first, then the C translations; rows: collinearity (camera-major,
    then point), then coplanarity (pair-major). For tests and small problems.
    """
    C, M = n.shape[:2]
    cols = 3 * (M + C)
    A = np.zeros((3 * C * M + M * C * (C - 1) // 2, cols))
    nx = np.zeros((C, M, 3, 3))  # [n]ₓ
    nx[..., 0, 1], nx[..., 0, 2] = -n[..., 2], n[..., 1]
    nx[..., 1, 0], nx[..., 1, 2] = n[..., 2], -n[..., 0]
    nx[..., 2, 0], nx[..., 2, 1] = -n[..., 1], n[..., 0]
    m_idx = np.arange(M)
    for c in range(C):
        rows = 3 * (c * M + m_idx)
        blk_x = nx[c] @ R[c]
        for i in range(3):
            for j in range(3):
                A[rows + i, 3 * m_idx + j] = blk_x[:, i, j]
                A[rows + i, 3 * M + 3 * c + j] = nx[c][:, i, j]
    row = 3 * C * M
    for a, b, ra, rb in _coplanarity_rows(n, R):
        A[row : row + M, 3 * M + 3 * a : 3 * M + 3 * a + 3] = ra
        A[row : row + M, 3 * M + 3 * b : 3 * M + 3 * b + 3] = rb
        row += M
    return A


def _gauge(null: np.ndarray, t_rows: slice) -> np.ndarray:
    """The combination of 4 null vectors (columns) whose `t_1` rows vanish."""
    _, _, vt = np.linalg.svd(null[t_rows])
    return null @ vt[3]


def translations(
    n: np.ndarray, R: np.ndarray, solver: str = "schur"
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Translations and points in the gauge `t_1 = 0`, `‖t_2‖ = 1` (sign not yet fixed).

    Args:
        n: `(C, M, 3)` rays of points seen by all cameras.
        R: `(C, 3, 3)` world→camera rotations (`R[0] = I`).
        solver: `"schur"` (scalable) or `"dense"` (official formulation, M ≤ `DENSE_MAX_POINTS`).

    Returns:
        `(t (C, 3), X (M, 3), diagnostics)`; diagnostics hold the 6 smallest eigenvalues and
        Lee's eigen-gap `w[3] / w[4]` (small = a well-determined solution).
    """
    C, M = n.shape[:2]
    if M < 2:
        raise ValueError(f"only {M} joint(s) are visible in all {C} cameras; need more points")
    if solver == "schur":
        w, V = np.linalg.eigh(schur_system(n, R))
        theta = _gauge(V[:, :4], slice(0, 3))
        t = theta.reshape(C, 3)
        X = points_given_extrinsics(n, R, t)
    elif solver == "dense":
        if M > DENSE_MAX_POINTS:
            raise ValueError(
                f"solver='dense' builds a {3 * (M + C)}-square matrix for M={M} points; it is "
                f"limited to M <= {DENSE_MAX_POINTS}: use solver='schur'"
            )
        import scipy.linalg

        A = dense_system(n, R)
        w, V = scipy.linalg.eigh(A.T @ A, subset_by_index=(0, 5))
        theta = _gauge(V[:, :4], slice(3 * M, 3 * M + 3))
        X, t = theta[: 3 * M].reshape(M, 3), theta[3 * M :].reshape(C, 3)
    else:
        raise ValueError(f"solver must be 'schur' or 'dense', got {solver!r}")
    base = np.linalg.norm(t[1])
    if not base > 1e-9 * max(np.linalg.norm(t), 1e-300):
        raise ValueError(
            "the camera-2 translation vanished: cameras 1 and 2 share a centre (no baseline), "
            "or the points do not constrain it"
        )
    gap = w[3] / w[4] if w[4] > 0 else math.inf
    return t / base, X / base, {"eigenvalues": w[:6], "eigen_gap": float(gap)}


def cheirality_counts(n: np.ndarray, R: np.ndarray, t: np.ndarray) -> tuple[int, int]:
    """Points in front of cameras 1 and 2 with `+t` and with `−t` (two-view triangulation).

    Flipping the sign of every `t` flips the triangulated points, so one triangulation gives
    both counts: `(#(z_1 > 0 and z_2 > 0), #(z_1 < 0 and z_2 < 0))`.
    """
    X = points_given_extrinsics(n[:2], R[:2], t[:2])
    z1 = (X @ R[0].T + t[0])[:, 2]
    z2 = (X @ R[1].T + t[1])[:, 2]
    return int(((z1 > 0) & (z2 > 0)).sum()), int(((z1 < 0) & (z2 < 0)).sum())


def _linear(
    dirs: np.ndarray, n: np.ndarray, solver: str, planar_tol: float, orthonormalize: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """Rotations, translations (sign by cheirality), points and diagnostics."""
    R, diag = rotations_from_directions(dirs, planar_tol)
    if orthonormalize:
        R = nearest_rotation(R)
    t, X, tdiag = translations(n, R, solver)
    pos, neg = cheirality_counts(n, R, t)
    sign = 1.0 if pos > neg else -1.0  # a tie picks −t, as the official code
    diag.update(tdiag)
    # reported for the chosen sign: points in front of cameras 1 and 2 / behind both
    front, behind = (pos, neg) if sign > 0 else (neg, pos)
    diag["cheirality"] = {"positive": front, "negative": behind}
    return R, t * sign, X * sign, diag


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


# -------------------------------------------------------------------------------------- calibrate
def calibrate(
    pose3d_per_view: Any,
    points_2d: Any,
    confidence: Any,
    K: Any,
    *,
    pose_space: str = "camera",
    image_size: Any = None,
    solver: str = "schur",
    min_confidence: float = 0.0,
    planar_tol: float = 1e-2,
    orthonormalize: bool = False,
    cheirality_margin: float = 0.2,
    ransac: bool = False,
    ransac_iterations: int = 100,
    ransac_sample: int = 10,
    ransac_threshold_px: float = 50.0,
    ransac_threshold_deg: float = 10.0,
    bundle_adjust: bool = False,
    ba_lambda_direction: float = 1.0,
    ba_lambda_length: float = 10.0,
    bones: tuple[tuple[int, int], ...] = BONES,
    seed: int = 0,
    resolve_mirror: bool = True,
    warn_reprojection_px: float = 25.0,
    warn_orthogonality: float = 0.1,
    warn_visible_fraction: float = 0.5,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Calibrate the extrinsics of C synchronized cameras from one person's motion.

    Args:
        pose3d_per_view: `(C, T, J, 3)` each camera's own monocular 3D prediction, NaN = not
            predicted. `pose_space="camera"`: camera-frame 3D (x right, y down, z forward), any
            scale and root (only bone directions are used). `pose_space="2.5d"`: the lifter's
            root-relative 2.5D output (x, y width-normalised image offsets, z depth offset scaled
            by f/Z_root), turned into camera-frame directions with the observed root pixel and
            `K` (`geometry.cameras.camera_from_25d`); it must not be passed as `"camera"`: its
            x, y are perspective image offsets, so its "directions" are wrong off the optical
            axis (an iterated pseudo-label loop drifts by degrees per iteration).
        points_2d: `(C, T, J, 2)` 2D keypoints in pixels (undistorted).
        confidence: `(C, T, J)` 2D confidences; a joint enters only where it is above
            `min_confidence` in every camera.
        K: `(C, 3, 3)` intrinsics in pixels.
        pose_space: `"camera"` or `"2.5d"` (see `pose3d_per_view`).
        image_size: `(C, 2)` image `(W, H)` per camera in pixels (the 2.5D width unit); required
            for `pose_space="2.5d"`.
        solver: `"schur"` (default, scales to long sequences) or `"dense"` (the official dense
            eigenproblem; at most `DENSE_MAX_POINTS` points).
        min_confidence: visibility threshold on `confidence`.
        planar_tol: reject bone directions whose third singular value is below this fraction
            of the first (near-planar motion).
        orthonormalize: project each rotation to SO(3) (a deviation; the official code keeps the
            linear estimate). Bundle adjustment always works on proper rotations.
        cheirality_margin: warn (`CalibrationWarning`) when `|pos − neg| / (pos + neg)` of the
            cheirality vote is below this.
        ransac: robust linear fit (random subsets, refit on inliers).
        ransac_iterations: RANSAC rounds.
        ransac_sample: directions and points drawn per round.
        ransac_threshold_px: point inlier threshold (mean reprojection error, pixels).
        ransac_threshold_deg: direction inlier threshold (degrees).
        bundle_adjust: refine with `scipy.optimize.least_squares` (see `bundle_adjust`).
        ba_lambda_direction: weight of the bone-direction agreement residuals.
        ba_lambda_length: weight of the bone-length constancy residuals.
        bones: joint pairs used as oriented points.
        seed: RANSAC seed.
        resolve_mirror: resolve the monocular depth-sign (mirror) ambiguity: a view whose depth
            is mirrored relative to camera 1 shows up as an improper relative rotation
            (`det R_c < 0`); the two consistent hypotheses (those views mirrored, or all the
            others) are both solved and the one with the lower reprojection error is kept.
            That also catches every view being mirrored, which gives proper but wrong rotations.
        warn_reprojection_px: warn when the mean reprojection error exceeds this (pixels).
        warn_orthogonality: warn when a rotation's `‖RRᵀ − I‖_F` exceeds this.
        warn_visible_fraction: warn when fewer than this fraction of the (frame, joint) pairs
            are visible in all cameras.

    Returns:
        `(R (C, 3, 3), t (C, 3), diagnostics)`: world→camera extrinsics with world = camera 1
        (`R[0] = I`, `t[0] = 0`) and unit = the camera-1 ↔ camera-2 baseline (`‖t[1]‖ = 1`).
        Diagnostics: `eigen_gap`, `eigenvalues`, `rotation_singular_values`, `planarity`,
        `rotation_gap`, `cheirality` counts, `orthogonality_error (C,)`, `reprojection_px`
        (mean), `num_directions`, `num_points`, `points_3d (T, J, 3)` (the least-squares points
        of the visible joints, NaN elsewhere, calibration units), `visible (T, J)`,
        `determinants (C,)` of the rotations, `mirrored_views` (views whose depth was taken as
        mirrored), `mirror_hypotheses` (each
        hypothesis' flipped views and reprojection error), `pose_space`, and `warnings` (the
        `CalibrationWarning` messages this call raised: not a rotation, large reprojection
        error, identical views, most joints missing, a close cheirality or mirror decision).

    Raises:
        ValueError: fewer than 2 cameras, mismatched shapes or frame counts, no joint visible in
            all cameras, degenerate (near-planar) bone directions, no baseline.
    """
    p3, p2, cf, K = _check_inputs(pose3d_per_view, points_2d, confidence, K)
    C, T, J = p3.shape[:3]
    if max(max(b) for b in bones) >= J:
        raise ValueError(f"bones index joints up to {max(max(b) for b in bones)}, but J={J}")
    pose = _PoseSpace(p3, p2, K, pose_space, image_size)
    p3 = pose.camera(np.zeros(C, dtype=bool))
    vis = _visible(p3, p2, cf, min_confidence)
    if not vis.any():
        raise ValueError(
            f"no joint is visible in all {C} cameras (confidence > {min_confidence} and finite "
            "in every view at the same frame); calibration needs jointly visible joints"
        )
    frame, joint = np.nonzero(vis)
    n = rays(p2[:, frame, joint], K)
    diag: dict[str, Any] = {"solver": solver, "pose_space": pose_space, "warnings": []}
    flipped = np.zeros(C, dtype=bool)
    if resolve_mirror:
        flipped, diag["mirror_hypotheses"] = _resolve_mirror(
            pose, vis, n, K, bones, solver, planar_tol, orthonormalize)
        p3 = pose.camera(flipped)
    diag["mirrored_views"] = [int(c) for c in np.flatnonzero(flipped)]
    dirs, _ = bone_directions(p3, vis, bones)
    if ransac:
        rng = np.random.default_rng(seed)
        in_dirs, in_pts, rdiag = _ransac(
            dirs, n, K, solver, planar_tol, orthonormalize, int(ransac_iterations),
            int(ransac_sample), ransac_threshold_px, ransac_threshold_deg, rng,
        )
        diag.update(rdiag)
        R, t, _, ldiag = _linear(dirs[:, in_dirs], n[:, in_pts], solver, planar_tol,
                                 orthonormalize)
    else:
        R, t, _, ldiag = _linear(dirs, n, solver, planar_tol, orthonormalize)
    diag.update(ldiag)
    pos, neg = diag["cheirality"]["positive"], diag["cheirality"]["negative"]
    margin = abs(pos - neg) / max(pos + neg, 1)
    diag["cheirality"]["margin"] = margin
    if margin < cheirality_margin:
        _warn(diag,
              f"close cheirality vote ({pos} points in front with +t, {neg} with -t; margin "
              f"{margin:.2f} < {cheirality_margin}): the global sign of the translations is "
              "unreliable")
    if bundle_adjust:
        R, t, bdiag = bundle_adjust_extrinsics(
            R, t, p3, p2, cf, K, vis, bones, ba_lambda_direction, ba_lambda_length,
        )
        diag.update(bdiag)
    X = points_given_extrinsics(n, R, t)
    points = np.full((T, J, 3), np.nan)
    points[frame, joint] = X
    diag.update({
        "orthogonality_error": orthogonality_error(R), "determinants": np.linalg.det(R),
        "reprojection_px": float(np.nanmean(_reprojection_px(n, K, R, t, X))),
        "num_directions": int(dirs.shape[1]), "num_points": int(n.shape[1]),
        "points_3d": points, "visible": vis,
    })
    _health_checks(diag, p2, vis, orthonormalize or bundle_adjust, warn_reprojection_px,
                   warn_orthogonality, warn_visible_fraction)
    return R, t, diag


# ---------------------------------------------------------------------- pose space, mirror, health
class _PoseSpace:
    """Each view's prediction as camera-frame 3D, optionally depth-mirrored per view."""

    def __init__(self, p3: np.ndarray, p2: np.ndarray, K: np.ndarray, space: str,
                 image_size: Any) -> None:
        if space not in ("camera", "2.5d"):
            raise ValueError(f"pose_space must be 'camera' or '2.5d', got {space!r}")
        self.p3, self.p2, self.K, self.space = p3, p2, K, space
        if space == "2.5d":
            if image_size is None:
                raise ValueError(
                    "pose_space='2.5d' needs image_size (C, 2) = (W, H) per camera in pixels: "
                    "the 2.5D units are fractions of the image width")
            size = np.asarray(image_size, dtype=np.float64)
            if size.shape != (len(p3), 2) or not (np.isfinite(size).all() and (size > 0).all()):
                raise ValueError(
                    f"image_size must be (C, 2) = ({len(p3)}, 2) positive (W, H) pixels, got "
                    f"shape {size.shape}")
            self.size = size
            # the 2.5D pose has no absolute position: it is placed at the detected root pixel
            # (measured: better than a least-squares fit of all joints' offsets, which picks
            # up the limbs' larger detection errors; see the pseudo-label loop check)
            self.root_uv = p2[:, :, 0]

    def camera(self, mirrored: np.ndarray) -> np.ndarray:
        """`(C, T, J, 3)` camera-frame poses; views in `mirrored (C,)` get their depth flipped.

        2.5D: the z offset is negated before the exact back-projection (the monocular depth
        ambiguity, exactly). Camera-frame input: depth reflected about the root's depth plane.
        """
        sign = np.where(mirrored, -1.0, 1.0)[:, None, None]
        if self.space == "2.5d":
            from geometry.cameras import camera_from_25d

            p = self.p3.copy()
            p[..., 2] *= sign
            with np.errstate(invalid="ignore"):
                return camera_from_25d(p, self.root_uv, self.K[:, None], self.size[:, None])
        p = self.p3.copy()
        z_root = p[..., :1, 2]
        p[..., 2] = z_root + sign * (p[..., 2] - z_root)
        return p


def _resolve_mirror(
    pose: _PoseSpace, vis: np.ndarray, n: np.ndarray, K: np.ndarray,
    bones: tuple[tuple[int, int], ...], solver: str, planar_tol: float, orthonormalize: bool,
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Which views to depth-mirror: the consistent hypothesis with the lower reprojection error.

    Mirroring one view's depth reflects its bone directions, so its relative rotation comes out
    improper (`det < 0`); the views are made consistent with camera 1 (hypothesis A) or against
    it (B, the complement). If every view is mirrored the dets are all positive but A's
    rotations are wrong: the rays (translations, points) only fit the right one.
    """
    C = len(n)
    dirs, _ = bone_directions(pose.camera(np.zeros(C, dtype=bool)), vis, bones)
    R, _ = rotations_from_directions(dirs, planar_tol)
    odd = np.linalg.det(R) < 0
    hypotheses = []
    for flip in (odd, ~odd):
        d, _ = bone_directions(pose.camera(flip), vis, bones)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                Rh, th, Xh, _ = _linear(d, n, solver, planar_tol, orthonormalize)
            err = float(np.nanmean(_reprojection_px(n, K, Rh, th, Xh)))
        except (ValueError, np.linalg.LinAlgError):
            err = math.inf
        hypotheses.append({"flipped_views": [int(c) for c in np.flatnonzero(flip)],
                           "reprojection_px": err if math.isfinite(err) else math.inf})
    best = 0 if not hypotheses[1]["reprojection_px"] < hypotheses[0]["reprojection_px"] else 1
    return (odd, ~odd)[best], hypotheses


def _warn(diag: dict[str, Any], message: str, stacklevel: int = 3) -> None:
    diag.setdefault("warnings", []).append(message)
    warnings.warn(message, CalibrationWarning, stacklevel=stacklevel)


def _health_checks(
    diag: dict[str, Any], p2: np.ndarray, vis: np.ndarray, proper: bool, max_px: float,
    max_orth: float, min_visible: float,
) -> None:
    """Warn (and record in `diag["warnings"]`) about results that ran but are unreliable."""
    orth = np.asarray(diag["orthogonality_error"])
    if not proper and not orth.max() <= max_orth:
        _warn(diag, f"the linear estimate is not a rotation: |R R^T - I| up to {orth.max():.3g} "
                    f"(camera {int(orth.argmax()) + 1}); use orthonormalize=True or "
                    "bundle_adjust=True, and check the 2D / 3D inputs", 4)
    det = np.asarray(diag.get("determinants", []))
    if (det < 0).any():
        _warn(diag, f"camera(s) {[int(c) + 1 for c in np.flatnonzero(det < 0)]} came out as "
                    "reflections (det R < 0): their depth is mirrored relative to camera 1; "
                    "keep resolve_mirror=True", 4)
    if not diag["reprojection_px"] <= max_px:
        _warn(diag, f"mean reprojection error {diag['reprojection_px']:.1f} px > {max_px:g} px: "
                    "the calibration does not explain the 2D keypoints", 4)
    frac = float(vis.mean())
    if frac < min_visible:
        _warn(diag, f"only {100 * frac:.0f}% of the (frame, joint) pairs are visible in all "
                    f"{len(p2)} cameras (< {100 * min_visible:.0f}%): most joints are missing", 4)
    C = len(p2)
    for a, b in itertools.combinations(range(C), 2):
        diff = np.abs(p2[a][vis] - p2[b][vis])
        if diff.size and np.nanmax(diff) < 1e-6:
            _warn(diag, f"views {a + 1} and {b + 1} have identical 2D keypoints (the same "
                        "camera twice?): they give no baseline", 4)
    hyp = diag.get("mirror_hypotheses")
    if hyp:
        e = sorted(h["reprojection_px"] for h in hyp)
        if math.isfinite(e[1]) and e[1] < 1.2 * e[0]:
            _warn(diag, f"depth-mirror ambiguity not clearly resolved (reprojection {e[0]:.1f} "
                        f"vs {e[1]:.1f} px for the mirrored hypothesis): the rig may be "
                        "mirrored", 4)


# ------------------------------------------------------------------------------ bundle adjustment
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

    from geometry.cameras import projection_matrix
    from geometry.triangulation import triangulate

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


# ------------------------------------------------------------------------------------ evaluation
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
        from geometry.procrustes import procrustes

        aligned = procrustes(c_est, c_gt, per="frame", method="svd")[0]
    else:
        aligned = c_est * (c_est * c_gt).sum() / max((c_est * c_est).sum(), 1e-300)
    err = np.linalg.norm(aligned - c_gt, axis=-1)
    size = math.sqrt(((c_gt - c_gt.mean(0)) ** 2).sum(-1).mean())
    rel = err / size
    return {"rotation_deg": rot, "rotation_deg_mean": float(rot.mean()), "centre_error": err,
            "centre_error_rel": rel, "centre_error_rel_mean": float(rel.mean())}
