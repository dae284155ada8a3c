"""The linear calibration: rotations from bone directions, translations and points from rays.

See `geometry.calibration` for the method; `calibrate` is the entry point.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from liftbench.geometry.skeletons import H36M17

BONES: tuple[tuple[int, int], ...] = H36M17.bones  # 16 (parent, child) pairs of H36M-17
DENSE_MAX_POINTS = 2000  # the dense solver's (3(M+C))² matrix: ~1 GB at this size
_CHUNK = 16384  # points per vectorised chunk (bounds temporaries to a few tens of MB)

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


