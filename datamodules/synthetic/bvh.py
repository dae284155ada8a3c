"""BVH motion capture (any flavour): reading and forward kinematics, in file units and axes.

Reading: HIERARCHY (one ROOT, nested JOINTs and `End Site`s, OFFSET, CHANNELS with any order
of X/Y/Z rotation and position channels on any joint), then MOTION (`Frames:`, `Frame Time:`,
one line of channel values per frame). Errors name the line.

Kinematics (the Biovision convention): a joint's local transform is a translation, then its
rotation channels composed in the listed order as intrinsic rotations in degrees
(`Zrotation Xrotation Yrotation` → `Rz · Rx · Ry`). The translation is the OFFSET; position
channels replace the components they name (MotionBuilder-style files write the whole local
translation on every joint; on the root they are the usual global position). End sites are
named `<parent>_End`.

Mapping a file onto H36M-17 joints in metres is `bvh_mapping.py`.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from liftbench.datamodules.synthetic.deepmimic import snap_rate

_AXES = {"x": 0, "y": 1, "z": 2}


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


def resample_transforms(
    rots: list[Rotation], trans: np.ndarray, fps_in: float, fps_out: float
) -> tuple[list[Rotation], np.ndarray]:
    """Local transforms at `fps_out`: rotations by slerp, translations linearly.

    Args:
        rots: J local rotations of length T (`local_transforms`).
        trans: `(T, J, 3)` local translations (`local_transforms`).
        fps_in: frame rate of the input, Hz.
        fps_out: frame rate wanted, Hz.

    Returns:
        `(rotations, translations (T', J, 3))` at `fps_out`.
    """
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
