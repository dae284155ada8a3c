"""BVH motion capture (any flavour) → H36M-17 joints in metres, world Z up.

Reading: HIERARCHY (one ROOT, nested JOINTs and `End Site`s, OFFSET, CHANNELS with any order
of X/Y/Z rotation and position channels on any joint), then MOTION (`Frames:`, `Frame Time:`,
one line of channel values per frame). Errors name the line.

Kinematics (the Biovision convention): a joint's local transform is a translation, then its
rotation channels composed in the listed order as intrinsic rotations in degrees
(`Zrotation Xrotation Yrotation` → `Rz · Rx · Ry`). The translation is the OFFSET; position
channels replace the components they name (MotionBuilder-style files write the whole local
translation on every joint; on the root they are the usual global position). End sites are
named `<parent>_End`.

Mapping to H36M-17: by joint names, per flavour (`NAME_MAPS`: CMU/cgspeed, Mixamo with any
`mixamorig…:` prefix, generic Hips/Spine/LeftUpLeg/…), auto-detected, with a user `name_map`
overriding entries; names are compared case- and punctuation-insensitively after dropping a
namespace prefix. Head top falls back to the nose joint's End Site. H36M bones that span
several BVH joints (CMU thorax→nose runs through Neck and Neck1) are not rigid in the source, so
after mapping each bone keeps its per-frame direction and gets its median length over the
file's frames (`augment.set_bone_lengths`): bone lengths are constant over time, and bones
that are rigid in the source are unchanged.

Units: `unit="auto"` takes the candidate of `UNITS` that makes the rest pose's largest extent
(standing height or T-pose span) closest to 1.7 m; CMU files use 1/0.45 inch (0.056444 m).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from datamodules.synthetic.augment import bone_vectors, set_bone_lengths
from datamodules.synthetic.bvh_topology import SkeletonMap, map_skeleton
from datamodules.synthetic.deepmimic import Y_UP_TO_Z_UP, snap_rate
from geometry.skeletons import H36M17

UNITS: dict[str, float] = {"m": 1.0, "cm": 0.01, "mm": 0.001, "inch": 0.0254, "cmu": 0.056444}
_TYPICAL_HEIGHT = 1.7  # metres, for unit="auto"
_AXES = {"x": 0, "y": 1, "z": 2}


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


@dataclass(frozen=True)
class BvhJoint:
    """One node of a BVH hierarchy.

    Attributes:
        name: joint name (`<parent>_End` for an End Site).
        parent: parent index (-1 for the root).
        offset: `(3,)` OFFSET in file units and axes.
        channels: channel names in file order (`"Xposition"`, `"Zrotation"`, ...).
        line: 1-based line of its declaration.
        end_site: whether it is an End Site.
    """

    name: str
    parent: int
    offset: np.ndarray
    channels: tuple[str, ...]
    line: int
    end_site: bool = False


@dataclass(frozen=True)
class Bvh:
    """A parsed BVH file.

    Attributes:
        joints: hierarchy in file order (parents before children).
        motion: `(T, C)` channel values per frame (degrees, file units).
        frame_time: seconds per frame.
        source: file name for messages.
    """

    joints: tuple[BvhJoint, ...]
    motion: np.ndarray
    frame_time: float
    source: str = "<bvh>"

    @property
    def names(self) -> list[str]:
        """Joint names in order."""
        return [j.name for j in self.joints]

    @property
    def fps(self) -> float:
        """Frame rate in Hz (`deepmimic.snap_rate`: CMU `.0083333` s is 120 Hz)."""
        return snap_rate(1.0 / self.frame_time)

    @property
    def num_frames(self) -> int:
        """Number of frames T."""
        return self.motion.shape[0]

    @property
    def parents(self) -> np.ndarray:
        """`(J,)` parent indices."""
        return np.array([j.parent for j in self.joints], dtype=np.int64)


_CHANNEL = re.compile(r"^([xyz])(position|rotation)$")


class _Tokens:
    """Whitespace tokens with their line numbers, for the hierarchy."""

    def __init__(self, lines: list[str], source: str) -> None:
        self.items = [(tok, i + 1) for i, line in enumerate(lines) for tok in line.split()]
        self.pos, self.source = 0, source

    def error(self, message: str, line: int | None = None) -> ValueError:
        if line is None:
            line = self.items[min(self.pos, len(self.items) - 1)][1] if self.items else 1
        return ValueError(f"{self.source}, line {line}: {message}")

    def next(self, what: str) -> tuple[str, int]:
        if self.pos >= len(self.items):
            last = self.items[-1][1] if self.items else 1
            raise ValueError(f"{self.source}, line {last}: file ends while expecting {what} "
                             "(truncated file?)")
        self.pos += 1
        return self.items[self.pos - 1]

    def rest_of_line(self, line: int) -> list[str]:
        out = []
        while self.pos < len(self.items) and self.items[self.pos][1] == line:
            out.append(self.items[self.pos][0])
            self.pos += 1
        return out

    def number(self, what: str) -> float:
        tok, line = self.next(what)
        try:
            return float(tok)
        except ValueError:
            raise self.error(f"expected a number for {what}, got {tok!r}", line) from None


def _parse_block(tok: _Tokens, joints: list[BvhJoint], name: str, parent: int, line: int,
                 end_site: bool) -> None:
    """Parse `{ OFFSET … CHANNELS … children }` of one joint (after its name)."""
    brace, bline = tok.next(f"'{{' opening joint {name!r}")
    if brace != "{":
        raise tok.error(f"expected '{{' after joint {name!r}, got {brace!r}", bline)
    offset: np.ndarray | None = None
    channels: tuple[str, ...] = ()
    index = len(joints)
    joints.append(BvhJoint(name, parent, np.zeros(3), (), line, end_site))
    while True:
        word, wline = tok.next(f"'}}' closing joint {name!r}")
        key = word.upper()
        if key == "}":
            break
        if key == "OFFSET":
            offset = np.array([tok.number(f"OFFSET of {name!r}") for _ in range(3)])
        elif key == "CHANNELS" and not end_site:
            count = tok.number(f"CHANNELS count of {name!r}")
            if count != int(count) or not 0 <= count <= 6:
                raise tok.error(f"CHANNELS count of {name!r} must be 0..6, got {count}", wline)
            names = []
            for _ in range(int(count)):
                ch, cline = tok.next(f"a channel name of {name!r}")
                if not _CHANNEL.match(ch.lower()):
                    raise tok.error(
                        f"unknown channel {ch!r} of joint {name!r} (expected X/Y/Z position "
                        "or rotation)", cline,
                    )
                names.append(ch[0].upper() + ch[1:].lower())
            channels = tuple(names)
        elif key == "JOINT" and not end_site:
            child = " ".join(t for t in tok.rest_of_line(wline) if t != "{")
            if not child:
                raise tok.error("JOINT without a name", wline)
            tok.pos -= tok.items[tok.pos - 1][0] == "{"  # a '{' on the JOINT line: re-read it
            _parse_block(tok, joints, child, index, wline, False)
        elif key == "END" and not end_site:
            site, sline = tok.next("'Site' after 'End'")
            if site.upper() != "SITE":
                raise tok.error(f"expected 'End Site', got 'End {site}'", sline)
            _parse_block(tok, joints, f"{name}_End", index, wline, True)
        else:
            raise tok.error(f"unexpected {word!r} inside joint {name!r}", wline)
    if offset is None:
        raise tok.error(f"joint {name!r} has no OFFSET", line)
    joints[index] = BvhJoint(name, parent, offset, channels, line, end_site)


def parse_bvh(text: str, source: str = "<bvh>") -> Bvh:
    """Parse BVH text.

    Args:
        text: file contents.
        source: name used in error messages.

    Returns:
        The hierarchy and the `(T, C)` motion table.

    Raises:
        ValueError: garbled or truncated file (with the line), duplicate joint names, a frame
            with fewer or more values than channels, fewer frame lines than `Frames:`, zero
            frames or a non-positive frame time.
    """
    lines = text.lstrip("\ufeff").splitlines()
    motion_at = next((i for i, ln in enumerate(lines) if ln.strip().upper() == "MOTION"), None)
    head = lines if motion_at is None else lines[:motion_at]
    tok = _Tokens(head, source)
    first, fline = tok.next("'HIERARCHY'")
    if first.upper() != "HIERARCHY":
        raise tok.error(f"not a BVH file: expected 'HIERARCHY', got {first!r}", fline)
    word, rline = tok.next("'ROOT'")
    if word.upper() != "ROOT":
        raise tok.error(f"expected 'ROOT', got {word!r}", rline)
    name = " ".join(t for t in tok.rest_of_line(rline) if t != "{") or "root"
    tok.pos -= tok.items[tok.pos - 1][0] == "{"
    joints: list[BvhJoint] = []
    _parse_block(tok, joints, name, -1, rline, False)
    if tok.pos < len(tok.items):
        extra, eline = tok.items[tok.pos]
        hint = " (only one ROOT is supported)" if extra.upper() == "ROOT" else ""
        raise tok.error(f"unexpected {extra!r} after the hierarchy{hint}", eline)
    seen: set[str] = set()
    for j in joints:
        if j.name in seen:
            raise ValueError(f"{source}, line {j.line}: duplicate joint name {j.name!r}")
        seen.add(j.name)
    if motion_at is None:
        raise ValueError(f"{source}, line {len(lines)}: no MOTION section (truncated file?)")
    motion, frame_time = _parse_motion(lines, motion_at, sum(len(j.channels) for j in joints),
                                       source)
    return Bvh(joints=tuple(joints), motion=motion, frame_time=frame_time, source=source)


def _header(lines: list[str], at: int, pattern: str, what: str, source: str) -> str:
    while at < len(lines) and not lines[at].strip():
        at += 1
    match = re.match(pattern, lines[at], re.IGNORECASE) if at < len(lines) else None
    if match is None:
        got = repr(lines[at].strip()) if at < len(lines) else "the end of the file"
        raise ValueError(f"{source}, line {at + 1}: expected '{what}', got {got}")
    return match.group(1)


def _parse_motion(lines: list[str], at: int, channels: int, source: str) -> tuple:
    """`(T, C)` values and the frame time from the MOTION section starting at line `at`."""
    frames_txt = _header(lines, at + 1, r"^\s*Frames\s*:\s*(\S+)\s*$", "Frames: <n>", source)
    at = next(i for i in range(at + 1, len(lines)) if lines[i].strip())
    time_txt = _header(lines, at + 1, r"^\s*Frame\s*Time\s*:\s*(\S+)\s*$", "Frame Time: <s>",
                       source)
    at = next(i for i in range(at + 1, len(lines)) if lines[i].strip())
    try:
        frames, frame_time = int(frames_txt), float(time_txt)
    except ValueError:
        raise ValueError(f"{source}, line {at + 1}: bad Frames / Frame Time values "
                         f"{frames_txt!r}, {time_txt!r}") from None
    if frames <= 0:
        raise ValueError(f"{source}: the file has zero frames (Frames: {frames})")
    if not frame_time > 0:
        raise ValueError(f"{source}, line {at + 1}: Frame Time must be > 0, got {frame_time}")
    rows: list[list[float]] = []
    for i in range(at + 1, len(lines)):
        values = lines[i].split()
        if not values:
            continue
        if len(rows) == frames:
            warnings.warn(f"{source}: more frame lines than Frames: {frames}; extra ignored",
                          stacklevel=3)
            break
        try:
            row = [float(v) for v in values]
        except ValueError:
            bad = next(v for v in values if not _is_float(v))
            raise ValueError(f"{source}, line {i + 1}: expected a number, got {bad!r}") from None
        if len(row) != channels:
            less = "fewer" if len(row) < channels else "more"
            raise ValueError(
                f"{source}, line {i + 1}: frame {len(rows)} has {len(row)} values, {less} than "
                f"the {channels} channels of the hierarchy"
            )
        rows.append(row)
    if len(rows) < frames:
        raise ValueError(f"{source}, line {len(lines)}: file truncated: Frames: {frames} but "
                         f"only {len(rows)} frame lines")
    motion = np.asarray(rows, dtype=np.float64).reshape(frames, channels)
    if not np.isfinite(motion).all():
        raise ValueError(f"{source}: non-finite channel values")
    return motion, frame_time


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_bvh(path: str | Path) -> Bvh:
    """Parse a BVH file (see `parse_bvh`); a missing file raises `FileNotFoundError`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no BVH file at {path}")
    return parse_bvh(path.read_text(encoding="utf-8", errors="replace"), source=str(path))


