"""DeepMimic humanoid clips shipped with pybullet → H36M-17 joints in metres, world Z up.

Sources: `pybullet_data/data/motions/humanoid3d_<name>.txt` (JSON `{"Loop", "Frames"}`, 44
numbers per frame: duration, root xyz, root quaternion w x y z, then the joint rotations in
`CLIP_LAYOUT` order: quaternions w x y z for spherical joints, one angle in radians for the
revolute knees and elbows) and the skeleton `pybullet_data/humanoid/humanoid.urdf`, whose joint
offsets are 4x the clips' metric scale (pybullet loads it with `globalScaling=0.25`).

Forward kinematics is the URDF convention: a child link's frame is its parent's frame moved by
the joint origin (translation, then roll-pitch-yaw), then rotated by the joint's own rotation
(the clip's quaternion, or the angle about the URDF axis for revolute joints). A joint's point
is the origin of its child link's frame; the wrist is the elbow link's child (the fixed wrist
joint origin). The clips are Y up with the humanoid facing +X and its right side at +Z; the
world is turned to Z up by the proper rotation `Y_UP_TO_Z_UP` (x, y, z) → (x, −z, y), det +1,
so nothing is mirrored and the left hip stays on the subject's left.

H36M-17 placement (`geometry.skeletons.convert(x, "deepmimic15", "h36m17")`): pelvis = root
link origin, hips/knees/ankles/shoulders/elbows/wrists = the matching joint points, spine =
the chest joint (lower back), thorax = the neck joint (shoulder height), nose and head top on
the chest→neck line 0.5 and 1.0 of its length above the neck joint. The DeepMimic head is a
sphere on the neck link, so nose and head top follow the chest, not the (small) neck rotation;
every H36M bone is then rigid in one link and its length is constant over time.

Resampling: root positions and revolute angles linearly, spherical joint and root rotations
by slerp (shortest arc), at the clip's frame times (the per-frame durations, which are not
always uniform: `roll` skips a frame).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from liftbench.geometry.skeletons import DEEPMIMIC15, convert

URDF_SCALE = 0.25  # humanoid.urdf offsets are 4x the clips' metres
# Joint order of a clip frame after the 8 root numbers: (URDF joint name, numbers).
CLIP_LAYOUT: tuple[tuple[str, int], ...] = (
    ("chest", 4), ("neck", 4), ("right_hip", 4), ("right_knee", 1), ("right_ankle", 4),
    ("right_shoulder", 4), ("right_elbow", 1), ("left_hip", 4), ("left_knee", 1),
    ("left_ankle", 4), ("left_shoulder", 4), ("left_elbow", 1),
)
FRAME_SIZE = 8 + sum(n for _, n in CLIP_LAYOUT)  # 44
# Proper rotation (det +1) taking Y-up coordinates to Z-up: (x, y, z) -> (x, -z, y).
Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
_CLIP_PREFIX = "humanoid3d_"


@dataclass(frozen=True)
class UrdfJoint:
    """One URDF joint.

    Attributes:
        name: joint name.
        kind: `"fixed"`, `"spherical"`, `"revolute"`, ...
        parent: parent link name.
        child: child link name.
        xyz: `(3,)` joint origin in the parent link frame, metres (already scaled).
        rpy: `(3,)` origin roll, pitch, yaw in radians (fixed-axis X, Y, Z).
        axis: `(3,)` unit rotation axis (revolute joints), child link frame.
    """

    name: str
    kind: str
    parent: str
    child: str
    xyz: np.ndarray
    rpy: np.ndarray
    axis: np.ndarray

    @property
    def origin_rotation(self) -> Rotation:
        """The origin's fixed rotation (URDF rpy = extrinsic X, then Y, then Z)."""
        return Rotation.from_euler("xyz", self.rpy)


