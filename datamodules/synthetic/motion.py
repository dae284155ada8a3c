"""Motion sources of the synthetic capture: DeepMimic clips by name, BVH files by path.

Every source yields a `Motion`: H36M-17 joints `(T, 17, 3)` float64 in metres, world Z up,
floor at z = 0 where the source has one, with constant bone lengths. `MOTION_GROUPS` splits
the DeepMimic clips into the papers' "daily" and "sports" domains.
"""

from __future__ import annotations

import difflib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from liftbench.datamodules.synthetic import bvh_mapping, deepmimic

MOTION_GROUPS: dict[str, tuple[str, ...]] = {
    "daily": ("walk", "dance_a", "dance_b", "getup_facedown", "getup_faceup", "crawl", "roll"),
    "sports": ("run", "jump", "kick", "spinkick", "cartwheel", "backflip", "punch", "spin"),
}


def group_of(name: str) -> str | None:
    """The `MOTION_GROUPS` key holding clip `name`, else `None`."""
    return next((g for g, names in MOTION_GROUPS.items() if name in names), None)


@dataclass(frozen=True, eq=False)  # array fields: compare `.joints` explicitly
class Motion:
    """One motion as H36M-17 joints.

    Attributes:
        joints: `(T, 17, 3)` float64 metres, world Z up, T >= 1.
        fps: frame rate in Hz.
        name: clip name or file stem.
        group: `"daily"`, `"sports"` or `None` (not a grouped clip).
    """

    joints: np.ndarray
    fps: float
    name: str
    group: str | None = None

    def __post_init__(self) -> None:
        joints = np.asarray(self.joints, dtype=np.float64)
        if joints.ndim != 3 or joints.shape[1:] != (17, 3):
            raise ValueError(f"motion {self.name!r}: joints must have shape (T, 17, 3), "
                             f"got {joints.shape}")
        if joints.shape[0] == 0:
            raise ValueError(f"motion {self.name!r} has zero frames (zero-length motion)")
        if not np.isfinite(joints).all():
            raise ValueError(f"motion {self.name!r}: joints have non-finite values")
        if not self.fps > 0:
            raise ValueError(f"motion {self.name!r}: fps must be > 0, got {self.fps}")
        object.__setattr__(self, "joints", joints)

    @property
    def num_frames(self) -> int:
        """Number of frames T."""
        return self.joints.shape[0]

    @property
    def duration(self) -> float:
        """Seconds from the first to the last frame."""
        return (self.num_frames - 1) / self.fps


class MotionSource(ABC):
    """A kind of motion input that `load_motion` dispatches to."""

    @abstractmethod
    def accepts(self, spec: str | Path) -> bool:
        """Whether `spec` (a name or a path) is for this source."""

    @abstractmethod
    def load(self, spec: str | Path, fps: float | None = None, **options: object) -> Motion:
        """The motion of `spec`, resampled to `fps` Hz (`None` = the source's own rate)."""

    def names(self) -> list[str]:
        """Motions available by name (none for file-only sources)."""
        return []


class DeepMimicSource(MotionSource):
    """pybullet's DeepMimic humanoid clips (`deepmimic.py`), by name or clip file path."""

    def accepts(self, spec: str | Path) -> bool:
        """Clip names and `.txt` clip files."""
        return Path(spec).suffix.lower() == ".txt" or str(spec) in self.names()

    def load(self, spec: str | Path, fps: float | None = None, **options: object) -> Motion:
        """Forward kinematics of the clip → H36M-17 (`deepmimic.load_deepmimic`)."""
        if options:
            raise ValueError(f"DeepMimic clips take no options, got {sorted(options)}")
        joints, rate = deepmimic.load_deepmimic(spec, fps=fps)
        name = str(spec) if str(spec) in self.names() else Path(spec).stem.removeprefix(
            "humanoid3d_")
        return Motion(joints=joints, fps=rate, name=name, group=group_of(name))

    def names(self) -> list[str]:
        """Installed clip names."""
        return deepmimic.list_clips()


class BvhSource(MotionSource):
    """BVH files (`bvh_mapping.load_bvh`); options `name_map`, `unit`, `up`, `flavour`."""

    def accepts(self, spec: str | Path) -> bool:
        """Paths ending in `.bvh`."""
        return Path(spec).suffix.lower() == ".bvh"

    def load(self, spec: str | Path, fps: float | None = None, **options: object) -> Motion:
        """Read, map and (optionally) resample the file (`bvh_mapping.load_bvh`)."""
        joints, rate = bvh_mapping.load_bvh(spec, fps=fps, **options)
        return Motion(joints=joints, fps=rate, name=Path(spec).stem, group=None)


SOURCES: tuple[MotionSource, ...] = (DeepMimicSource(), BvhSource())


def list_motions() -> list[str]:
    """Sorted names of the motions loadable by name (the installed DeepMimic clips)."""
    return sorted(n for src in SOURCES for n in src.names())


def load_motion(name_or_path: str | Path, fps: float | None = None, **options: object) -> Motion:
    """Load a motion by DeepMimic clip name (`"kick"`) or file path (`.bvh`, `.txt` clip).

    Args:
        name_or_path: clip name (see `list_motions`) or file path.
        fps: frame rate to resample to in Hz; `None` keeps the native rate.
        **options: source options (BVH: `name_map`, `unit`, `up`, `flavour`).

    Returns:
        The `Motion` (`group` set for the clips of `MOTION_GROUPS`).

    Raises:
        ValueError: unknown clip name (lists the known ones), unsupported file type, bad fps,
            or a file that holds zero frames.
        FileNotFoundError: a path to a file that does not exist.
    """
    if fps is not None and not fps > 0:
        raise ValueError(f"fps must be > 0 or None, got {fps}")
    for source in SOURCES:
        if source.accepts(name_or_path):
            return source.load(name_or_path, fps=fps, **options)
    spec = str(name_or_path)
    if Path(spec).suffix or "/" in spec or "\\" in spec:
        raise ValueError(f"unsupported motion file {spec!r}: expected a .bvh file or a "
                         "DeepMimic .txt clip")
    known = list_motions()
    close = difflib.get_close_matches(spec, known, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ValueError(f"unknown motion {spec!r}{hint} (known clips: {', '.join(known)}; "
                     "or give a .bvh path)")