def local_transforms(bvh: Bvh) -> tuple[list[Rotation], np.ndarray]:
    """Per-joint local rotations and translations of every frame.

    Returns:
        `(rotations, translations)`: J scipy `Rotation`s of length T (child vs parent frame)
        and `(T, J, 3)` translations in file units.
    """
    t = bvh.num_frames
    trans = np.broadcast_to(np.stack([j.offset for j in bvh.joints]), (t, len(bvh.joints), 3))
    trans = trans.copy()
    rots: list[Rotation] = []
    col = 0
    for k, joint in enumerate(bvh.joints):
        rot = Rotation.identity(t)
        for ch in joint.channels:
            axis, kind = _AXES[ch[0].lower()], ch[1:].lower()
            if kind == "position":
                trans[:, k, axis] = bvh.motion[:, col]
            else:
                rotvec = np.zeros((t, 3))
                rotvec[:, axis] = np.deg2rad(bvh.motion[:, col])
                rot = rot * Rotation.from_rotvec(rotvec)  # intrinsic: later channels inner
            col += 1
        rots.append(rot)
    return rots, trans


def forward_kinematics(
    parents: np.ndarray, rotations: list[Rotation], translations: np.ndarray
) -> np.ndarray:
    """Global joint positions from local transforms (parents precede children).

    Args:
        parents: `(J,)` parent indices, -1 for the root.
        rotations: J `Rotation`s of length T.
        translations: `(T, J, 3)` local translations.

    Returns:
        `(T, J, 3)` positions in the units and axes of `translations`.
    """
    glob_rot: list[Rotation] = []
    pos = np.empty_like(translations)
    for k, parent in enumerate(parents):
        if parent < 0:
            glob_rot.append(rotations[k])
            pos[:, k] = translations[:, k]
        else:
            glob_rot.append(glob_rot[parent] * rotations[k])
            pos[:, k] = pos[:, parent] + glob_rot[parent].apply(translations[:, k])
    return pos


