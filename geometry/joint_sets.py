"""Joint sets as data: names, parents, bones and the left/right flip of every skeleton.

Internal order everywhere is H36M-17 in the mocap convention (index 1 = RIGHT hip); see
`docs/conventions.md`. Sided joint names always start with `left_` / `right_`; the flip
permutation of every set built here is derived from those names and checked against geometry in
the tests. Conversions between the sets are `joint_maps.py` / `conversions.py`; applying them is
`skeletons.py`.

Entry points: `get_joint_set`, `JOINT_SETS`, `H36M17`; `ROOT` (the pelvis, index 0 of H36M-17)
and `side_color` (how every plot colours a side).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class JointSet:
    """A skeleton definition.

    Attributes:
        name: registry key, e.g. `"h36m17"`.
        joints: joint names in index order; sided joints start with `left_` / `right_`.
        parents: parent index per joint (-1 for the single root).
        flip: index permutation that swaps left and right (an involution).
    """

    name: str
    joints: tuple[str, ...]
    parents: tuple[int, ...]
    flip: tuple[int, ...]

    def __post_init__(self) -> None:
        num = len(self.joints)
        if len(set(self.joints)) != num:
            raise ValueError(f"joint set {self.name!r}: joint names must be unique")
        if len(self.parents) != num or len(self.flip) != num:
            raise ValueError(
                f"joint set {self.name!r}: parents ({len(self.parents)}) and flip "
                f"({len(self.flip)}) must have one entry per joint ({num})"
            )
        if sorted(self.flip) != list(range(num)):
            raise ValueError(f"joint set {self.name!r}: flip must be a permutation of 0..{num - 1}")

    @property
    def num_joints(self) -> int:
        """Number of joints J."""
        return len(self.joints)

    @property
    def root(self) -> int:
        """Index of the root joint (the one whose parent is -1)."""
        return self.parents.index(-1)

    @property
    def bones(self) -> tuple[tuple[int, int], ...]:
        """(parent, child) index pairs, one per non-root joint, in child order."""
        return tuple((p, c) for c, p in enumerate(self.parents) if p >= 0)

    @property
    def flip_array(self) -> np.ndarray:
        """`flip` as an int64 array, for indexing."""
        return np.asarray(self.flip, dtype=np.int64)

    @property
    def left(self) -> tuple[int, ...]:
        """Indices of the joints on the subject's left side (names starting `left_`)."""
        return tuple(i for i, n in enumerate(self.joints) if n.startswith("left_"))

    @property
    def right(self) -> tuple[int, ...]:
        """Indices of the joints on the subject's right side (names starting `right_`)."""
        return tuple(i for i, n in enumerate(self.joints) if n.startswith("right_"))

    @property
    def centre(self) -> tuple[int, ...]:
        """Indices of the unsided (midline) joints."""
        sided = set(self.left) | set(self.right)
        return tuple(i for i in range(self.num_joints) if i not in sided)

    def index(self, joint: str) -> int:
        """Index of a joint by name."""
        return self.joints.index(joint)


def _flip_from_names(joints: tuple[str, ...]) -> tuple[int, ...]:
    """Left/right swap permutation: `left_x` <-> `right_x`, unsided joints fixed."""
    swapped = []
    for name in joints:
        if name.startswith("left_"):
            name = "right_" + name[len("left_") :]
        elif name.startswith("right_"):
            name = "left_" + name[len("right_") :]
        swapped.append(joints.index(name))
    return tuple(swapped)


def _joint_set(name: str, joints: str, parents: tuple[int, ...]) -> JointSet:
    """Build a `JointSet` from whitespace-separated names; the flip comes from the names."""
    names = tuple(joints.split())
    return JointSet(name=name, joints=names, parents=parents, flip=_flip_from_names(names))


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
# The root joint of the internal order (the pelvis): poses are made root-relative at it.
ROOT = H36M17.joints.index("pelvis")


def side_color(joint: int, joint_set: JointSet = H36M17) -> str:
    """Drawing colour of a joint (or the bone ending at it): right red, left blue, centre black."""
    if joint in joint_set.right:
        return "tab:red"
    return "tab:blue" if joint in joint_set.left else "black"


_COCO_NAMES = (
    "nose left_eye right_eye left_ear right_ear left_shoulder right_shoulder left_elbow "
    "right_elbow left_wrist right_wrist left_hip right_hip left_knee right_knee left_ankle "
    "right_ankle"
)
# COCO has no midline joint below the nose, so the tree hangs from the nose through the ears
# (the COCO skeleton's ear-shoulder edges) to keep it left/right symmetric.
COCO17 = _joint_set("coco17", _COCO_NAMES, (-1, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 5, 6, 11, 12, 13, 14))

# AlphaPose Halpe-26 body: COCO-17 then head, neck, hip and the six foot points.
HALPE26 = _joint_set(
    "halpe26",
    _COCO_NAMES + " head neck hip left_big_toe right_big_toe left_small_toe right_small_toe "
    "left_heel right_heel",
    (17, 0, 0, 1, 2, 18, 18, 5, 6, 7, 8, 19, 19, 11, 12, 13, 14, 18, 19, -1,
     24, 25, 24, 25, 15, 16),
)

