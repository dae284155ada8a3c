"""Reader of the MotionBERT "source pkl" format, shared by several datasets.

MotionBERT, MotionAGFormer and KASportsFormer train from one pickle `{"train": {...}, "test":
{...}}` of frame-aligned arrays: `joint_2d (N, 17, 2)` px, optional `confidence`,
`joint3d_image (N, 17, 3)` (GT pixel projection + root-relative depth in pixel units),
`source (N,)` (consecutive equal ids = one video), optional `camera_name`, `action`,
`2.5d_factor` λ (mm per pixel unit). It holds image-plane 2.5D, not camera 3D; `read_pkl`
rebuilds camera-frame joints with `from_image_25d` so that the project's 2.5D target of the
record equals the file's normalised label exactly. One single-view record per video.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from liftbench.datamodules.real.reader_helpers import check_person_scale
from liftbench.datamodules.records import SequenceRecord
from liftbench.datamodules.safe_pickle import load_pickle
from liftbench.geometry.skeletons import bone_lengths

# Sum of the 16 H36M-17 bone lengths of an average adult (mm, measured on H36M frames); sets
# the mm scale of videos whose frames carry no `2.5d_factor` (train splits).
MEAN_BONE_SUM_MM = 4100.0


@dataclass
class VideoInfo:
    """What a dataset says about one video of a pkl: ids, camera intrinsics, image size."""

    subject: str
    action: str
    take: str
    view: str
    K: np.ndarray
    image_size: tuple[int, int]
    fps: float


def virtual_intrinsics(width: int, height: int) -> np.ndarray:
    """A plausible pinhole K (f = W, centred) for pkls whose camera is not known.

    Any K reproduces the normalised 2.5D label exactly; K only sets the size of the
    weak-perspective term in `target_mm` (see `geometry.cameras.camera_to_25d`).
    """
    return np.array([[width, 0.0, width / 2], [0.0, width, height / 2], [0.0, 0.0, 1.0]])


def from_image_25d(img: np.ndarray, lam: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Camera-frame metres `(T, J, 3)` from image 2.5D `(T, J, 3)` and λ `(T,)` (mm/px).

    The root depth `Z_root = λ·fx` makes `camera_to_25d` of the result return exactly the
    normalised label: x, y re-project onto `(u, v)` and `z = z_px·2/W`.
    """
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    z = (lam * fx)[:, None] + img[..., 2] * lam[:, None]
    x = (img[..., 0] - cx) * z / fx
    y = (img[..., 1] - cy) * z / fy
    return np.stack([x, y, z], -1) / 1000.0


def read_pkl(
    path: str | Path,
    describe: Callable[[str, str, dict], VideoInfo | None],
    source_2d: str = "gt",
) -> Iterator[SequenceRecord]:
    """Single-view records of a MotionBERT-format pkl.

    Args:
        path: the `.pkl` file.
        describe: `(source id, "train"|"test", {key: value at the video's first frame})` →
            the video's `VideoInfo`, or None to skip the video.
        source_2d: `"gt"` (`joint3d_image[..., :2]`) or `"dataset"` (`joint_2d` + confidence).

    Yields:
        Records (camera frame = world frame) with `labels={"pkl_split", "source"}`.
    """
    if source_2d not in ("gt", "dataset"):
        raise ValueError(f"source_2d must be 'gt' or 'dataset', got {source_2d!r}")
    path = Path(path)
    data = load_pickle(path)
    if not isinstance(data, dict) or not {"train", "test"} & set(data):
        raise ValueError(f"{path}: expected a dict with 'train'/'test' (MotionBERT format)")
    for split in ("train", "test"):
        d = data.get(split, {})
        if len(d.get("source", ())) == 0:
            continue
        for key in ("joint_2d", "joint3d_image"):
            if key not in d:
                raise ValueError(f"{path}: {split} has no {key!r} (keys: {sorted(d)})")
        j2d = np.asarray(d["joint_2d"], dtype=np.float64)
        img = np.asarray(d["joint3d_image"], dtype=np.float64)
        n = len(img)
        if img.shape != (n, 17, 3) or j2d.shape != (n, 17, 2):
            raise ValueError(
                f"{path}: {split} joint3d_image must be (N, 17, 3) and joint_2d (N, 17, 2), "
                f"got {img.shape} and {j2d.shape}"
            )
        conf = np.asarray(d.get("confidence", np.ones((n, 17))), np.float64).reshape(n, 17)
        lam_all = np.asarray(d["2.5d_factor"], np.float64).reshape(n) \
            if "2.5d_factor" in d else None
        source = np.asarray(d["source"]).astype(str)
        extra = {k: np.asarray(d[k]) for k in ("camera_name", "action") if k in d}
        starts = np.flatnonzero(np.concatenate([[True], source[1:] != source[:-1]]))
        for a, b in zip(starts, np.append(starts[1:], n)):
            info = describe(str(source[a]), split, {k: v[a] for k, v in extra.items()})
            if info is None:
                continue
            seg = img[a:b]
            if lam_all is not None:
                lam = lam_all[a:b]
            else:
                lam = np.full(b - a, MEAN_BONE_SUM_MM / np.median(bone_lengths(seg).sum(-1)))
            cam3d = from_image_25d(seg, lam, info.K)
            check_person_scale(cam3d, f"{path}:{source[a]}")
            uv = seg[..., :2] if source_2d == "gt" else j2d[a:b]
            c = np.ones((b - a, 17, 1)) if source_2d == "gt" else conf[a:b, :, None]
            yield SequenceRecord(
                subject=info.subject, action=info.action, take=info.take, fps=info.fps,
                pose2d=np.concatenate([uv, c], -1)[None], K=info.K[None],
                R=np.broadcast_to(np.eye(3), (1, b - a, 3, 3)), t=np.zeros((1, b - a, 3)),
                image_size=np.array([info.image_size]), pose3d_world=cam3d,
                pose2d_clean=seg[None, ..., :2], view_names=(info.view,),
                labels={"pkl_split": split, "source": str(source[a])},
            )
