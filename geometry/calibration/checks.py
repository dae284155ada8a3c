"""Pose space (2.5D or camera 3D), depth-mirror resolution and health warnings of a calibration."""

from __future__ import annotations

import itertools
import math
import warnings
from typing import Any

import numpy as np

from liftbench.geometry.calibration.linear import (
    _linear,
    bone_directions,
    rotations_from_directions,
)
from liftbench.geometry.calibration.ransac import _reprojection_px


class CalibrationWarning(UserWarning):
    """A calibration that ran but whose result may be unreliable (e.g. a close cheirality vote)."""



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
            from liftbench.geometry.cameras import camera_from_25d

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
) -> tuple[np.ndarray, list[dict[str, Any]], tuple | None]:
    """Which views to depth-mirror: the consistent hypothesis with the lower reprojection error.

    Returns `(flipped (C,) bool, hypotheses, solution)`: `solution` is the chosen hypothesis'
    `(dirs, _linear(...) result)`, so the caller need not solve it again (None if neither
    hypothesis could be solved; the caller's own solve then raises the error).

    Mirroring one view's depth reflects its bone directions, so its relative rotation comes out
    improper (`det < 0`); the views are made consistent with camera 1 (hypothesis A) or against
    it (B, the complement). If every view is mirrored the dets are all positive but A's
    rotations are wrong: the rays (translations, points) only fit the right one.
    """
    C = len(n)
    dirs, _ = bone_directions(pose.camera(np.zeros(C, dtype=bool)), vis, bones)
    R, _ = rotations_from_directions(dirs, planar_tol)
    odd = np.linalg.det(R) < 0
    hypotheses, solutions = [], []
    for flip in (odd, ~odd):
        d, _ = bone_directions(pose.camera(flip), vis, bones)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                solved = _linear(d, n, solver, planar_tol, orthonormalize)
            err = float(np.nanmean(_reprojection_px(n, K, *solved[:3])))
        except (ValueError, np.linalg.LinAlgError):
            err, solved = math.inf, None
        hypotheses.append({"flipped_views": [int(c) for c in np.flatnonzero(flip)],
                           "reprojection_px": err if math.isfinite(err) else math.inf})
        solutions.append(None if solved is None else (d, solved))
    best = 0 if not hypotheses[1]["reprojection_px"] < hypotheses[0]["reprojection_px"] else 1
    return (odd, ~odd)[best], hypotheses, solutions[best]


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


