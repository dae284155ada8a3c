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

from liftbench.geometry.calibration.bundle import bundle_adjust_extrinsics
from liftbench.geometry.calibration.checks import CalibrationWarning
from liftbench.geometry.calibration.errors import extrinsic_errors, rotation_angle_deg
from liftbench.geometry.calibration.linear import (
    BONES,
    DENSE_MAX_POINTS,
    bone_directions,
    cheirality_counts,
    dense_system,
    nearest_rotation,
    orthogonality_error,
    points_given_extrinsics,
    rays,
    rotations_from_directions,
    schur_system,
    translations,
)
from liftbench.geometry.calibration.solve import calibrate

__all__ = [
    "BONES",
    "DENSE_MAX_POINTS",
    "CalibrationWarning",
    "bone_directions",
    "bundle_adjust_extrinsics",
    "calibrate",
    "cheirality_counts",
    "dense_system",
    "extrinsic_errors",
    "nearest_rotation",
    "orthogonality_error",
    "points_given_extrinsics",
    "rays",
    "rotation_angle_deg",
    "rotations_from_directions",
    "schur_system",
    "translations",
]
