"""Human3.6M readers: VideoPose3D npz, MotionBERT-style pkl and mmpose body3d npz.

Formats:

- VideoPose3D `data_3d_h36m.npz` (`positions_3d[S][action]` `(T, 32, 3)` world metres) with
  optional `data_2d_h36m_<det>.npz` (`positions_2d[S][action][cam]` `(T_c, 17, 2)` px) and the
  camera parameters, from mmpose's `cameras.pkl` (`{(S, cam id): {R, T cam→world m, f, c, k,
  p}}`) or a VideoPose3D-style `cameras.json` (`{"intrinsics": {id: {center, focal_length,
  radial_distortion, tangential_distortion, res_w, res_h}}, "extrinsics": {S: [{orientation
  [w, x, y, z] cam→world, translation mm}] in camera order}}`). Records: 4 synchronized views.
- MotionBERT `h36m_*_source_final.pkl` (`train`/`test` dicts of frame arrays): one
  single-view record per `source` run, read by `datamodules.motionbert_format` with the
  camera's real intrinsics.
- mmpose `h36m_{train,test}.npz` (`imgname`, `part (N, 17, 3)` px, `S (N, 17, 4)` camera m) +
  `cameras.pkl`.

2D from the ground truth goes through H36M's own lens model (`distort_normalized_h36m`); the
records' OpenCV `dist` holds the closest OpenCV coefficients (k1, k2, p2, p1, k3), good to
~0.3 px (geometry/distortion.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from liftbench.datamodules.motionbert_format import VideoInfo, read_pkl
from liftbench.datamodules.real.reader_helpers import check_person_scale
from liftbench.datamodules.records import SequenceRecord
from liftbench.datamodules.safe_pickle import load_npz, load_pickle
from liftbench.geometry.cameras import distort_normalized_h36m, normalized_to_pixels
from liftbench.geometry.skeletons import convert

FPS = 50.0
CAMERA_IDS = ("54138969", "55011271", "58860488", "60457274")
# Image (W, H) and pinhole intrinsics (fx, fy, cx, cy) of the four cameras (dataset constants,
# identical for every subject; VideoPose3D `common/h36m_dataset.py`) — used where a file names
# only the camera.
INTRINSICS = {
    "54138969": ((1000, 1002), (1145.0494384765625, 1143.7811279296875, 512.54150390625,
                                515.4514770507812)),
    "55011271": ((1000, 1000), (1149.6756591796875, 1147.5916748046875, 508.8486328125,
                                508.0649108886719)),
    "58860488": ((1000, 1000), (1149.1407470703125, 1148.7989501953125, 519.8158569335938,
                                501.40264892578125)),
    "60457274": ((1000, 1002), (1145.5113525390625, 1144.77392578125, 514.9682006835938,
                                501.88201904296875)),
}
# VideoPose3D keeps these 17 of the 32 mocap joints (H36M-17 order).
KEEP_32 = [0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27]
# LCN / MotionBERT action ids 2..16.
MB_ACTIONS = ("Directions", "Discussion", "Eating", "Greeting", "Phoning", "Posing",
              "Purchases", "Sitting", "SittingDown", "Smoking", "TakingPhoto", "Waiting",
              "Walking", "WalkingDog", "WalkTogether")
# MotionBERT's evaluation skips these (broken) test sequences.
MB_BLOCKLIST = ("s_09_act_05_subact_02", "s_09_act_10_subact_02", "s_09_act_13_subact_01")


def action_of(key: str) -> str:
    """`'Directions 1'` / `'Directions_1'` → `'Directions'`; VP3D's short names expanded."""
    base = re.sub(r"[ _]\d+$", "", key)
    return {"Photo": "TakingPhoto", "WalkDog": "WalkingDog"}.get(base, base)


class Camera:
    """One H36M camera: world→camera `R`, `t` (m), intrinsics and the H36M lens model."""

    def __init__(self, cam_id: str, R_c2w: np.ndarray, centre_m: np.ndarray, f: np.ndarray,
                 c: np.ndarray, k: np.ndarray, p_vp3d: np.ndarray,
                 size: tuple[int, int]) -> None:
        self.id = cam_id
        self.R = np.asarray(R_c2w, float).T
        self.t = -self.R @ np.asarray(centre_m, float).reshape(3)
        self.K = np.array([[f[0], 0, c[0]], [0, f[1], c[1]], [0, 0, 1.0]])
        self.k, self.p = np.asarray(k, float).reshape(3), np.asarray(p_vp3d, float).reshape(2)
        self.size = size

    @property
    def dist_opencv(self) -> np.ndarray:
        """Closest OpenCV `k1, k2, p1, p2, k3` to the H36M model (see module docstring)."""
        return np.array([self.k[0], self.k[1], self.p[1], self.p[0], self.k[2]])

    def project(self, x_cam: np.ndarray) -> np.ndarray:
        """`(..., 3)` camera-frame points → `(..., 2)` pixels with the H36M lens model."""
        xy = x_cam[..., :2] / x_cam[..., 2:3]
        return np.asarray(normalized_to_pixels(distort_normalized_h36m(xy, self.k, self.p),
                                               self.K))