@dataclass(frozen=True)
class DeepMimicClip:
    """A clip's poses at its frame times (Y up, metres).

    Attributes:
        times: `(T,)` frame times in seconds, starting at 0, increasing.
        root_pos: `(T, 3)` root link origin, metres, Y up.
        root_rot: `(T,)` root link orientations (scipy `Rotation`).
        rotations: spherical joint name → `(T,)` `Rotation`s (local, child vs parent link).
        angles: revolute joint name → `(T,)` angles in radians about the URDF axis.
        loop: the clip's `"Loop"` field (`"wrap"` or `"none"`).
    """

    times: np.ndarray
    root_pos: np.ndarray
    root_rot: Rotation
    rotations: dict[str, Rotation]
    angles: dict[str, np.ndarray]
    loop: str

    @property
    def num_frames(self) -> int:
        """Number of frames T."""
        return len(self.times)


def data_path() -> Path:
    """The installed `pybullet_data` folder (raises `ModuleNotFoundError` without pybullet)."""
    try:
        import pybullet_data
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            "the DeepMimic clips ship with pybullet: `pip install pybullet`"
        ) from None
    return Path(pybullet_data.getDataPath())


def list_clips() -> list[str]:
    """Sorted names of the installed DeepMimic humanoid clips (e.g. `"walk"`, `"kick"`)."""
    folder = data_path() / "data" / "motions"
    return sorted(p.stem[len(_CLIP_PREFIX):] for p in folder.glob(f"{_CLIP_PREFIX}*.txt"))


def clip_path(name: str) -> Path:
    """Path of the clip file of `name`; unknown names raise a `ValueError` listing the known."""
    path = data_path() / "data" / "motions" / f"{_CLIP_PREFIX}{name}.txt"
    if not path.is_file():
        raise ValueError(f"unknown DeepMimic clip {name!r} (known: {', '.join(list_clips())})")
    return path


def _floats(text: str | None, count: int, what: str) -> np.ndarray:
    values = np.array([float(v) for v in (text or "").split()], dtype=np.float64)
    if values.shape != (count,):
        raise ValueError(f"{what}: expected {count} numbers, got {text!r}")
    return values


@lru_cache(maxsize=4)
def parse_urdf(path: str | Path | None = None, scale: float = URDF_SCALE) -> dict[str, UrdfJoint]:
    """Joints of a URDF file (default: pybullet's DeepMimic humanoid), in file order.

    Args:
        path: URDF file; `None` = `pybullet_data/humanoid/humanoid.urdf`.
        scale: factor applied to the joint origins (0.25 turns the humanoid into metres).

    Returns:
        Joint name → `UrdfJoint` (origins in metres after `scale`).

    Raises:
        FileNotFoundError: no file at `path`.
        ValueError: not parseable XML or a joint without parent/child.
    """
    path = Path(path) if path is not None else data_path() / "humanoid" / "humanoid.urdf"
    if not path.is_file():
        raise FileNotFoundError(f"no URDF file at {path}")
    # pybullet's humanoid.urdf ends with a NUL byte, which XML parsers reject.
    text = path.read_bytes().replace(b"\x00", b"").decode("utf-8")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ValueError(f"{path}: not valid URDF XML ({exc})") from None
    joints: dict[str, UrdfJoint] = {}
    for node in root.iter("joint"):
        name = node.get("name", "")
        parent, child = node.find("parent"), node.find("child")
        if parent is None or child is None:
            raise ValueError(f"{path}: joint {name!r} lacks a <parent> or <child> link")
        origin, axis = node.find("origin"), node.find("axis")
        xyz = origin.get("xyz") if origin is not None else "0 0 0"
        rpy = origin.get("rpy") if origin is not None else "0 0 0"
        axis_v = _floats(axis.get("xyz") if axis is not None else "1 0 0", 3, f"joint {name} axis")
        norm = np.linalg.norm(axis_v)
        if norm == 0:
            raise ValueError(f"{path}: joint {name!r} has a zero axis")
        joints[name] = UrdfJoint(
            name=name, kind=node.get("type", "fixed"), parent=parent.get("link", ""),
            child=child.get("link", ""), xyz=scale * _floats(xyz, 3, f"joint {name} origin"),
            rpy=_floats(rpy, 3, f"joint {name} rpy"), axis=axis_v / norm,
        )
    return joints


