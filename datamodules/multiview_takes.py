"""Synchronized multi-view takes rebuilt from a DataModule's cached multi-view clips.

A multi-view DataModule caches T-frame windows of V-camera combinations; label-free regimes that
work on whole takes (pseudo-labelling: lift every camera, calibrate, triangulate) need each take's
C synchronized camera sequences back. `takes_from_clips` inverts the clip layout of
`datamodules.clips.build_clips` (and checks it); `labels_for_clips` maps per-take arrays back onto
the clips. `ClipDataModule.multiview_takes` is the public way in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from liftbench.datamodules.clips import view_groups


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
