"""`calibrate`: the whole calibration of C cameras from one person's motion."""

from __future__ import annotations

from typing import Any

import numpy as np

from liftbench.geometry.calibration.bundle import bundle_adjust_extrinsics
from liftbench.geometry.calibration.checks import _health_checks, _PoseSpace, _resolve_mirror, _warn
from liftbench.geometry.calibration.linear import (
    BONES,
    _check_inputs,
    _linear,
    _visible,
    bone_directions,
    orthogonality_error,
    points_given_extrinsics,
    rays,
)
from liftbench.geometry.calibration.ransac import _ransac, _reprojection_px


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
    solution = None
    if resolve_mirror:
        flipped, diag["mirror_hypotheses"], solution = _resolve_mirror(
            pose, vis, n, K, bones, solver, planar_tol, orthonormalize)
        p3 = pose.camera(flipped)
    diag["mirrored_views"] = [int(c) for c in np.flatnonzero(flipped)]
    dirs = solution[0] if solution is not None else bone_directions(p3, vis, bones)[0]
    if ransac:
        rng = np.random.default_rng(seed)
        in_dirs, in_pts, rdiag = _ransac(
            dirs, n, K, solver, planar_tol, orthonormalize, int(ransac_iterations),
            int(ransac_sample), ransac_threshold_px, ransac_threshold_deg, rng,
        )
        diag.update(rdiag)
        R, t, _, ldiag = _linear(dirs[:, in_dirs], n[:, in_pts], solver, planar_tol,
                                 orthonormalize)
    elif solution is not None:  # the mirror check already solved the chosen hypothesis
        R, t, _, ldiag = solution[1]
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