def _quats(wxyz: np.ndarray, what: str) -> Rotation:
    norm = np.linalg.norm(wxyz, axis=-1)
    if (norm < 1e-8).any():
        raise ValueError(f"{what}: zero quaternion in frame {int(np.argmax(norm < 1e-8))}")
    return Rotation.from_quat(wxyz, scalar_first=True)


def parse_clip(path: str | Path) -> DeepMimicClip:
    """Read a DeepMimic clip file.

    Args:
        path: clip JSON file (`humanoid3d_*.txt`).

    Returns:
        The clip at its own frame times.

    Raises:
        FileNotFoundError: no file at `path`.
        ValueError: not JSON, no `"Frames"`, zero frames, frames not of 44 numbers,
            non-finite values, negative frame durations or zero quaternions.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no DeepMimic clip file at {path}")
    try:
        data = json.loads(path.read_text())
        frames = data["Frames"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a DeepMimic clip (JSON with 'Frames'): {exc}") from None
    if not frames:
        raise ValueError(f"{path}: the clip has zero frames (zero-length motion)")
    bad = [i for i, f in enumerate(frames) if not isinstance(f, list) or len(f) != FRAME_SIZE]
    if bad:
        raise ValueError(
            f"{path}: frame {bad[0]} does not have {FRAME_SIZE} numbers (duration, root xyz, "
            "root quaternion, 12 joint rotations)"
        )
    arr = np.asarray(frames, dtype=np.float64)
    finite = np.isfinite(arr).all(axis=1)
    if not finite.all():
        raise ValueError(f"{path}: non-finite values in frame {int(np.argmax(~finite))}")
    dt = arr[:-1, 0]
    if (dt < 0).any():
        raise ValueError(f"{path}: negative frame duration in frame {int(np.argmax(dt < 0))}")
    times = np.concatenate([[0.0], np.cumsum(dt)])
    if len(times) > 1 and not (np.diff(times) > 0).all():
        raise ValueError(f"{path}: zero frame duration in frame {int(np.argmax(dt <= 0))}")
    rotations, angles, col = {}, {}, 8
    for name, size in CLIP_LAYOUT:
        block = arr[:, col:col + size]
        if size == 4:
            rotations[name] = _quats(block, f"{path}: joint {name}")
        else:
            angles[name] = block[:, 0].copy()
        col += size
    return DeepMimicClip(
        times=times, root_pos=arr[:, 1:4].copy(), root_rot=_quats(arr[:, 4:8], f"{path}: root"),
        rotations=rotations, angles=angles, loop=str(data.get("Loop", "none")),
    )


def snap_rate(rate: float) -> float:
    """A frame rate rounded to a whole number of Hz when within 0.01 Hz of it.

    Frame durations are written with few digits (DeepMimic 0.03333 s, CMU BVH .0083333 s).
    """
    return float(round(rate)) if abs(rate - round(rate)) < 0.01 else float(rate)


def native_fps(clip: DeepMimicClip) -> float:
    """The clip's frame rate: 1 / the median frame duration (Hz, `snap_rate`d); 30 for one frame."""
    if clip.num_frames < 2:
        return 30.0
    return snap_rate(1.0 / np.median(np.diff(clip.times)))


def _slerp(times: np.ndarray, rots: Rotation, new: np.ndarray) -> Rotation:
    if len(times) == 1:
        return Rotation.concatenate([rots] * len(new))
    return Slerp(times, rots)(new)


def resample_clip(clip: DeepMimicClip, fps: float) -> DeepMimicClip:
    """The clip at a uniform rate: positions and angles linearly, rotations by slerp.

    Args:
        clip: a parsed clip.
        fps: new frame rate in Hz (> 0).

    Returns:
        Frames at `0, 1/fps, ...` up to the clip's last frame time.
    """
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    duration = clip.times[-1]
    new = np.arange(int(np.floor(duration * fps + 1e-6)) + 1) / fps
    new = np.minimum(new, duration)  # float round-off must not step past the last frame

    def lerp(v: np.ndarray) -> np.ndarray:
        return np.stack([np.interp(new, clip.times, v[:, k]) for k in range(v.shape[1])], -1)

    return DeepMimicClip(
        times=new, root_pos=lerp(clip.root_pos),
        root_rot=_slerp(clip.times, clip.root_rot, new),
        rotations={k: _slerp(clip.times, r, new) for k, r in clip.rotations.items()},
        angles={k: np.interp(new, clip.times, a) for k, a in clip.angles.items()},
        loop=clip.loop,
    )


