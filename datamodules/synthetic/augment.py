"""Subject and motion augmentations on H36M-17 takes: `(T, 17, 3)` float64 metres, world Z up.

Every function returns a new array and keeps each bone's length constant over time when the
input's are (positions are re-built by walking the H36M-17 tree from the pelvis, parents
before children). Body-size changes keep the feet on the ground: the lowest point of the take
stays at the height it had (≈ 0 for the motion sources, whose floor is z = 0), scaled with the
subject by `scale_subject`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from liftbench.geometry.skeletons import H36M17

_PARENTS = np.asarray(H36M17.parents, dtype=np.int64)
_FLIP = H36M17.flip_array
_LEFT_HIP, _RIGHT_HIP = H36M17.index("left_hip"), H36M17.index("right_hip")
# Ankle-to-head-top chain of the stretched-out skeleton (bone index = child joint - 1).
_LEG = ((H36M17.index("right_knee"), H36M17.index("right_ankle")),
        (H36M17.index("left_knee"), H36M17.index("left_ankle")))
_TRUNK = tuple(H36M17.index(n) for n in ("spine", "thorax", "nose", "head"))


def as_joints(motion_or_joints: Any, argument: str = "joints") -> np.ndarray:
    """`(T, 17, 3)` float64 array from an array or a `Motion` (its `.joints`), validated.

    Raises:
        ValueError: wrong shape, zero frames or non-finite values (names `argument`).
    """
    x = getattr(motion_or_joints, "joints", motion_or_joints)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3 or x.shape[1:] != (17, 3):
        raise ValueError(f"{argument} must have shape (T, 17, 3) (H36M-17, metres), got {x.shape}")
    if x.shape[0] == 0:
        raise ValueError(f"{argument} has zero frames")
    if not np.isfinite(x).all():
        raise ValueError(f"{argument} has non-finite values")
    return x


def bone_vectors(joints: np.ndarray) -> np.ndarray:
    """`(T, 16, 3)` child minus parent vectors of the 16 H36M-17 bones (child order 1..16)."""
    return joints[:, 1:] - joints[:, _PARENTS[1:]]


def set_bone_lengths(joints: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Re-build a take with given bone lengths, keeping the pelvis and every bone's direction.

    Args:
        joints: `(T, 17, 3)` metres.
        lengths: `(16,)` or `(T, 16)` metres, bone of child joint `c` at index `c - 1`.

    Returns:
        `(T, 17, 3)`: pelvis as in `joints`, each child = parent + length · unit direction.
        A zero-length input bone has no direction and stays zero-length.
    """
    x = as_joints(joints)
    lengths = np.broadcast_to(np.asarray(lengths, dtype=np.float64), (x.shape[0], 16))
    vec = bone_vectors(x)
    norm = np.linalg.norm(vec, axis=-1, keepdims=True)
    unit = np.divide(vec, norm, out=np.zeros_like(vec), where=norm > 0)
    out = np.empty_like(x)
    out[:, 0] = x[:, 0]
    for child in range(1, 17):  # H36M-17 parents always precede their children
        out[:, child] = out[:, _PARENTS[child]] + lengths[:, child - 1, None] * unit[:, child - 1]
    return out


def standing_height(joints: np.ndarray) -> float:
    """Ankle-to-head-top height of the skeleton stood up straight, in metres.

    Mean leg (hip→knee→ankle) plus the hips' drop below the pelvis along the trunk axis plus
    pelvis→spine→thorax→nose→head, from medians over the take, so it is defined for any motion
    (crawling, rolling). The foot below the ankle is not counted.

    Args:
        joints: `(T, 17, 3)` metres.
    """
    x = as_joints(joints)
    lengths = np.median(np.linalg.norm(bone_vectors(x), axis=-1), axis=0)
    leg = np.mean([lengths[k - 1] + lengths[a - 1] for k, a in _LEG])
    return float(leg + hip_drop(x) + sum(lengths[j - 1] for j in _TRUNK))


def hip_drop(joints: np.ndarray) -> float:
    """How far the hip joints sit below the pelvis along the trunk axis, in metres (>= 0).

    The median over the take of minus the mean hip vector (pelvis→hip) projected on the
    pelvis→spine direction; part of `standing_height`.

    Args:
        joints: `(T, 17, 3)` metres.
    """
    vec = bone_vectors(as_joints(joints))
    trunk = vec[:, _TRUNK[0] - 1]
    axis = trunk / np.maximum(np.linalg.norm(trunk, axis=-1, keepdims=True), 1e-12)
    hips = vec[:, [_LEFT_HIP - 1, _RIGHT_HIP - 1]].mean(axis=1)
    return max(0.0, float(np.median(-(hips * axis).sum(-1))))


def _keep_ground(out: np.ndarray, lowest: float) -> np.ndarray:
    out[..., 2] += lowest - out[..., 2].min()
    return out


def vary_bone_lengths(
    motion_or_joints: Any, rng: np.random.Generator, sigma: float = 0.05
) -> np.ndarray:
    """Another body: every bone scaled by its own factor, the same left and right, all frames.

    Args:
        motion_or_joints: `Motion` or `(T, 17, 3)` metres.
        rng: numpy generator.
        sigma: log-normal spread of the factors (0.05 ≈ ±5 %).

    Returns:
        `(T, 17, 3)` metres; the lowest point of the take stays at its height.
    """
    x = as_joints(motion_or_joints, "motion_or_joints")
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    pair = np.minimum(np.arange(17), _FLIP)[1:]  # bone of child c shares its mirror's factor
    factor = np.exp(sigma * rng.standard_normal(17))[pair]
    lengths = np.linalg.norm(bone_vectors(x), axis=-1) * factor
    return _keep_ground(set_bone_lengths(x, lengths), x[..., 2].min())