def _quat_to_matrix(q: np.ndarray) -> np.ndarray:
    w, x, y, z = np.asarray(q, float) / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def load_cameras(path: str | Path) -> dict[tuple[str, str], Camera]:
    """Cameras by `(subject, camera id)` from mmpose `cameras.pkl` or VP3D-style JSON."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"H36M camera file {path} not found (mmpose cameras.pkl or a VideoPose3D-style "
            "cameras.json; see datamodules/h36m/reader.py)"
        )
    out = {}
    if path.suffix == ".json":
        data = json.loads(path.read_text())
        for subj, cams in data["extrinsics"].items():
            for cam_id, ext in zip(CAMERA_IDS, cams):
                intr = data["intrinsics"][cam_id]
                out[(subj, cam_id)] = Camera(
                    cam_id, _quat_to_matrix(ext["orientation"]),
                    np.asarray(ext["translation"]) / 1000.0, intr["focal_length"],
                    intr["center"], intr["radial_distortion"], intr["tangential_distortion"],
                    (int(intr["res_w"]), int(intr["res_h"])),
                )
        return out
    data = load_pickle(path)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a dict keyed (subject, camera id)")
    for (subj, cam_id), c in data.items():
        # mmpose stores the tangential coefficients in the reverse of VideoPose3D's order.
        out[(str(subj), str(cam_id))] = Camera(
            str(cam_id), np.asarray(c["R"]), np.asarray(c["T"]).reshape(3),
            np.asarray(c["f"]).reshape(2), np.asarray(c["c"]).reshape(2),
            np.asarray(c["k"]).reshape(3), np.asarray(c["p"]).reshape(2)[::-1],
            (int(c["w"]), int(c["h"])),
        )
    return out


def _views(cams: list[Camera], n: int) -> dict[str, np.ndarray]:
    return {
        "K": np.stack([c.K for c in cams]),
        "R": np.broadcast_to(np.stack([c.R for c in cams])[:, None], (len(cams), n, 3, 3)),
        "t": np.broadcast_to(np.stack([c.t for c in cams])[:, None], (len(cams), n, 3)),
        "dist": np.stack([c.dist_opencv for c in cams]),
        "image_size": np.array([c.size for c in cams]),
    }


def gt_2d(world: np.ndarray, cams: list[Camera], views: dict[str, np.ndarray]) -> tuple:
    """`(pose2d (V, T, J, 3), clean (V, T, J, 2), valid (V, T, J))` by the H36M lens model."""
    x_cam = np.einsum("vtij,tkj->vtki", views["R"], world) + views["t"][:, :, None]
    uv = np.stack([c.project(x) for c, x in zip(cams, x_cam)])
    size = views["image_size"][:, None, None, :]
    valid = (x_cam[..., 2] > 0) & (uv >= 0).all(-1) & (uv <= size).all(-1)
    return np.concatenate([uv, np.ones(uv.shape[:-1] + (1,))], -1), uv, valid


_COCO_SYMMETRY = [[1, 3, 5, 7, 9, 11, 13, 15], [2, 4, 6, 8, 10, 12, 14, 16]]


def _layout_of(metadata: Any, path: Path | str) -> str:
    """Joint set of a VideoPose3D 2D file from its `metadata` (never assumed)."""
    meta = metadata.item() if isinstance(metadata, np.ndarray) else metadata
    if not isinstance(meta, dict):
        return "h36m17"  # the `gt` files carry only num_joints and the symmetry
    sym = [list(map(int, s)) for s in meta.get("keypoints_symmetry", [])]
    if "coco" in str(meta.get("layout_name", "")) or sym == _COCO_SYMMETRY:
        return "coco17"
    if sym and sym != [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]:
        raise ValueError(f"{path}: unknown 2D layout (keypoints_symmetry {sym})")
    return "h36m17"


def read_vp3d(
    path3d: str | Path, cameras: str | Path, path2d: str | Path | None = None,
    subjects: list[str] | None = None,
) -> Iterator[SequenceRecord]:
    """Records from VideoPose3D `data_3d_h36m.npz` (+ optional 2D detections npz).

    Args:
        path3d: `data_3d_h36m.npz`.
        cameras: `cameras.pkl` (mmpose) or `cameras.json` (VideoPose3D-style).
        path2d: `data_2d_h36m_<det>.npz`; None = 2D from the ground truth.
        subjects: subjects to read (default all with 3D).

    Yields:
        One 4-view record per (subject, action key), world metres, H36M-17.
    """
    path3d = Path(path3d)
    arrays = load_npz(path3d)
    if "positions_3d" not in arrays:
        raise ValueError(f"{path3d}: no 'positions_3d' (not a VideoPose3D 3D file)")
    pos3d = arrays["positions_3d"].item()
    cams = load_cameras(cameras)
    det = None
    if path2d is not None:
        d2 = load_npz(path2d)
        if "positions_2d" not in d2:
            raise ValueError(f"{path2d}: no 'positions_2d' (not a VideoPose3D 2D file)")
        det = d2["positions_2d"].item()
        det_set = _layout_of(d2.get("metadata"), path2d)
    for subj in sorted(pos3d, key=lambda s: int(s[1:])):
        if subjects is not None and subj not in subjects:
            continue
        for key in sorted(pos3d[subj]):
            x = np.asarray(pos3d[subj][key], dtype=np.float64)
            if x.ndim != 3 or x.shape[1:] not in ((32, 3), (17, 3)):
                raise ValueError(
                    f"{path3d}: positions_3d[{subj!r}][{key!r}] must be (T, 32|17, 3) metres, "
                    f"got {x.shape}"
                )
            world = x[:, KEEP_32] if x.shape[1] == 32 else x
            check_person_scale(world, f"{path3d}:{subj}/{key}")
            missing = [c for c in CAMERA_IDS if (subj, c) not in cams]
            if missing:
                raise ValueError(f"{cameras}: no camera {missing} for subject {subj}")
            cl = [cams[(subj, c)] for c in CAMERA_IDS]
            n = len(world)
            views = _views(cl, n)
            pose2d, clean, valid = gt_2d(world, cl, views)
            if det is not None:
                try:
                    kp = [np.asarray(a, dtype=np.float64)[:n] for a in det[subj][key]]
                except KeyError:
                    raise ValueError(f"{path2d}: no 2D for {subj} {key!r}") from None
                if len(kp) != 4 or any(a.shape[0] < n or a.shape[1] != 17 for a in kp):
                    raise ValueError(
                        f"{path2d}: positions_2d[{subj!r}][{key!r}] must be 4 arrays "
                        f"(>= {n}, 17, 2|3) px, got {[a.shape for a in kp]}"
                    )
                kp = np.stack(kp)
                conf = kp[..., 2:3] if kp.shape[-1] == 3 else np.ones(kp.shape[:-1] + (1,))
                pose2d = convert(np.concatenate([kp[..., :2], conf], -1), det_set, "h36m17",
                                 has_confidence=True)
            yield SequenceRecord(
                subject=subj, action=action_of(key), take=f"{subj}_{key.replace(' ', '_')}",
                fps=FPS, pose2d=pose2d, pose3d_world=world, pose2d_clean=clean, valid=valid,
                view_names=CAMERA_IDS, **views,
            )


def _mb_source(source: str, path: Path) -> tuple[str, str, str, int]:
    m = re.fullmatch(r"s_(\d+)_act_(\d+)_subact_(\d+)_ca_(\d+)", source)
    if m is None:
        raise ValueError(f"{path}: source {source!r} is not 's_XX_act_XX_subact_XX_ca_XX'")
    s, a, sub, ca = (int(g) for g in m.groups())
    if not 2 <= a <= 16 or not 1 <= ca <= 4:
        raise ValueError(f"{path}: source {source!r} has an action/camera id out of range")
    return f"S{s}", MB_ACTIONS[a - 2], f"S{s}_{MB_ACTIONS[a - 2]}_{sub}", ca - 1


def read_motionbert_pkl(
    path: str | Path, source_2d: str = "gt", skip_blocklist: bool = True
) -> Iterator[SequenceRecord]:
    """Single-view records from a MotionBERT-format H36M pkl (`h36m_sh_conf_cam_source_final.pkl`).

    Args:
        path: e.g. `h36m_sh_conf_cam_source_final.pkl`.
        source_2d: `"gt"` (the GT projection, `joint3d_image[..., :2]`) or `"dataset"` (the
            file's `joint_2d` detections with `confidence`).
        skip_blocklist: drop MotionBERT's three broken S9 test sequences.

    Yields:
        Records with `labels={"pkl_split": "train"|"test", "source": ...}`, camera frame =
        world frame, the camera's real intrinsics (`INTRINSICS`).
    """
    path = Path(path)

    def describe(source: str, split: str, first: dict) -> VideoInfo | None:
        subj, action, take, cam = _mb_source(source, path)
        if skip_blocklist and split == "test" and source[:-6] in MB_BLOCKLIST:
            return None
        cam_id = CAMERA_IDS[cam]
        size, (fx, fy, cx, cy) = INTRINSICS[cam_id]
        K = np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1.0]])
        return VideoInfo(subj, action, f"{take}_{cam_id}", cam_id, K, size, FPS)

    yield from read_pkl(path, describe, source_2d)


def _mmpose_name(name: str, path: Path) -> tuple[str, str, str, int]:
    m = re.fullmatch(r"(S\d+)/(S\d+)_(.+)\.(\d+)/.+_(\d+)\.jpg", name)
    if m is None:
        raise ValueError(f"{path}: imgname {name!r} is not 'S1/S1_Action.camid/..._000001.jpg'")
    subj, _, key, cam_id, frame = m.groups()
    return subj, key, cam_id, int(frame)


def read_mmpose_npz(
    path: str | Path, cameras: str | Path, source_2d: str = "gt"
) -> Iterator[SequenceRecord]:
    """Single-view records from mmpose `h36m_{train,test}.npz` + `cameras.pkl`.

    Frames are grouped by (subject, action, camera) and split where frame numbers jump.
    `source_2d="dataset"` keeps the file's `part` 2D; `"gt"` re-projects `S` with the lens model.
    """
    path = Path(path)
    d = load_npz(path)
    for key in ("imgname", "S", "part"):
        if key not in d:
            raise ValueError(f"{path}: missing {key!r} (keys: {sorted(d)})")
    s3, part = np.asarray(d["S"], np.float64), np.asarray(d["part"], np.float64)
    n = len(s3)
    if s3.shape != (n, 17, 4) or part.shape != (n, 17, 3):
        raise ValueError(f"{path}: S must be (N, 17, 4) m and part (N, 17, 3) px, got "
                         f"{s3.shape}, {part.shape}")
    cams = load_cameras(cameras)
    keys = [_mmpose_name(str(x), path) for x in d["imgname"]]
    groups: dict[tuple[str, str, str], list[int]] = {}
    for i, k in enumerate(keys):
        groups.setdefault(k[:3], []).append(i)
    for (subj, key, cam_id), idx in groups.items():
        idx = sorted(idx, key=lambda i: keys[i][3])
        frames = np.array([keys[i][3] for i in idx])
        step = int(np.diff(frames).min()) if len(frames) > 1 else 1  # fps50: 1, fps10: 5
        seg_ids = np.cumsum(np.concatenate([[True], np.diff(frames) != step]))
        cam = cams[(subj, cam_id)]
        for s in np.unique(seg_ids):
            sel = [i for i, g in zip(idx, seg_ids) if g == s]
            x_cam = s3[sel, :, :3]
            world = np.einsum("ij,tkj->tki", cam.R.T, x_cam - cam.t)
            check_person_scale(world, f"{path}:{subj}/{key}")
            views = _views([cam], len(sel))
            pose2d, clean, valid = gt_2d(world, [cam], views)
            if source_2d == "dataset":
                pose2d = part[sel][None]
            yield SequenceRecord(
                subject=subj, action=action_of(key),
                take=f"{subj}_{key}.{cam_id}_{keys[sel[0]][3]:06d}", fps=FPS / step, pose2d=pose2d,
                pose3d_world=world, pose2d_clean=clean, valid=valid, view_names=(cam_id,),
                **views,
            )


def find_format(root: Path) -> dict[str, Any]:
    """Which H36M layout `root` holds: `{"format": ..., paths...}` (see module docstring)."""
    if root.is_file():
        if root.suffix == ".pkl":
            return {"format": "motionbert", "path": root}
        raise ValueError(f"{root}: a file root must be a MotionBERT .pkl; give the folder of "
                         "data_3d_h36m.npz or of annotation_body3d instead")
    cams = next((root / n for n in ("cameras.pkl", "cameras.json") if (root / n).is_file()),
                None)
    if (root / "data_3d_h36m.npz").is_file():
        return {"format": "vp3d", "path": root / "data_3d_h36m.npz", "cameras": cams}
    pkls = sorted(root.glob("h36m*source*.pkl"))
    if pkls:
        return {"format": "motionbert", "path": pkls[0]}
    npzs = sorted(root.glob("annotation_body3d/fps*/h36m_*.npz"))
    if npzs:
        return {"format": "mmpose", "paths": npzs, "cameras": cams or
                root / "annotation_body3d" / "cameras.pkl"}
    raise FileNotFoundError(
        f"{root}: no Human3.6M files found (expected data_3d_h36m.npz + cameras.pkl, a "
        "MotionBERT h36m_*_source_final.pkl, or annotation_body3d/fps50/h36m_*.npz)"
    )