def bvh_positions(bvh: Bvh) -> np.ndarray:
    """`(T, J, 3)` positions of every joint and End Site, file units and axes."""
    return forward_kinematics(bvh.parents, *local_transforms(bvh))


def _resample(rots: list[Rotation], trans: np.ndarray, fps_in: float, fps_out: float) -> tuple:
    """Local transforms at `fps_out`: rotations by slerp, translations linearly."""
    count = trans.shape[0]
    times = np.arange(count) / fps_in
    new = np.arange(int(np.floor(times[-1] * fps_out + 1e-6)) + 1) / fps_out
    new = np.minimum(new, times[-1])
    if count == 1:
        return [Rotation.concatenate([r] * len(new)) for r in rots], np.repeat(trans, len(new), 0)
    new_rots = [Slerp(times, r)(new) for r in rots]
    flat = trans.reshape(count, -1)
    new_trans = np.stack([np.interp(new, times, flat[:, k]) for k in range(flat.shape[1])], -1)
    return new_rots, new_trans.reshape(len(new), *trans.shape[1:])


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
    """A report of how `bvh` maps to H36M-17 (`liftbench data show-bvh`)."""
    smap = map_bvh(bvh, flavour, name_map)
    unit = infer_unit(bvh) if unit == "auto" else unit
    names = smap.bvh.names
    lines = [
        f"{bvh.source}: {len(bvh.joints)} joints (incl. End Sites), {bvh.num_frames} frames "
        f"at {bvh.fps:g} Hz; names look {detect_flavour(bvh.names)!r}; unit {unit!r} "
        f"({UNITS[unit]:g} m per file unit); mapping by {smap.method}",
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


def infer_unit(bvh: Bvh) -> str:
    """The `UNITS` key making the rest pose's largest extent closest to 1.7 m."""
    rest = forward_kinematics(
        bvh.parents, [Rotation.identity(1)] * len(bvh.joints),
        np.stack([j.offset for j in bvh.joints])[None],
    )[0]
    extent = float(np.ptp(rest, axis=0).max())
    if extent <= 0:
        raise ValueError(f"{bvh.source}: the rest pose has zero size; pass unit explicitly")
    return min(UNITS, key=lambda u: abs(np.log(extent * UNITS[u] / _TYPICAL_HEIGHT)))


def bvh_to_h36m(
    bvh: Bvh,
    fps: float | None = None,
    name_map: dict[str, str] | None = None,
    unit: str | float = "auto",
    up: str = "y",
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
        up: the file's up axis, `"y"` (BVH default; turned to Z up by a proper rotation) or
            `"z"` (kept).
        flavour: name-map flavour (`"auto"`, `"cmu"`, `"mixamo"`, `"generic"`).

    Returns:
        `(joints (T, 17, 3) float64 metres Z up, fps)`.

    Raises:
        ValueError: bad `unit` / `up` / `fps`, unmapped joints, or an H36M bone of zero length
            (two H36M joints on the same point: pass a `name_map`).
    """
    if up not in ("y", "z"):
        raise ValueError(f"up must be 'y' or 'z', got {up!r}")
    if isinstance(unit, str):
        if unit != "auto" and unit not in UNITS:
            raise ValueError(f"unit must be 'auto', one of {sorted(UNITS)} or a number, "
                             f"got {unit!r}")
        scale = UNITS[infer_unit(bvh) if unit == "auto" else unit]
    else:
        scale = float(unit)
        if not scale > 0:
            raise ValueError(f"unit (metres per file unit) must be > 0, got {unit}")
    if fps is not None and not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    smap = map_bvh(bvh, flavour, name_map)
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
        rots, trans = _resample(rots, trans, rate, fps)
        raw = forward_kinematics(bvh.parents, rots, trans)[:, index]
        rate = float(fps)
    joints = set_bone_lengths(raw, lengths) * scale
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
        from datamodules.input_errors import read_json

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
