"""Pseudo-labels from synchronized multi-view 2D (Suzuki et al., CVPRW 2024).

One pass: lift every view of a take with the current lifter (flip TTA) → calibrate the take's
cameras from the lifted bone directions (`geometry.calibration.calibrate`) → confidence-weighted
triangulation of every joint (`geometry.triangulate`) → the triangulated points in each
camera's frame → the scale-free 2.5D target (README "Conventions"; `geometry.camera_to_25d`).

Deviation (an improvement over the official code): the official pseudo-labels
stay in calibration units (camera-1 ↔ camera-2 baseline = 1), so fine-tuning also re-scales the
network away from its pre-training units. The 2.5D convention is a ratio (`(Z − Z_root)·f/Z_root`),
so an up-to-scale reconstruction gives exactly the label a metric one would: the pseudo-labels
live in the lifter's own units and need no scale prior.

The takes arrive from the DataModule (`ClipDataModule.multiview_takes`, built by
`datamodules.multiview_takes`, whose names are re-exported here). Ground-truth figures of a
pass are in `bench/pseudolabel_metrics.py`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from liftbench.bench.sequence_lifting import lift_windows, windowing
from liftbench.datamodules.clips import GROUND_TRUTH_KEYS
from liftbench.datamodules.multiview_takes import (  # noqa: F401  (re-exported)
    ClipIndex,
    MultiViewTake,
    labels_for_clips,
    load_clip_arrays,
    takes_from_clips,
)
from liftbench.geometry.calibration import calibrate
from liftbench.geometry.cameras import camera_to_25d, projection_matrix, undistort_points
from liftbench.geometry.skeletons import ROOT
from liftbench.geometry.triangulation import triangulate
from liftbench.models.flip import flip_average


def lift_views(
    lifter: torch.nn.Module, inputs: np.ndarray, flip: bool = True, batch_size: int = 256
) -> np.ndarray:
    """Lift whole sequences of several views with a bare lifter, on the lifter's device.

    A regime lifts with its own `predict_sequence` (the pseudo-label passes do); this is the same
    windowing (`bench.sequence_lifting.lift_windows`) for a plain `nn.Module` lifter.

    Args:
        lifter: a lifter (put in eval mode by the caller).
        inputs: `(C, N, J, 3)` normalised 2D + confidence.
        flip: test-time flip averaging.
        batch_size: windows per forward pass.

    Returns:
        `(C, N, J, 3)` root-relative 2.5D predictions (float64).
    """
    def predict(x: torch.Tensor) -> torch.Tensor:
        pred = flip_average(lifter, x) if flip else lifter(x)
        return pred - pred[..., ROOT : ROOT + 1, :]

    return lift_windows(predict, inputs, batch_size=batch_size, **windowing(lifter))


def pseudo_labels(
    take: MultiViewTake, lifted: np.ndarray, calibration: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Calibrate a take from its lifted views, triangulate, and express per-camera 2.5D labels.

    Args:
        take: the take (2D, intrinsics; its ground truth is not used here).
        lifted: `(C, N, J, 3)` each view's monocular 2.5D prediction (root-relative).
        calibration: keyword arguments of `geometry.calibration.calibrate` (`pose_space` is
            `"2.5d"` with the take's image sizes unless given).

    Returns:
        `{"labels" (C, N, J, 3) 2.5D (NaN where not triangulated), "valid" (C, N, J) bool,
        "R" (C, 3, 3), "t" (C, 3) (world = camera 1, baseline units), "world" (N, J, 3)
        triangulated joints in calibration units, "diagnostics"}`.
    """
    px, conf = take.pose2d_px[..., :2], take.pose2d_px[..., 2]
    if np.abs(take.dist).max() > 0:
        px = undistort_points(px, take.K[:, None, None], take.dist[:, None, None])
    # the lifter's output is 2.5D (x, y are image offsets): calibrating from it as if it were
    # camera-frame 3D bends every bone direction off the optical axis, and fed back through the
    # labels that error compounds (a perfect lifter drifted ~1.7 deg per iteration)
    kwargs = {"pose_space": "2.5d", "image_size": take.image_size, **(calibration or {})}
    R, t, diag = calibrate(lifted, px, conf, take.K, **kwargs)
    world = triangulate(px, conf, projection_matrix(take.K, R, t))  # (N, J, 3)
    cam = np.einsum("cij,nkj->cnki", R, world) + t[:, None, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        labels, _ = camera_to_25d(_at_detected_root(cam, px, take.K), take.K[:, None],
                                  take.image_size[:, None].astype(float))
        # a joint behind a camera or a root not triangulated gives no label
        labels = np.where((cam[..., 2:3] > 0) & (cam[:, :, ROOT : ROOT + 1, 2:3] > 0),
                          labels, np.nan)
    valid = np.isfinite(labels).all(-1)
    return {"labels": labels, "valid": valid, "R": R, "t": t, "world": world,
            "diagnostics": diag}


def _at_detected_root(cam: np.ndarray, px: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Translate each camera's triangulated skeleton so its root lies on the detected root ray.

    The calibration reads a 2.5D pose (which has no absolute position) placed at the detected
    root pixel, the same pixel the lifter saw. A label expressed around the triangulated root's
    *projection* instead would be read back shifted by the root's reprojection residual, i.e.
    rotated about the camera centre by residual/f: fed back every iteration, that bias drifts
    the rig (~0.03 deg per iteration with detector 2D). A translation keeps every bone
    direction, so a perfect lifter's labels reproduce the calibration exactly (a fixed point).
    Frames whose root was not detected are left as triangulated.

    Args:
        cam: `(C, N, J, 3)` camera-frame triangulated joints.
        px: `(C, N, J, 2)` undistorted detected pixels.
        K: `(C, 3, 3)` intrinsics.

    Returns:
        `(C, N, J, 3)` the skeletons, root at its own depth on the detected root's ray.
    """
    root = cam[:, :, ROOT]  # (C, N, 3)
    uv1 = np.concatenate([px[:, :, ROOT], np.ones(px.shape[:2] + (1,))], -1)
    ray = np.einsum("cij,cnj->cni", np.linalg.inv(K), uv1)  # z = 1
    shift = ray * root[..., 2:3] - root
    shift = np.where(np.isfinite(shift), shift, 0.0)
    return cam + shift[:, :, None]


def strip_ground_truth(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The arrays without the 3D ground-truth keys (what label-free training may see)."""
    return {k: v for k, v in arrays.items() if k not in GROUND_TRUTH_KEYS}
