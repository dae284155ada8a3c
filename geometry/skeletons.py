"""Joint sets as data: names, parents, bones and flip permutations.

Internal order everywhere is H36M-17 in the mocap convention (index 1 = RIGHT hip);
see `shared/specs/DATASETS.md` §1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class JointSet:
    """A skeleton definition.

    Attributes:
        name: registry key, e.g. `"h36m17"`.
        joints: joint names in index order.
        parents: parent index per joint (-1 for the root).
        flip: index permutation that swaps left and right (an involution).
    """

    name: str
    joints: tuple[str, ...]
    parents: tuple[int, ...]
    flip: tuple[int, ...]

    @property
    def num_joints(self) -> int:
        """Number of joints J."""
        return len(self.joints)

    @property
    def bones(self) -> tuple[tuple[int, int], ...]:
        """(parent, child) index pairs, one per non-root joint."""
        return tuple((p, c) for c, p in enumerate(self.parents) if p >= 0)

    @property
    def flip_array(self) -> np.ndarray:
        """`flip` as an int64 array, for indexing."""
        return np.asarray(self.flip, dtype=np.int64)

    def index(self, joint: str) -> int:
        """Index of a joint by name."""
        return self.joints.index(joint)


H36M17 = JointSet(
    name="h36m17",
    joints=(
        "pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
        "left_ankle", "spine", "thorax", "nose", "head", "left_shoulder", "left_elbow",
        "left_wrist", "right_shoulder", "right_elbow", "right_wrist",
    ),
    parents=(-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15),
    flip=(0, 4, 5, 6, 1, 2, 3, 7, 8, 9, 10, 14, 15, 16, 11, 12, 13),
)

JOINT_SETS: dict[str, JointSet] = {H36M17.name: H36M17}


def get_joint_set(name: str) -> JointSet:
    """Look up a joint set by name; unknown names raise a `ValueError` listing the known ones."""
    try:
        return JOINT_SETS[name]
    except KeyError:
        raise ValueError(
            f"unknown joint set {name!r}; known: {', '.join(sorted(JOINT_SETS))}"
        ) from None
