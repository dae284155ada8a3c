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

The synthetic DataModule caches multi-view *clips* (T-frame windows of V-camera combinations);
`takes_from_clips` rebuilds each take's synchronized C-camera sequences from those arrays and
`labels_for_clips` maps per-take labels back onto the clips. Ground-truth figures of a pass are in
`bench/pseudolabel_metrics.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from liftbench.datamodules.clips import GROUND_TRUTH_KEYS, view_groups
from liftbench.geometry.calibration import calibrate
from liftbench.geometry.cameras import camera_to_25d, projection_matrix, undistort_points
from liftbench.geometry.skeletons import ROOT
from liftbench.geometry.triangulation import triangulate
from liftbench.models.flip import flip_average


@dataclass
class MultiViewTake:
    """One take seen by C synchronized cameras over N frames (rebuilt from cached clips).

    Attributes:
        take: take index in the cache (`take` array).
        inputs: `(C, N, J, 3)` lifter input (normalised 2D + confidence).
        pose2d_px: `(C, N, J, 3)` pixels + confidence.
        K: `(C, 3, 3)` intrinsics.
        image_size: `(C, 2)` `(W, H)`.
        dist: `(C, 5)` OpenCV distortion.
        action: action index.
        gt: ground truth for evaluation only (never for labels): `R (C, 3, 3)`, `t (C, 3)`
            (frame 0), `static` (bool), `pose3d_world (N, J, 3)` m, `target (C, N, J, 3)` 2.5D,
            `factor (C, N)`, `target_mm (C, N, J, 3)`; empty when the cache has none.
    """

    take: int
    inputs: np.ndarray
    pose2d_px: np.ndarray
    K: np.ndarray
    image_size: np.ndarray
    dist: np.ndarray
    action: int
    gt: dict[str, Any] = field(default_factory=dict)

    @property
    def num_cameras(self) -> int:
        """C."""
        return self.inputs.shape[0]

    @property
    def num_frames(self) -> int:
        """N."""
        return self.inputs.shape[1]


@dataclass
class ClipIndex:
    """Where each cached clip comes from: `(S,)` take, window start frame, `(S, V)` cameras."""

    take: np.ndarray
    start: np.ndarray
    cameras: np.ndarray


def load_clip_arrays(folder: str | Path) -> dict[str, np.ndarray]:
    """The cached clip arrays of one set (`<cache>/<set>/*.npy`), including `take`."""
    folder = Path(folder)
    files = sorted(folder.glob("*.npy"))
    if not files:
        raise FileNotFoundError(f"no cached clip arrays (*.npy) in {folder}")
    return {p.stem: np.load(p) for p in files}


def takes_from_clips(
    arrays: dict[str, np.ndarray], cameras: int, stride: int
) -> tuple[list[MultiViewTake], ClipIndex]:
    """Rebuild synchronized multi-view takes from multi-view clip arrays (`build_clips` output).

    `build_clips` orders each take's samples window-major, then camera combination
    (`view_groups(cameras, V)`), windows starting every `stride` frames; this inverts that and
    checks it (overlapping windows must agree, each camera's intrinsics must be constant).

    Args:
        arrays: clip arrays with a view axis (`input (S, V, T, J, 3)`, `pose2d_px`, `K`,
            `image_size`, `dist`, `take`, `action`; ground-truth keys are kept for evaluation).
        cameras: cameras per take (the DataModule's `cameras`).
        stride: frames between window starts (the DataModule's training stride).

    Returns:
        `(takes, index)`; `index` maps every clip sample to its take, start frame and cameras.

    Raises:
        ValueError: single-view arrays, or arrays not laid out as described.
    """
    x = arrays["input"]
    if x.ndim != 5:
        raise ValueError(
            f"pseudo-labels need multi-view clips: input must be (S, V, T, J, 3), got {x.shape} "
            "(set data.kwargs.views >= 2)"
        )
    S, V, T = x.shape[:3]
    groups = np.asarray(view_groups(cameras, V))
    G = len(groups)
    takes: list[MultiViewTake] = []
    idx_take, idx_start, idx_cams = np.empty(S, np.int64), np.empty(S, np.int64), np.empty(
        (S, V), np.int64)
    for take in np.unique(arrays["take"]):
        samples = np.flatnonzero(arrays["take"] == take)
        if len(samples) % G:
            raise ValueError(
                f"take {take}: {len(samples)} clips is not a multiple of the {G} camera "
                f"combinations of {cameras} cameras x {V} views (wrong `cameras`?)"
            )
        windows = len(samples) // G
        N = (windows - 1) * stride + T
        seq: dict[str, np.ndarray] = {}
        for key in ("pose2d_px", "input", "target", "target_mm", "factor", "R", "t"):
            if key in arrays:
                seq[key] = np.full((cameras, N) + arrays[key].shape[3:], np.nan)
        world = np.full((N,) + arrays["pose3d_world"].shape[2:], np.nan) \
            if "pose3d_world" in arrays else None
        K = np.full((cameras, 3, 3), np.nan)
        size = np.zeros((cameras, 2), np.int64)
        dist = np.zeros((cameras, arrays["dist"].shape[-1])) if "dist" in arrays else None
        for k, s in enumerate(samples):
            w, g = divmod(k, G)
            frames = slice(w * stride, w * stride + T)
            idx_take[s], idx_start[s], idx_cams[s] = take, w * stride, groups[g]
            for v, cam in enumerate(groups[g]):
                for key, out in seq.items():
                    prev = out[cam, frames]
                    new = arrays[key][s, v].astype(np.float64)
                    seen = np.isfinite(prev)
                    if key in ("pose2d_px", "input") and not np.allclose(
                            prev[seen], new[seen], atol=1e-4):
                        raise ValueError(
                            f"take {take}: overlapping clips disagree for camera {cam}; the "
                            f"cached clips were not cut with stride={stride} (or the take is "
                            "shorter than one clip)" if key == "pose2d_px" else
                            f"take {take}: the clips' 2D inputs are normalised per clip; "
                            "pseudo-labelling lifts whole sequences and needs "
                            "normalisation='width'"
                        )
                    out[cam, frames] = new
                if np.isnan(K[cam]).all():
                    K[cam], size[cam] = arrays["K"][s, v], arrays["image_size"][s, v]
                    if dist is not None:
                        dist[cam] = arrays["dist"][s, v]
                elif not np.allclose(K[cam], arrays["K"][s, v], rtol=1e-5):
                    raise ValueError(f"take {take}: camera {cam} has varying intrinsics")
            if world is not None:
                world[frames] = arrays["pose3d_world"][s]
        if np.isnan(K).any() or np.isnan(seq["input"]).any():
            raise ValueError(f"take {take}: some camera or frame is never covered by a clip")
        gt: dict[str, Any] = {}
        if "R" in seq and "t" in seq:
            gt["R"], gt["t"] = seq["R"][:, 0], seq["t"][:, 0]
            gt["static"] = bool(np.allclose(seq["R"], seq["R"][:, :1], atol=1e-6)
                                and np.allclose(seq["t"], seq["t"][:, :1], atol=1e-6))
        for key in ("target", "target_mm", "factor"):
            if key in seq:
                gt[key] = seq[key]
        if world is not None:
            gt["pose3d_world"] = world
        takes.append(MultiViewTake(
            take=int(take), inputs=seq["input"], pose2d_px=seq["pose2d_px"], K=K,
            image_size=size, dist=dist if dist is not None else np.zeros((cameras, 5)),
            action=int(arrays["action"][samples[0]]) if "action" in arrays else 0, gt=gt,
        ))
    return takes, ClipIndex(idx_take, idx_start, idx_cams)


@torch.no_grad()
def lift_views(
    lifter: torch.nn.Module, inputs: np.ndarray, flip: bool = True, batch_size: int = 256
) -> np.ndarray:
    """Lift whole sequences of several views, window by window, on the lifter's device.

    Windows of the lifter's T (`max_frames`; the whole sequence for frame-wise lifters) are
    laid end to end, the last one aligned to the sequence end (as `bench.predict.lift_sequence`).

    Args:
        lifter: a lifter (put in eval mode by the caller).
        inputs: `(C, N, J, 3)` normalised 2D + confidence.
        flip: test-time flip averaging.
        batch_size: windows per forward pass.

    Returns:
        `(C, N, J, 3)` root-relative 2.5D predictions (float64).
    """
    C, N = inputs.shape[:2]
    win = min(getattr(lifter, "max_frames", None) or N, N)
    starts = list(range(0, N - win + 1, win))
    if starts[-1] + win < N:
        starts.append(N - win)
    param = next(iter([*lifter.parameters(), *lifter.buffers()]), torch.zeros(()))
    clips = np.stack([inputs[:, s : s + win] for s in starts], 1)  # (C, W, win, J, 3)
    flat = torch.as_tensor(clips.reshape((-1,) + clips.shape[2:]), dtype=param.dtype,
                           device=param.device)
    outs = []
    for chunk in flat.split(batch_size):
        pred = flip_average(lifter, chunk) if flip else lifter(chunk)
        outs.append(pred - pred[..., ROOT : ROOT + 1, :])
    pred = torch.cat(outs).double().cpu().numpy().reshape(clips.shape)
    out = np.zeros(inputs.shape[:2] + pred.shape[-2:])
    for i, s in enumerate(starts):
        out[:, s : s + win] = pred[:, i]  # the end-aligned window overwrites only the tail
    return out


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


def labels_for_clips(
    index: ClipIndex, per_take: dict[int, np.ndarray], frames: int
) -> np.ndarray:
    """Map per-take `(C, N, ...)` arrays onto the clips: `(S, V, T, ...)`."""
    first = next(iter(per_take.values()))
    S, V = index.cameras.shape
    out = np.empty((S, V, frames) + first.shape[2:], dtype=first.dtype)
    window = np.arange(frames)
    for take, arr in per_take.items():
        rows = np.flatnonzero(index.take == take)
        f = index.start[rows][:, None] + window  # (s, T)
        out[rows] = arr[index.cameras[rows][:, :, None], f[:, None, :]]
    return out


def strip_ground_truth(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The arrays without the 3D ground-truth keys (what label-free training may see)."""
    return {k: v for k, v in arrays.items() if k not in GROUND_TRUTH_KEYS}