def forward_kinematics(clip: DeepMimicClip, urdf: dict[str, UrdfJoint]) -> np.ndarray:
    """Joint points of the DeepMimic humanoid, in the clip's Y-up world.

    Args:
        clip: poses (see `parse_clip`).
        urdf: skeleton from `parse_urdf` (joint origins in metres).

    Returns:
        `(T, 15, 3)` metres, Y up, `deepmimic15` order (root = root link origin).

    Raises:
        ValueError: the URDF lacks a joint of `deepmimic15`, or has a joint whose parent link
            is not reached from the root link.
    """
    frames: dict[str, tuple[Rotation, np.ndarray]] = {}
    root = urdf.get("root")
    if root is None:
        raise ValueError("URDF has no 'root' joint (the DeepMimic humanoid's base→root link)")
    frames[root.child] = (clip.root_rot * root.origin_rotation, clip.root_pos.copy())
    points: dict[str, np.ndarray] = {"root": clip.root_pos.copy()}
    pending = [j for j in urdf.values() if j.name != "root"]
    while pending:
        ready = [j for j in pending if j.parent in frames]
        if not ready:
            raise ValueError(f"URDF joints {[j.name for j in pending]} hang off no known link")
        for joint in ready:
            rot, pos = frames[joint.parent]
            point = pos + rot.apply(joint.xyz)
            local = joint.origin_rotation
            if joint.name in clip.rotations:
                local = local * clip.rotations[joint.name]
            elif joint.name in clip.angles:
                local = local * Rotation.from_rotvec(clip.angles[joint.name][:, None] * joint.axis)
            frames[joint.child] = (rot * local, point)
            points[joint.name] = point
        pending = [j for j in pending if j not in ready]
    missing = [n for n in DEEPMIMIC15.joints if n not in points]
    if missing:
        raise ValueError(f"URDF lacks the deepmimic15 joints {missing}")
    return np.stack([points[n] for n in DEEPMIMIC15.joints], axis=1)


def clip_to_h36m(clip: DeepMimicClip, urdf: dict[str, UrdfJoint] | None = None) -> np.ndarray:
    """H36M-17 joints of a clip (placement in the module docstring).

    Args:
        clip: poses (see `parse_clip`).
        urdf: skeleton; `None` = pybullet's humanoid at the clips' scale.

    Returns:
        `(T, 17, 3)` float64 metres, world Z up.
    """
    dm15 = forward_kinematics(clip, urdf if urdf is not None else parse_urdf())
    return convert(dm15, "deepmimic15", "h36m17") @ Y_UP_TO_Z_UP.T


def load_deepmimic(name_or_path: str | Path, fps: float | None = None) -> tuple[np.ndarray, float]:
    """A DeepMimic clip (by name or file) as H36M-17 joints.

    Args:
        name_or_path: clip name (`"kick"`, see `list_clips`) or clip file path.
        fps: frame rate to resample to (Hz); `None` keeps the clip's own rate (resampled to a
            uniform grid at that rate when its frame durations are uneven).

    Returns:
        `(joints (T, 17, 3) float64 metres Z up, fps)`.
    """
    path = Path(name_or_path)
    if not (path.suffix == ".txt" or path.parent != Path(".")):
        path = clip_path(str(name_or_path))
    clip = parse_clip(path)
    rate = native_fps(clip)
    uneven = clip.num_frames > 1 and np.ptp(np.diff(clip.times)) > 1e-3 / rate
    if not uneven:  # uniform durations written to 5 digits: the frames are at the whole rate
        clip = replace(clip, times=np.arange(clip.num_frames) / rate)
    if fps is not None or uneven:
        rate = float(fps) if fps is not None else rate
        clip = resample_clip(clip, rate)
    return clip_to_h36m(clip), rate