def scale_subject(
    joints: np.ndarray, rng: np.random.Generator, height_range: tuple[float, float] = (1.5, 1.95)
) -> np.ndarray:
    """Uniformly scale the subject so its `standing_height` is drawn from `height_range`.

    The scale is about the ground point under the pelvis in the first frame, so the floor
    (z = 0) stays the floor and feet on it stay on it.

    Args:
        joints: `(T, 17, 3)` metres.
        rng: numpy generator.
        height_range: `(low, high)` standing height in metres.

    Returns:
        `(T, 17, 3)` metres.
    """
    x = as_joints(joints)
    low, high = height_range
    if not 0 < low <= high:
        raise ValueError(
            f"height_range must be (low, high) with 0 < low <= high, got {height_range}"
        )
    scale = rng.uniform(low, high) / standing_height(x)
    ground = np.array([x[0, 0, 0], x[0, 0, 1], 0.0])
    return ground + scale * (x - ground)


def rotate_heading(joints: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Turn the whole take by a uniform random yaw about the vertical through the first pelvis.

    Args:
        joints: `(T, 17, 3)` metres.
        rng: numpy generator.

    Returns:
        `(T, 17, 3)` metres.
    """
    x = as_joints(joints)
    yaw = rng.uniform(0.0, 2 * np.pi)
    c, s = np.cos(yaw), np.sin(yaw)
    rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    centre = np.array([x[0, 0, 0], x[0, 0, 1], 0.0])
    return (x - centre) @ rot.T + centre


def mirror(joints: np.ndarray) -> np.ndarray:
    """The mirror-image performance: reflect across the subject's sagittal plane, swap sides.

    The plane is vertical, through the first frame's pelvis, with the horizontal hip axis
    (left hip − right hip) as its normal (first frame; the take's mean if that is vertical).
    Swapping the left/right labels after the reflection keeps the result anatomically valid
    (the left hip is on the subject's left), and mirroring twice gives the input back.

    Args:
        joints: `(T, 17, 3)` metres.

    Returns:
        `(T, 17, 3)` metres.
    """
    x = as_joints(joints)
    axis = x[:, _LEFT_HIP] - x[:, _RIGHT_HIP]
    axis[:, 2] = 0.0
    normal = axis[0] if np.linalg.norm(axis[0]) > 1e-6 else axis.mean(axis=0)
    if np.linalg.norm(normal) <= 1e-6:
        normal = np.array([0.0, 1.0, 0.0])  # hips vertical throughout: any vertical plane
    normal = normal / np.linalg.norm(normal)
    dist = (x - x[0, 0]) @ normal
    return (x - 2.0 * dist[..., None] * normal)[:, _FLIP]


def _slerp_dirs(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Spherical interpolation between unit vectors `a`, `b` (..., 3) at weights `w` (..., 1)."""
    cos = np.clip((a * b).sum(-1, keepdims=True), -1.0, 1.0)
    omega = np.arccos(cos)
    sin = np.sin(omega)
    small = sin < 1e-6  # (anti)parallel: normalised linear interpolation is as good
    safe = np.where(small, 1.0, sin)
    wa = np.where(small, 1 - w, np.sin((1 - w) * omega) / safe)
    wb = np.where(small, w, np.sin(w * omega) / safe)
    out = wa * a + wb * b
    norm = np.linalg.norm(out, axis=-1, keepdims=True)
    return np.divide(out, norm, out=a.copy(), where=norm > 1e-12)


def time_warp(
    joints: np.ndarray, fps: float, speed: float, fps_out: float | None = None
) -> np.ndarray:
    """Play a take `speed` times as fast, sampled at `fps_out` (default: `fps` again).

    Pelvis positions and bone lengths are interpolated linearly, bone directions by slerp, so
    constant bone lengths stay constant.

    Args:
        joints: `(T, 17, 3)` metres at `fps` Hz.
        fps: input frame rate in Hz.
        speed: playback speed factor (> 0; 2 = twice as fast, half as many frames).
        fps_out: output frame rate in Hz.

    Returns:
        `(T', 17, 3)` metres, frames up to the input's last instant.
    """
    x = as_joints(joints)
    fps_out = fps if fps_out is None else fps_out
    if not (fps > 0 and fps_out > 0 and speed > 0):
        raise ValueError(f"fps, speed and fps_out must be > 0, got {fps}, {speed}, {fps_out}")
    last = x.shape[0] - 1
    step = speed * fps / fps_out  # input frames per output frame
    src = np.minimum(np.arange(int(np.floor(last / step + 1e-9)) + 1) * step, last)
    lo = np.minimum(np.floor(src).astype(np.int64), max(last - 1, 0))
    hi = np.minimum(lo + 1, last)
    w = (src - lo)[:, None]
    vec = bone_vectors(x)
    length = np.linalg.norm(vec, axis=-1)
    unit = np.divide(vec, length[..., None], out=np.zeros_like(vec), where=length[..., None] > 0)
    dirs = _slerp_dirs(unit[lo], unit[hi], w[..., None])
    new_len = (1 - w) * length[lo] + w * length[hi]
    root = (1 - w) * x[lo, 0] + w * x[hi, 0]
    out = np.empty((len(src), 17, 3))
    out[:, 0] = root
    for child in range(1, 17):
        out[:, child] = out[:, _PARENTS[child]] + new_len[:, child - 1, None] * dirs[:, child - 1]
    return out
