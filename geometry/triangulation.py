"""Confidence-weighted linear (DLT) triangulation from any number of calibrated views.

This is the pseudo-label triangulation of Suzuki et al. (official code,
`common/utils.py::triangulate_with_conf`): for every point, each usable view `c` with pixel
`(u, v)`, confidence `s` and projection `P_c` (rows `P1, P2, P3`) contributes the two rows
`s·(u·P3 − P1)` and `s·(v·P3 − P2)` of an inhomogeneous system `A·X = b` (the fourth column moved
to the right-hand side), solved in the least-squares sense — weighted least squares with
weights `s²` on the algebraic error.

Solver: a batched SVD of the `(2V, 3)` weighted system per point (`X = V·Σ⁻¹·Uᵀ·b`), one call
for all points, no Python loop. The normal equations (`AᵀA`, 3×3 or 4×4) would be cheaper but
square the condition number; with pixel-scale projection matrices that costs about half the
significant digits, enough to make float32 results useless for near-parallel views.

Deviations from the official code (both deliberate): views whose pixel or confidence is NaN are
treated as unusable instead of poisoning the solve, and a numerically rank-deficient system
(e.g. all usable cameras sharing one centre) yields NaN instead of raising, so a single bad
point cannot abort a whole pseudo-labelling pass.
"""

from __future__ import annotations

import numpy as np
import torch

from liftbench.geometry._validate import Array, as_floats, check_finite, shape_error, where


def triangulate(
    points_2d: Array,
    confidence: Array,
    projections: Array,
    min_views: int = 2,
    conf_threshold: float = 0.0,
    rcond: float | None = None,
) -> Array:
    """Triangulate points seen in `V` views, weighting each view by its 2D confidence.

    Args:
        points_2d: `(V, ..., 2)` pixel coordinates per view (NaN = not observed).
        confidence: `(V, ...)` detector confidence per view and point (NaN = not observed).
        projections: `(V, 3, 4)` pixel projection matrices `K[R | t]` (world → pixels), or
            `(V, ..., 3, 4)` per-frame matrices broadcastable against the points' `...` dims.
        min_views: a point needs at least this many usable views (confidence
            `> conf_threshold`, finite confidence and pixel), otherwise it is NaN. At least 2.
        conf_threshold: views with confidence `<= conf_threshold` are ignored.
        rcond: points whose weighted system has `σ_min <= rcond·σ_max` are NaN (degenerate
            geometry); default `1000·eps` of the dtype.

    Returns:
        `(..., 3)` world points in the unit of the projections' translation; numpy or torch as
        given (differentiable in torch wherever the result is finite).

    Raises:
        ValueError: mismatched or empty shapes, non-finite projections, `min_views < 2`.
    """
    if int(min_views) < 2:
        raise ValueError(f"min_views must be >= 2 (one view cannot fix depth), got {min_views}")
    (x, conf, P), use_torch = as_floats(
        points_2d=points_2d, confidence=confidence, projections=projections
    )
    _check_shapes(x, conf, P)
    check_finite("projections", P)
    V, batch = x.shape[0], tuple(x.shape[1:-1])
    if P.ndim == 3:
        P = P.reshape((V,) + (1,) * len(batch) + (3, 4))
    lib = torch if use_torch else np
    try:
        lead = tuple(lib.broadcast_shapes(tuple(P.shape[1:-2]), batch))
    except (RuntimeError, ValueError) as err:
        raise shape_error(
            "projections", P, f"(V, 3, 4) or (V, ..., 3, 4) broadcastable to {(V, *batch)}"
        ) from err
    if lead != batch:
        raise shape_error("projections", P, f"(V, 3, 4) or (V, ..., 3, 4) matching {(V, *batch)}")

    usable = (conf > conf_threshold) & lib.isfinite(conf) & lib.isfinite(x).all(-1)
    # unusable views get weight 0 and pixel 0: NaN must not reach the solve (0·NaN = NaN)
    weight = where(usable, conf, lib.zeros_like(conf))
    x = where(usable[..., None], x, lib.zeros_like(x))

    # rows (V, ..., 2, 4): u·P3 − P1 and v·P3 − P2, times the view's confidence
    rows = x[..., :, None] * P[..., 2:3, :] - P[..., :2, :]
    rows = rows * weight[..., None, None]
    A = _views_last(rows, lib)  # (..., 2V, 4)
    n_views = usable.sum(0)
    enough = n_views >= int(min_views)
    return _solve(A, enough, rcond, lib)


def _check_shapes(x: Array, conf: Array, P: Array) -> None:
    if x.ndim < 2 or x.shape[-1] != 2 or 0 in tuple(x.shape):
        raise shape_error("points_2d", x, "(V, ..., 2) with V >= 1")
    if tuple(conf.shape) != tuple(x.shape[:-1]):
        raise shape_error("confidence", conf, f"(V, ...) = {tuple(x.shape[:-1])} like points_2d")
    if P.ndim < 3 or tuple(P.shape[-2:]) != (3, 4) or P.shape[0] != x.shape[0]:
        raise shape_error("projections", P, f"(V, 3, 4) with V = {x.shape[0]} like points_2d")


def _views_last(rows: Array, lib: object) -> Array:
    """`(V, ..., 2, 4)` → `(..., 2V, 4)`."""
    V = rows.shape[0]
    if lib is torch:
        moved = torch.movedim(rows, 0, -3)
    else:
        moved = np.moveaxis(rows, 0, -3)
    return moved.reshape(tuple(moved.shape[:-3]) + (2 * V, 4))


def _solve(A: Array, enough: Array, rcond: float | None, lib: object) -> Array:
    """Least-squares `A[..., :3]·X = −A[..., 3]` per point; NaN where not `enough` or degenerate."""
    M, b = A[..., :3], -A[..., 3]
    # Points that are not solvable get a well-conditioned stand-in system with distinct
    # singular values (1, 2, 3), so the SVD and its backward pass stay finite for them
    # (repeated or zero singular values make the SVD gradient NaN, and the projections'
    # gradient is shared by all points); their result is replaced by NaN at the end.
    dummy = lib.zeros_like(M)
    for i in range(min(3, M.shape[-2])):
        dummy[..., i, i] = i + 1
    M = where(enough[..., None, None], M, dummy)
    if lib is torch:
        with torch.no_grad():
            S0 = torch.linalg.svdvals(M)
        eps = torch.finfo(M.dtype).eps
    else:
        S0 = np.linalg.svd(M, compute_uv=False)
        eps = np.finfo(M.dtype).eps
    tol = (1000 * eps if rcond is None else rcond) * S0[..., 0]
    ok = enough & (S0[..., -1] > tol) if M.shape[-2] >= 3 else enough & False
    M = where(ok[..., None, None], M, dummy)
    U, S, Vh = lib.linalg.svd(M, full_matrices=False)
    Utb = (U * b[..., :, None]).sum(-2)  # (..., 3): Uᵀb
    X = ((Utb / S)[..., :, None] * Vh).sum(-2)  # V Σ⁻¹ Uᵀ b
    return where(ok[..., None], X, float("nan"))
