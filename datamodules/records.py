"""The sequence record: one take of one subject/action, seen by V synchronized cameras.

Every dataset reader (synthetic capture, H36M, SportsPose, ...) produces `SequenceRecord`s; the
clip builder (`datamodules/clips.py`) consumes nothing else. Conventions: joints
in H36M-17 order, world coordinates in metres, extrinsics world→camera in the OpenCV camera frame
(+x right, +y down, +z forward), 2D in pixels with the detector confidence as third channel.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np


@dataclass
class SequenceRecord:
    """One synchronized multi-view take.

    Attributes:
        subject: subject id, e.g. `"S1"`.
        action: action label, e.g. `"walk"`.
        take: unique take id within the dataset, e.g. `"walk_S1_00"`.
        fps: frame rate in Hz.
        pose2d: `(V, T, J, 3)` float32 2D keypoints in pixels + confidence in [0, 1].
        K: `(V, 3, 3)` float64 camera intrinsics in pixels.
        R: `(V, T, 3, 3)` float64 world→camera rotation, per frame (moving cameras fit).
        t: `(V, T, 3)` float64 world→camera translation in metres: `X_cam = R @ X_world + t`.
        image_size: `(V, 2)` int64 image `(W, H)` in pixels.
        pose3d_world: `(T, J, 3)` float64 world joints in metres, or None for 2D-only data.
        pose2d_clean: `(V, T, J, 2)` float64 noiseless projection in pixels, or None.
        dist: `(V, 5)` float64 OpenCV distortion `k1, k2, p1, p2, k3`; zeros when absent.
        valid: `(V, T, J)` bool, False where a joint has no usable 2D/3D (e.g. outside the image);
            all True when absent.
        view_names: one name per camera.
        labels: free-form extra labels (e.g. `{"group": "sports"}`).
    """

    subject: str
    action: str
    take: str
    fps: float
    pose2d: np.ndarray
    K: np.ndarray
    R: np.ndarray
    t: np.ndarray
    image_size: np.ndarray
    pose3d_world: np.ndarray | None = None
    pose2d_clean: np.ndarray | None = None
    dist: np.ndarray | None = None
    valid: np.ndarray | None = None
    view_names: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.pose2d = np.asarray(self.pose2d, dtype=np.float32)
        if self.pose2d.ndim != 4 or self.pose2d.shape[-1] != 3:
            raise ValueError(
                f"pose2d must be (V, T, J, 3) px + confidence, got {self.pose2d.shape}"
            )
        v, n, j, _ = self.pose2d.shape
        self.K = _check(self.K, "K", (v, 3, 3), np.float64)
        self.R = _check(self.R, "R", (v, n, 3, 3), np.float64)
        self.t = _check(self.t, "t", (v, n, 3), np.float64)
        self.image_size = _check(self.image_size, "image_size", (v, 2), np.int64)
        if self.pose3d_world is not None:
            self.pose3d_world = _check(self.pose3d_world, "pose3d_world", (n, j, 3), np.float64)
        if self.pose2d_clean is not None:
            self.pose2d_clean = _check(self.pose2d_clean, "pose2d_clean", (v, n, j, 2), np.float64)
        dist = np.zeros((v, 5)) if self.dist is None else self.dist
        self.dist = _check(dist, "dist", (v, 5), np.float64)
        valid = np.ones((v, n, j), bool) if self.valid is None else self.valid
        self.valid = _check(valid, "valid", (v, n, j), np.bool_)
        if not self.view_names:
            self.view_names = tuple(f"cam{i}" for i in range(v))
        if len(self.view_names) != v:
            raise ValueError(f"view_names must have {v} entries, got {len(self.view_names)}")
        if not np.isfinite(self.pose2d).all():
            raise ValueError(f"take {self.take!r}: pose2d contains NaN/inf; mark them in `valid`")
        if self.fps <= 0:
            raise ValueError(f"fps must be > 0, got {self.fps}")

    @property
    def num_views(self) -> int:
        """Number of cameras V."""
        return self.pose2d.shape[0]

    @property
    def num_frames(self) -> int:
        """Number of frames T."""
        return self.pose2d.shape[1]

    @property
    def num_joints(self) -> int:
        """Number of joints J."""
        return self.pose2d.shape[2]

    def pose3d_camera(self) -> np.ndarray:
        """Joints in each camera frame, `(V, T, J, 3)` metres; raises if there is no 3D."""
        if self.pose3d_world is None:
            raise ValueError(f"take {self.take!r} has no 3D (pose3d_world is None)")
        return np.einsum("vtij,tkj->vtki", self.R, self.pose3d_world) + self.t[:, :, None, :]

    def select_views(self, views: list[int] | tuple[int, ...]) -> SequenceRecord:
        """A record restricted to the given camera indices (in that order)."""
        idx = list(views)
        if not idx or min(idx) < 0 or max(idx) >= self.num_views:
            raise ValueError(f"views must index 0..{self.num_views - 1}, got {idx}")
        opt = None if self.pose2d_clean is None else self.pose2d_clean[idx]
        return replace(
            self, pose2d=self.pose2d[idx], K=self.K[idx], R=self.R[idx], t=self.t[idx],
            image_size=self.image_size[idx], pose2d_clean=opt, dist=self.dist[idx],
            valid=self.valid[idx], view_names=tuple(self.view_names[i] for i in idx),
        )


def _check(a: np.ndarray, name: str, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    arr = np.asarray(a, dtype=dtype)
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    return arr


def group_synchronized(records: list[SequenceRecord]) -> list[SequenceRecord]:
    """Merge single-camera records of the same (subject, action, take) into multi-view records.

    Readers that store one file per camera call this to get synchronized multi-view records.
    The views of one take must agree on the frame count, fps and (if present) the 3D.

    Args:
        records: records whose `(subject, action, take)` identify the take; each may hold
            one or more views.

    Returns:
        One record per take, views concatenated in input order.
    """
    groups: dict[tuple[str, str, str], list[SequenceRecord]] = {}
    for rec in records:
        groups.setdefault((rec.subject, rec.action, rec.take), []).append(rec)
    out = []
    for key, recs in groups.items():
        first = recs[0]
        for r in recs[1:]:
            if r.num_frames != first.num_frames or r.fps != first.fps:
                raise ValueError(
                    f"take {key}: views disagree on frames/fps "
                    f"({r.num_frames}@{r.fps} vs {first.num_frames}@{first.fps})"
                )
            both = r.pose3d_world is not None and first.pose3d_world is not None
            if both and not np.allclose(r.pose3d_world, first.pose3d_world, atol=1e-6):
                raise ValueError(f"take {key}: views carry different 3D; not synchronized")
        cat = lambda name, recs=recs: np.concatenate([getattr(r, name) for r in recs])  # noqa: E731
        clean = None if any(r.pose2d_clean is None for r in recs) else cat("pose2d_clean")
        out.append(
            SequenceRecord(
                subject=first.subject, action=first.action, take=first.take, fps=first.fps,
                pose2d=cat("pose2d"), K=cat("K"), R=cat("R"), t=cat("t"),
                image_size=cat("image_size"), pose3d_world=first.pose3d_world,
                pose2d_clean=clean, dist=cat("dist"), valid=cat("valid"),
                view_names=tuple(n for r in recs for n in r.view_names), labels=dict(first.labels),
            )
        )
    return out
