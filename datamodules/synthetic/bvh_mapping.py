"""BVH motion (`bvh.py`) → H36M-17 joints in metres, world Z up.

Mapping to H36M-17: by joint names, per flavour (`NAME_MAPS`: CMU/cgspeed, Mixamo with any
`mixamorig…:` prefix, generic Hips/Spine/LeftUpLeg/…), auto-detected, with a user `name_map`
overriding entries; names are compared case- and punctuation-insensitively after dropping a
namespace prefix. Head top falls back to the nose joint's End Site. The default flavour
`"auto"` maps by hierarchy topology and a standing pose instead (`bvh_topology.py`), names
as hints.
H36M bones that span several BVH joints (CMU thorax→nose runs through Neck and Neck1) are not
rigid in the source, so after mapping each bone keeps its per-frame direction and gets its
median length over the file's frames (`augment.set_bone_lengths`): bone lengths are constant
over time, and bones that are rigid in the source are unchanged.

Units: `unit="auto"` takes the candidate of `UNITS` that makes the body's largest extent
(standing height or T-pose span of the pelvis and below, in the mapping's reference pose)
closest to 1.7 m; CMU files use 1/0.45 inch (0.056444 m). Up axis: `up="auto"` takes Y or Z,
whichever the pelvis→thorax direction is closest to on average over the frames (or, for a
take mostly lying, in the reference pose); the output is Z up either way.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from liftbench.datamodules.synthetic.augment import bone_vectors, set_bone_lengths
from liftbench.datamodules.synthetic.bvh import (
    Bvh,
    bvh_positions,
    forward_kinematics,
    local_transforms,
    read_bvh,
    resample_transforms,
)
from liftbench.datamodules.synthetic.bvh_topology import SkeletonMap, map_skeleton
from liftbench.datamodules.synthetic.deepmimic import Y_UP_TO_Z_UP
from liftbench.geometry.skeletons import H36M17

UNITS: dict[str, float] = {"m": 1.0, "cm": 0.01, "mm": 0.001, "inch": 0.0254, "cmu": 0.056444}
_TYPICAL_HEIGHT = 1.7  # metres, for unit="auto"


def _sided(left: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """Add the right-side entries of a left-side name map (Left→Right, L→R prefixes)."""
    out = dict(left)
    for joint, names in left.items():
        if joint.startswith("left_"):
            out["right_" + joint[5:]] = tuple(
                "Right" + n[4:] if n.startswith("Left") else "R" + n[1:] for n in names
            )
    return out


# H36M-17 joint → candidate BVH joint names, first present wins.
NAME_MAPS: dict[str, dict[str, tuple[str, ...]]] = {
    # CMU (cgspeed BVH): Spine1 = Neck = top of the thorax (shoulders branch there), Head =
    # skull base; spine = Spine lies halfway between Hips and Spine1.
    "cmu": _sided({
        "pelvis": ("Hips",), "spine": ("Spine",), "thorax": ("Spine1",), "nose": ("Head",),
        "head": ("Head_End",), "left_hip": ("LeftUpLeg",), "left_knee": ("LeftLeg",),
        "left_ankle": ("LeftFoot",), "left_shoulder": ("LeftArm",),
        "left_elbow": ("LeftForeArm",), "left_wrist": ("LeftHand",),
    }),
    "mixamo": _sided({
        "pelvis": ("Hips",), "spine": ("Spine1",), "thorax": ("Neck",), "nose": ("Head",),
        "head": ("HeadTop_End", "Head_End"), "left_hip": ("LeftUpLeg",),
        "left_knee": ("LeftLeg",), "left_ankle": ("LeftFoot",), "left_shoulder": ("LeftArm",),
        "left_elbow": ("LeftForeArm",), "left_wrist": ("LeftHand",),
    }),
    "generic": _sided({
        "pelvis": ("Hips", "Hip", "Pelvis", "Root"),
        "spine": ("Spine1", "Spine", "Chest", "Abdomen", "Torso"),
        "thorax": ("Neck", "Neck1", "LowerNeck"), "nose": ("Head",),
        "head": ("HeadTop_End", "HeadTop", "Head_Top", "HeadEnd", "Head_End"),
        "left_hip": ("LeftUpLeg", "LeftHip", "LeftThigh", "LeftUpperLeg", "LThigh", "LHip"),
        "left_knee": ("LeftLeg", "LeftKnee", "LeftLowLeg", "LeftLowerLeg", "LeftShin", "LShin",
                      "LKnee"),
        "left_ankle": ("LeftFoot", "LeftAnkle", "LFoot", "LAnkle"),
        "left_shoulder": ("LeftArm", "LeftUpArm", "LeftUpperArm", "LeftShoulder", "LShldr",
                          "LShoulder"),
        "left_elbow": ("LeftForeArm", "LeftLowArm", "LeftLowerArm", "LeftElbow", "LForeArm",
                       "LElbow"),
        "left_wrist": ("LeftHand", "LeftWrist", "LHand", "LWrist"),
    }),
}


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", re.split(r"[:|]", name)[-1].lower())


def detect_flavour(names: list[str]) -> str:
    """`"cmu"`, `"mixamo"` or `"generic"` from the joint names."""
    normed = {_norm(n) for n in names}
    if {"lhipjoint", "lowerback"} & normed:
        return "cmu"
    if any(n.lower().startswith("mixamorig") for n in names):
        return "mixamo"
    return "generic"


def resolve_name_map(
    bvh: Bvh, flavour: str = "auto", name_map: dict[str, str] | None = None
) -> dict[str, int]:
    """Joint index of the file for every H36M-17 joint.

    Args:
        bvh: parsed file.
        flavour: `"auto"` or a key of `NAME_MAPS`.
        name_map: H36M joint name → BVH joint name (`<joint>_End` for an End Site), overriding
            the flavour's entries.

    Returns:
        H36M joint name → joint index in `bvh.joints`.

    Raises:
        ValueError: unknown flavour, a bad `name_map` key or value, or H36M joints that no
            BVH joint maps to (named, with how to pass a `name_map`).
    """
    names = bvh.names
    flavour = detect_flavour(names) if flavour == "auto" else flavour
    if flavour not in NAME_MAPS:
        raise ValueError(f"flavour must be 'auto' or one of {sorted(NAME_MAPS)}, got {flavour!r}")
    exact = {n: i for i, n in enumerate(names)}
    normed: dict[str, int] = {}
    for i, n in enumerate(names):
        normed.setdefault(_norm(n), i)
    out: dict[str, int] = {}
    for key, value in (name_map or {}).items():
        if key not in H36M17.joints:
            raise ValueError(f"name_map key {key!r} is not an H36M-17 joint {H36M17.joints}")
        idx = exact.get(value, normed.get(_norm(value)))
        if idx is None:
            raise ValueError(f"name_map[{key!r}] = {value!r} is not a joint of {bvh.source} "
                             f"(joints: {names})")
        out[key] = idx
    table = NAME_MAPS[flavour]
    for joint in H36M17.joints:
        if joint not in out:
            idx = next((normed[_norm(c)] for c in table[joint] if _norm(c) in normed), None)
            if idx is not None:
                out[joint] = idx
    if "head" not in out and "nose" in out:  # head top: the nose joint's End Site
        site = [i for i, j in enumerate(bvh.joints) if j.parent == out["nose"] and j.end_site]
        if site:
            out["head"] = site[0]
    missing = [j for j in H36M17.joints if j not in out]
    if missing:
        tried = "; ".join(f"{j}: {'/'.join(table[j])}" for j in missing)
        example = ", ".join(f"{j!r}: '<BVH joint>'" for j in missing[:3])
        raise ValueError(
            f"{bvh.source}: no BVH joint for the H36M-17 joints {missing} (flavour "
            f"{flavour!r}; tried {tried}). Pass name_map={{{example}}} (an End Site is "
            f"'<joint>_End'); the file's joints are {names}"
        )
    return out


def map_bvh(bvh: Bvh, flavour: str = "auto",
            name_map: dict[str, str] | None = None) -> SkeletonMap:
    """Where the H36M-17 joints are in `bvh`.

    Args:
        bvh: parsed file.
        flavour: `"auto"` = by hierarchy topology and rest-pose geometry
            (`bvh_topology.map_skeleton`), with the detected flavour's name table as hints
            for the trunk; a key of `NAME_MAPS` = by that name table only
            (`resolve_name_map`).
        name_map: H36M joint → BVH joint overrides.

    Returns:
        The `SkeletonMap` (its `bvh` may carry a virtual head-top End Site).
    """
    if flavour == "auto":
        return map_skeleton(bvh, NAME_MAPS[detect_flavour(bvh.names)], name_map)
    joints = resolve_name_map(bvh, flavour, name_map)
    return SkeletonMap(joints=joints, bvh=bvh, method=f"names ({flavour})")


def describe_bvh(bvh: Bvh, flavour: str = "auto", name_map: dict[str, str] | None = None,
                 unit: str = "auto") -> str:
    """A report of how `bvh` maps to H36M-17 (`liftbench data show-bvh`).

    The unit and up axis found, each H36M joint's BVH joint with its parents, and how the
    ambiguous choices were made (reference pose, sides, hints, virtual head top).
    """
    smap = map_bvh(bvh, flavour, name_map)
    unit = infer_unit(bvh, smap) if unit == "auto" else unit
    names = smap.bvh.names
    index = [smap.joints[j] for j in H36M17.joints]
    try:
        up = repr(infer_up(bvh, bvh_positions(smap.bvh)[:, index], smap.up))
    except ValueError as err:
        up = f"unknown ({str(err).split('; ')[0].split(': ', 1)[-1]})"
    lines = [
        f"{bvh.source}: {len(bvh.joints)} joints (incl. End Sites), {bvh.num_frames} frames "
        f"at {bvh.fps:g} Hz; names look {detect_flavour(bvh.names)!r}; unit {unit!r} "
        f"({UNITS[unit]:g} m per file unit); up {up}; mapping by {smap.method}",
    ]
    for joint in H36M17.joints:
        k = smap.joints[joint]
        chain = " <- ".join(names[p] for p in _ancestors(smap.bvh, k)[:3])
        lines.append(f"  {joint:15s} {names[k]:24s} ({chain})")
    lines += [f"  {note}" for note in smap.notes]
    return "\n".join(lines)


def _ancestors(bvh: Bvh, k: int) -> list[int]:
    out = []
    while k >= 0:
        out.append(k)
        k = bvh.joints[k].parent
    return out


def infer_unit(bvh: Bvh, smap: SkeletonMap | None = None) -> str:
    """The `UNITS` key making the body's largest extent closest to 1.7 m.

    The body is the mapped pelvis and everything below it (a static root far from the body
    does not count), in the mapping's reference pose (`SkeletonMap.pose`: the rest pose, or
    a frame when the rest pose is not upright); without a map, all joints in the rest pose.
    """
    rest = forward_kinematics(
        bvh.parents, [Rotation.identity(1)] * len(bvh.joints),
        np.stack([j.offset for j in bvh.joints])[None],
    )[0]
    body = np.arange(len(bvh.joints))
    if smap is not None:
        rest = rest if smap.pose is None else smap.pose
        kids: dict[int, list[int]] = {}
        for k, j in enumerate(bvh.joints):
            kids.setdefault(j.parent, []).append(k)
        body, stack = [], [smap.joints["pelvis"]]
        while stack:
            body.append(stack.pop())
            stack.extend(kids.get(body[-1], []))
    extent = float(np.ptp(rest[body], axis=0).max())
    if extent <= 0:
        raise ValueError(f"{bvh.source}: the rest pose has zero size; pass unit explicitly")
    return min(UNITS, key=lambda u: abs(np.log(extent * UNITS[u] / _TYPICAL_HEIGHT)))


def infer_up(bvh: Bvh, joints: np.ndarray, pose_up: np.ndarray | None = None) -> str:
    """`"y"` or `"z"`: the file axis the body's pelvis→thorax direction is closest to.

    The mean over the frames decides when it points mostly (>= 0.5) up Y or Z; otherwise (a
    take spent lying or tumbling) the up direction of the mapping's reference pose does.

    Args:
        bvh: the file (for messages).
        joints: `(T, 17, 3)` H36M-17 joints in file axes.
        pose_up: `(3,)` up of the reference pose (`SkeletonMap.up`), or None.

    Raises:
        ValueError: neither points up Y or Z (pass `up` explicitly).
    """
    trunk = joints[:, H36M17.joints.index("thorax")] - joints[:, H36M17.joints.index("pelvis")]
    mean = (trunk / np.maximum(np.linalg.norm(trunk, axis=-1, keepdims=True), 1e-300)).mean(0)
    for vec, least in ((mean, 0.5), (pose_up, 0.0)):
        if vec is None:
            continue
        axis = int(np.argmax(np.abs(vec)))
        if axis > 0 and vec[axis] > least:
            return "xyz"[axis]
    axis = int(np.argmax(np.abs(mean)))
    raise ValueError(f"{bvh.source}: cannot tell the up axis (the trunk points along "
                     f"{'-' if mean[axis] < 0 else '+'}{'XYZ'[axis]} on average); pass "
                     "up='y' or up='z'")


def bvh_to_h36m(
    bvh: Bvh,
    fps: float | None = None,
    name_map: dict[str, str] | None = None,
    unit: str | float = "auto",
    up: str = "auto",
    flavour: str = "auto",
) -> tuple[np.ndarray, float]:
    """H36M-17 joints of a parsed BVH file.

    Args:
        bvh: parsed file.
        fps: frame rate to resample to (Hz; local rotations slerped, translations linear);
            `None` keeps the file's rate.
        name_map: H36M joint → BVH joint overrides (see `resolve_name_map`).
        unit: `"auto"`, a key of `UNITS` (`"m"`, `"cm"`, `"mm"`, `"inch"`, `"cmu"`) or metres
            per file unit.
        up: the file's up axis, `"y"` (BVH default; turned to Z up by a proper rotation),
            `"z"` (kept) or `"auto"`: the axis the pelvis→thorax direction is closest to on
            average over the frames, else in the reference pose (`infer_up`).
        flavour: name-map flavour (`"auto"`, `"cmu"`, `"mixamo"`, `"generic"`).

    Returns:
        `(joints (T, 17, 3) float64 metres Z up, fps)`.

    Raises:
        ValueError: bad `unit` / `up` / `fps`, unmapped joints, or an H36M bone of zero length
            (two H36M joints on the same point: pass a `name_map`).
    """
    if up not in ("auto", "y", "z"):
        raise ValueError(f"up must be 'auto', 'y' or 'z', got {up!r}")
    if isinstance(unit, str):
        if unit != "auto" and unit not in UNITS:
            raise ValueError(f"unit must be 'auto', one of {sorted(UNITS)} or a number, "
                             f"got {unit!r}")
    elif not float(unit) > 0:
        raise ValueError(f"unit (metres per file unit) must be > 0, got {unit}")
    if fps is not None and not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    smap = map_bvh(bvh, flavour, name_map)
    if isinstance(unit, str):
        scale = UNITS[infer_unit(bvh, smap) if unit == "auto" else unit]
    else:
        scale = float(unit)
    bvh, mapping = smap.bvh, smap.joints
    index = np.array([mapping[j] for j in H36M17.joints])
    rots, trans = local_transforms(bvh)
    raw = forward_kinematics(bvh.parents, rots, trans)[:, index]
    lengths = np.median(np.linalg.norm(bone_vectors(raw), axis=-1), axis=0)
    if (lengths <= 1e-9).any():
        bad = [f"{H36M17.joints[p]}->{H36M17.joints[c]}" for p, c in H36M17.bones
               if lengths[c - 1] <= 1e-9]
        raise ValueError(f"{bvh.source}: H36M bones {bad} have zero length with this name map "
                         f"({ {k: bvh.names[v] for k, v in mapping.items()} }); pass name_map")
    rate = bvh.fps
    if fps is not None and not np.isclose(fps, rate, rtol=1e-9):
        rots, trans = resample_transforms(rots, trans, rate, fps)
        raw = forward_kinematics(bvh.parents, rots, trans)[:, index]
        rate = float(fps)
    joints = set_bone_lengths(raw, lengths) * scale
    if up == "auto":
        up = infer_up(bvh, joints, smap.up)
    if up == "y":
        joints = joints @ Y_UP_TO_Z_UP.T
    return joints, rate


def bvh_motion_options(name_map: str | Path | dict[str, str] | None = None,
                       flavour: str = "auto") -> dict[str, object]:
    """Checked BVH options `{"flavour", "name_map"}` from a dict or a JSON file of the map.

    Raises:
        ValueError: unknown flavour, or a map that is not a JSON object of H36M-17 joint
            names to BVH joint names (the message names the file).
    """
    if flavour != "auto" and flavour not in NAME_MAPS:
        raise ValueError(f"flavour must be 'auto' or one of {sorted(NAME_MAPS)}, got {flavour!r}")
    options: dict[str, object] = {"flavour": flavour}
    if name_map is None:
        return options
    source = "name_map"
    if not isinstance(name_map, dict):
        from liftbench.datamodules.input_errors import read_json

        source = str(name_map)
        name_map = read_json(name_map, "a JSON object {H36M-17 joint: BVH joint name}")
    if not isinstance(name_map, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in name_map.items()):
        raise ValueError(f"{source}: expected a JSON object {{H36M-17 joint: BVH joint name}}")
    bad = sorted(set(name_map) - set(H36M17.joints))
    if bad:
        raise ValueError(f"{source}: {bad} are not H36M-17 joints ({', '.join(H36M17.joints)})")
    options["name_map"] = dict(name_map)
    return options


def load_bvh(path: str | Path, fps: float | None = None, **options: object) -> tuple:
    """Read a BVH file as H36M-17 joints: `read_bvh` then `bvh_to_h36m(…, **options)`.

    Returns:
        `(joints (T, 17, 3) float64 metres Z up, fps)`.
    """
    return bvh_to_h36m(read_bvh(path), fps=fps, **options)
