"""Detector-order 2D people (COCO-17, H36M-17, BODY_25, BODY_25B) projected from 3D motions.

The synthetic motions are H36M-17 in metres (z-up). Face and foot points that H36M-17 lacks are
placed from the head and the body's forward direction (eyes 3 cm above the nose, ears behind
it, toes ahead of the ankle), so every order is a plausible detector output of the same person.
"""

from __future__ import annotations

import numpy as np

from liftbench.datamodules.synthetic import load_motion
from liftbench.geometry.skeletons import get_joint_set
from tests.datamodules.real_helpers import look_at

W, H = 1920, 1080
# indices of the face points in each order (nose, eyes, ears)
FACE = {"coco17": [0, 1, 2, 3, 4], "body25b": [0, 1, 2, 3, 4],
        "body25": [0, 15, 16, 17, 18], "h36m17": [9, 10]}


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def named_points(j: np.ndarray) -> dict[str, np.ndarray]:
    """Every joint name of the four orders → (T, 3) metres, from H36M-17 joints (T, 17, 3)."""
    h = get_joint_set("h36m17")
    p = {name: j[:, i] for i, name in enumerate(h.joints)}
    up = _unit(p["head"] - p["thorax"])
    right = _unit(p["right_shoulder"] - p["left_shoulder"])
    fwd = _unit(np.cross(up, right))  # z-up world: up x right = forward
    foot_fwd = _unit(np.cross(np.array([0.0, 0.0, 1.0]), _unit(p["right_hip"] - p["left_hip"])))
    nose = p["nose"] + 0.06 * fwd
    ear_c = (p["nose"] + p["head"]) / 2 - 0.02 * fwd
    out = dict(p)
    out.update(
        nose=nose, left_eye=nose + 0.03 * up - 0.03 * right,
        right_eye=nose + 0.03 * up + 0.03 * right, left_ear=ear_c - 0.07 * right,
        right_ear=ear_c + 0.07 * right, neck=(p["left_shoulder"] + p["right_shoulder"]) / 2,
        mid_hip=(p["left_hip"] + p["right_hip"]) / 2, upper_neck=p["thorax"] + 0.1 * up,
        head_top=p["head"] + 0.06 * up,
    )
    for side, s in (("left", -1.0), ("right", 1.0)):
        a = p[f"{side}_ankle"]
        down = np.array([0.0, 0.0, -0.06])
        out[f"{side}_big_toe"] = a + 0.16 * foot_fwd - s * 0.02 * right + down
        out[f"{side}_small_toe"] = a + 0.13 * foot_fwd + s * 0.04 * right + down
        out[f"{side}_heel"] = a - 0.05 * foot_fwd + down
    return out


def people_2d(order: str, motion: str = "walk", azimuth: float = 0.0, frames: int | None = None,
              face_conf: float = 1.0, distance: float = 6.0) -> np.ndarray:
    """One person in `order` seen from `azimuth` degrees: (T, J, 3) pixels + confidence.

    Args:
        order: joint-set name (coco17, h36m17, body25, body25b).
        motion: synthetic motion name.
        azimuth: camera position around the motion's centre (degrees); 0 looks along -x.
        frames: keep the first `frames` frames (None: all).
        face_conf: confidence of the face points (0: a person seen from behind).
        distance: camera distance from the motion's centre (m).
    """
    j = load_motion(motion).joints.astype(np.float64)[:frames]
    pts = named_points(j)
    centre = j[:, 0].mean(0)
    a = np.deg2rad(azimuth)
    cam = centre + distance * np.array([np.cos(a), np.sin(a), 0.0]) + [0, 0, 0.4]
    R, t = look_at(cam, target=(centre[0], centre[1], 0.9))
    js = get_joint_set(order)
    x = np.stack([pts[n] for n in js.joints], 1) @ R.T + t
    uv = 1100 * x[..., :2] / x[..., 2:] + np.array([W / 2, H / 2])
    conf = np.ones(uv.shape[:-1] + (1,))
    conf[:, FACE[order]] = face_conf
    return np.concatenate([uv, conf], -1)


def long_clip(order: str, frames: int, motion: str = "dance_b", **kw) -> np.ndarray:
    """`frames` continuous frames: the motion played forward, backward, forward, ..."""
    one = people_2d(order, motion, **kw)
    reps = -(-frames // len(one))
    return np.concatenate([one if i % 2 == 0 else one[::-1] for i in range(reps)])[:frames]


# VideoPose3D's metadata dicts (data/data_utils.py)
H36M_METADATA = {"layout_name": "h36m", "num_joints": 17,
                 "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]}
COCO_METADATA = {"layout_name": "coco", "num_joints": 17,
                 "keypoints_symmetry": [[1, 3, 5, 7, 9, 11, 13, 15],
                                        [2, 4, 6, 8, 10, 12, 14, 16]]}


def write_h36m_archive(path, clips: dict, metadata: dict) -> None:
    """A `data_2d_h36m_*.npz` as VideoPose3D's `prepare_data_2d_h36m_generic.py` writes it.

    `clips[(subject, action, camera)] = (T, J, 2|3)`; every action gets a 4-camera list with
    `None` where a camera has no clip, saved as pickled objects (`positions_2d`, `metadata`).
    """
    output: dict = {}
    for (subject, action, camera), kp in clips.items():
        output.setdefault(subject, {}).setdefault(action, [None, None, None, None])
        output[subject][action][camera] = np.asarray(kp, dtype="float32")
    np.savez_compressed(path, positions_2d=output, metadata=metadata)