# OpenPose BODY_25 (official order); tree = OpenPose's limb pairs rooted at MidHip.
BODY25 = _joint_set(
    "body25",
    "nose neck right_shoulder right_elbow right_wrist left_shoulder left_elbow left_wrist "
    "mid_hip right_hip right_knee right_ankle left_hip left_knee left_ankle right_eye left_eye "
    "right_ear left_ear left_big_toe left_small_toe left_heel right_big_toe right_small_toe "
    "right_heel",
    (1, 8, 1, 2, 3, 1, 5, 6, -1, 8, 9, 10, 8, 12, 13, 0, 0, 15, 16, 14, 19, 14, 11, 22, 11),
)

# OpenPose BODY_25B (experimental models): COCO-17 order, then upper neck, head top, feet.
BODY25B = _joint_set(
    "body25b",
    _COCO_NAMES + " upper_neck head_top left_big_toe left_small_toe left_heel right_big_toe "
    "right_small_toe right_heel",
    (17, 0, 0, 1, 2, 17, 17, 5, 6, 7, 8, 5, 6, 11, 12, 13, 14, -1, 17, 15, 19, 15, 16, 22, 16),
)

# MPI-INF-3DHP "all" 28 joints; parents = official 1-based o1 minus 1 (pelvis is the root).
MPI3DHP28 = _joint_set(
    "mpi3dhp28",
    "spine3 spine4 spine2 spine pelvis neck head head_top left_clavicle left_shoulder "
    "left_elbow left_wrist left_hand right_clavicle right_shoulder right_elbow right_wrist "
    "right_hand left_hip left_knee left_ankle left_foot left_toe right_hip right_knee "
    "right_ankle right_foot right_toe",
    (2, 0, 3, 4, -1, 1, 5, 6, 5, 8, 9, 10, 11, 5, 13, 14, 15, 16, 4, 18, 19, 20, 21,
     4, 23, 24, 25, 26),
)

# MPI-INF-3DHP 17 "relevant" joints (test-set order); root = pelvis (14).
MPI3DHP17 = _joint_set(
    "mpi3dhp17",
    "head_top neck right_shoulder right_elbow right_wrist left_shoulder left_elbow left_wrist "
    "right_hip right_knee right_ankle left_hip left_knee left_ankle pelvis spine head",
    (1, 15, 1, 2, 3, 1, 5, 6, 14, 8, 9, 14, 11, 12, -1, 14, 1),
)

ASPSET17 = _joint_set(
    "aspset17",
    "right_ankle right_knee right_hip right_wrist right_elbow right_shoulder left_ankle "
    "left_knee left_hip left_wrist left_elbow left_shoulder head_top head neck spine pelvis",
    (1, 2, 16, 4, 5, 14, 7, 8, 16, 10, 11, 14, 13, 14, 15, 16, -1),
)

SMPL24 = _joint_set(
    "smpl24",
    "pelvis left_hip right_hip spine1 left_knee right_knee spine2 left_ankle right_ankle "
    "spine3 left_foot right_foot neck left_collar right_collar head left_shoulder "
    "right_shoulder left_elbow right_elbow left_wrist right_wrist left_hand right_hand",
    (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21),
)

# MADS GT (PosePile order). Its arm labels conflict with SoloPose's merge code and no MADS
# sample is public to settle it geometrically: PosePile's labels are kept.
MADS19 = _joint_set(
    "mads",
    "neck pelvis left_hip left_knee left_ankle left_toe right_hip right_knee right_ankle "
    "right_toe left_shoulder left_elbow left_wrist left_hand right_shoulder right_elbow "
    "right_wrist right_hand head",
    (-1, 0, 1, 2, 3, 4, 1, 6, 7, 8, 0, 10, 11, 12, 0, 14, 15, 16, 0),
)
MADS15 = _joint_set(
    "mads15",
    "neck pelvis left_hip left_knee left_ankle right_hip right_knee right_ankle left_shoulder "
    "left_elbow left_wrist right_shoulder right_elbow right_wrist head",
    (-1, 0, 1, 2, 3, 1, 5, 6, 0, 8, 9, 0, 11, 12, 0),
)

# SkiPose labels.h5: H36M-17 topology and order under the dataset's own (BVH-style) names.
SKIPOSE17 = _joint_set(
    "skipose",
    "hip right_up_leg right_leg right_foot left_up_leg left_leg left_foot spine1 neck head "
    "head_top left_arm left_forearm left_hand right_arm right_forearm right_hand",
    H36M17.parents,
)

# pybullet's DeepMimic humanoid (pybullet_data/humanoid/humanoid.urdf): one point per joint
# frame origin; `neck` is the neck joint at shoulder height (the head is the neck link's sphere).
DEEPMIMIC15 = _joint_set(
    "deepmimic15",
    "root chest neck right_hip right_knee right_ankle right_shoulder right_elbow right_wrist "
    "left_hip left_knee left_ankle left_shoulder left_elbow left_wrist",
    (-1, 0, 1, 0, 3, 4, 1, 6, 7, 0, 9, 10, 1, 12, 13),
)

JOINT_SETS: dict[str, JointSet] = {
    js.name: js
    for js in (
        H36M17, COCO17, HALPE26, BODY25, BODY25B, MPI3DHP28, MPI3DHP17, ASPSET17, SMPL24,
        MADS19, MADS15, SKIPOSE17, DEEPMIMIC15,
    )
}


def get_joint_set(name: str | JointSet) -> JointSet:
    """Look up a joint set by name; unknown names raise a `ValueError` listing the known ones."""
    if isinstance(name, JointSet):
        return name
    try:
        return JOINT_SETS[name]
    except KeyError:
        raise ValueError(
            f"unknown joint set {name!r}; known: {', '.join(sorted(JOINT_SETS))}"
        ) from None
