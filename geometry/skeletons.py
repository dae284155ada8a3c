"""Joint sets as data (names, parents, bones, flip) and conversion maps between them.

Internal order everywhere is H36M-17 in the mocap convention (index 1 = RIGHT hip);
see README "Conventions". Every other joint set here converts to it with a map that
is data: a `(J_dst, J_src)` weight matrix per coordinate axis, built from a readable per-joint
recipe (copy one source joint, mean of several, or a weighted combination whose weights sum to
1, so every map commutes with translation). The one recipe that is not linear in the joints
(SportsPose authors' COCO head, §1.4c) is a function on top of a linear map.

Sided joint names always start with `left_` / `right_`; the flip permutation of every set
built here is derived from those names and checked against geometry in the tests.

Entry points: `get_joint_set`, `convert`, `flip_keypoints`, `bone_lengths`, `list_conversions`;
`ROOT` (the pelvis, index 0 of H36M-17) and `side_color` (how every plot colours a side).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
import torch

Array = np.ndarray | torch.Tensor


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


# --------------------------------------------------------------------------------------------
# Conversion maps
# --------------------------------------------------------------------------------------------

# A recipe for one destination joint: a source name (copy), a tuple of names (their mean) or
# a {source name: weight} mapping (weighted combination; the weights must sum to 1).
JointRecipe = str | tuple[str, ...] | Mapping[str, float]


@dataclass(frozen=True, eq=False)
class JointMap:
    """A joint-set conversion: one weight matrix per coordinate axis (plus an optional fix-up).

    Attributes:
        src: source joint set name.
        dst: destination joint set name.
        variant: name of this recipe (several may exist for one src/dst pair).
        weights: `(D, J_dst, J_src)` weights for coordinate axes 0..D-1 (D = 3 for maps that
            hold for 2D and 3D alike, D = 2 for 2D-only heuristics). Rows sum to 1.
        conf_weights: `(J_dst, J_src)` non-negative weights for a confidence channel, rows
            summing to 1 (by default |weights| of axis 0, row-normalised: the MotionBERT rule of
            averaging confidence exactly like the coordinates).
        doc: where the recipe comes from.
        post: optional non-linear correction `post(out_xyz, src_xyz) -> out_xyz` applied to the
            spatial coordinates after the linear part (shapes `(..., J_dst, D)`, `(..., J_src, D)`).
    """

    src: str
    dst: str
    variant: str
    weights: np.ndarray
    conf_weights: np.ndarray
    doc: str = ""
    post: Callable[[Array, Array], Array] | None = None

    @property
    def max_dims(self) -> int:
        """Largest number of spatial coordinates this map is defined for (2 or 3)."""
        return int(self.weights.shape[0])

    @cached_property
    def used(self) -> np.ndarray:
        """`(J_dst, J_src)` bool: source joints each coordinate row reads (any axis)."""
        return (self.weights != 0).any(0)

    @cached_property
    def conf_used(self) -> np.ndarray:
        """`(J_dst, J_src)` bool: source joints each confidence row reads."""
        return self.conf_weights != 0

    @cached_property
    def conf_sources(self) -> np.ndarray:
        """`(J_dst, K)` source indices per confidence row (padded by repetition), for a min."""
        return _padded_sources(self.conf_used)

    def support(self, dst_joint: int) -> tuple[int, ...]:
        """Source joints that destination joint `dst_joint` depends on (any axis or conf).

        The linear part only: a `post` correction may read more (SportsPose head: eyes).
        """
        used = self.used[dst_joint] | self.conf_used[dst_joint]
        return tuple(int(i) for i in np.flatnonzero(used))


def _recipe_row(recipe: JointRecipe, src: JointSet) -> np.ndarray:
    """One `(J_src,)` weight row from a per-joint recipe."""
    if isinstance(recipe, str):
        terms = [(recipe, 1.0)]
    elif isinstance(recipe, tuple):
        terms = [(name, 1.0 / len(recipe)) for name in recipe]
    else:
        terms = list(recipe.items())
    row = np.zeros(src.num_joints)
    for name, weight in terms:
        if name not in src.joints:
            raise ValueError(f"recipe names {name!r}, not a joint of {src.name!r}")
        row[src.index(name)] += weight
    if not np.isclose(row.sum(), 1.0):
        raise ValueError(f"recipe {recipe!r} weights sum to {row.sum()}, expected 1")
    return row


def _recipe_matrix(recipes: Mapping[str, JointRecipe], src: JointSet, dst: JointSet) -> np.ndarray:
    """`(J_dst, J_src)` matrix from one recipe per destination joint name."""
    missing = [name for name in dst.joints if name not in recipes]
    extra = [name for name in recipes if name not in dst.joints]
    if missing or extra:
        raise ValueError(f"{src.name}->{dst.name} recipes: missing {missing}, unknown {extra}")
    return np.stack([_recipe_row(recipes[name], src) for name in dst.joints])


def _normalised_abs(weights: np.ndarray) -> np.ndarray:
    """Row-normalised |weights|: the confidence rule derived from a coordinate map."""
    absolute = np.abs(weights)
    return absolute / absolute.sum(-1, keepdims=True)


def linear_map(
    src: str,
    dst: str,
    variant: str,
    recipes: Mapping[str, JointRecipe],
    *,
    axis_recipes: Mapping[int, Mapping[str, JointRecipe]] | None = None,
    conf_recipes: Mapping[str, JointRecipe] | None = None,
    dims: int = 3,
    doc: str = "",
) -> JointMap:
    """Build a `JointMap` from readable per-joint recipes.

    Args:
        src: source joint set name.
        dst: destination joint set name.
        variant: name of the recipe.
        recipes: destination joint name -> recipe, used for every axis and (row-normalised
            absolute weights) for the confidence unless overridden.
        axis_recipes: per-axis overrides, axis index -> {destination joint name -> recipe}.
        conf_recipes: overrides for the confidence channel, destination joint name -> recipe.
        dims: number of spatial axes the map is defined for (3, or 2 for 2D-only heuristics).
        doc: provenance of the recipe.

    Returns:
        The map, with `weights` of shape `(dims, J_dst, J_src)`.
    """
    src_set, dst_set = get_joint_set(src), get_joint_set(dst)
    base = _recipe_matrix(recipes, src_set, dst_set)
    weights = np.repeat(base[None], dims, axis=0)
    for axis, overrides in (axis_recipes or {}).items():
        for name, recipe in overrides.items():
            weights[axis, dst_set.index(name)] = _recipe_row(recipe, src_set)
    conf = _normalised_abs(base)
    for name, recipe in (conf_recipes or {}).items():
        conf[dst_set.index(name)] = _recipe_row(recipe, src_set)
    return JointMap(src, dst, variant, weights, conf, doc)


def permutation_map(
    src: str, dst: str, variant: str, indices: list[int], doc: str = ""
) -> JointMap:
    """A copy-only map: destination joint `j` = source joint `indices[j]`."""
    src_set = get_joint_set(src)
    dst_set = get_joint_set(dst)
    recipes = {dst_set.joints[j]: src_set.joints[i] for j, i in enumerate(indices)}
    return linear_map(src, dst, variant, recipes, doc=doc)


def compose(first: JointMap, second: JointMap, variant: str | None = None) -> JointMap:
    """The map `second ∘ first` (`first.dst` must equal `second.src`)."""
    if first.dst != second.src:
        raise ValueError(f"cannot compose {first.src}->{first.dst} with {second.src}->{second.dst}")
    if first.post is not None or second.post is not None:
        raise ValueError("only linear maps compose")
    dims = min(first.max_dims, second.max_dims)
    weights = np.einsum("dij,djk->dik", second.weights[:dims], first.weights[:dims])
    conf = second.conf_weights @ first.conf_weights
    name = variant or f"{first.variant}+{second.variant}"
    doc = f"{first.doc} then {second.doc}"
    return JointMap(first.src, second.dst, name, weights, conf, doc)


# The twelve limb joints carry the same names in every set that has them.
_LIMBS: dict[str, JointRecipe] = {
    f"{side}_{part}": f"{side}_{part}"
    for side in ("left", "right")
    for part in ("hip", "knee", "ankle", "shoulder", "elbow", "wrist")
}
_MID_HIP = ("left_hip", "right_hip")
_MID_SHOULDER = ("left_shoulder", "right_shoulder")
_HIPS_SHOULDERS = _MID_HIP + _MID_SHOULDER


def _coco_motionbert() -> JointMap:
    recipes = {
        **_LIMBS, "pelvis": _MID_HIP, "thorax": _MID_SHOULDER,
        # spine = mean(pelvis, thorax) = mean of both hips and both shoulders
        "spine": _HIPS_SHOULDERS, "nose": "nose", "head": ("left_eye", "right_eye"),
    }
    return linear_map(
        "coco17", "h36m17", "motionbert", recipes,
        doc="MotionBERT coco2h36m (`dataset_action.py`); confidence averaged like the coordinates",
    )


def _coco_mhformer(variant: str, k: float) -> JointMap:
    """MHFormer-demo heuristic (§1.4b), 2D only, written out as the affine map it is.

    The demo code moves joints in several sequential steps; expanding them gives, per axis:
    nose = c0 - (c0 - m56)/4; thorax = m56 + (c0 - m56)/3 and then, in y only,
    thorax.y -= 2/3 (mean(eye.y) - c0.y); head.x = mean(eyes, ears).x;
    head.y = eyeL.y + eyeR.y - c0.y; spine = mean(5, 6, 11, 12) and then, in x only,
    spine.x += k (spine.x - mean(pelvis.x, thorax.x)).
    `k` is 2 in MHFormer and in the WorldPose/KASportsFormer preprocessing, 0.3 in the
    MotionAGFormer demo. Every weight row still sums to 1.
    """
    third = 1.0 / 3.0
    recipes: dict[str, JointRecipe] = {
        **_LIMBS, "pelvis": _MID_HIP,
        "nose": {"nose": 0.75, "left_shoulder": 0.125, "right_shoulder": 0.125},
        "thorax": {"left_shoulder": third, "right_shoulder": third, "nose": third},
        "head": ("left_eye", "right_eye", "left_ear", "right_ear"),
        "spine": _HIPS_SHOULDERS,
    }
    spine_x = {
        "left_shoulder": (1 + k) / 4 - k / 6, "right_shoulder": (1 + k) / 4 - k / 6,
        "left_hip": 0.25, "right_hip": 0.25, "nose": -k / 6,
    }
    thorax_y = {
        "left_shoulder": third, "right_shoulder": third, "nose": 1.0,
        "left_eye": -third, "right_eye": -third,
    }
    head_y = {"left_eye": 1.0, "right_eye": 1.0, "nose": -1.0}
    conf = {
        "nose": "nose", "thorax": _MID_SHOULDER, "spine": _HIPS_SHOULDERS,
        "head": ("left_eye", "right_eye", "left_ear", "right_ear"),
    }
    return linear_map(
        "coco17", "h36m17", variant, recipes,
        axis_recipes={0: {"spine": spine_x}, 1: {"thorax": thorax_y, "head": head_y}},
        conf_recipes=conf, dims=2,
        doc=f"MHFormer/MotionAGFormer demo coco_h36m with spine factor {k} (§1.4b), 2D only",
    )


def _push_head_up(out: Array, src: Array) -> Array:
    """SportsPose-authors head: mid-ear moved along thorax→head by 0.8·|mid-ear − mid-eye|."""
    head, thorax = out[..., 10, :], out[..., 8, :]
    mid_eye = (src[..., 1, :] + src[..., 2, :]) / 2
    direction = head - thorax
    if isinstance(out, torch.Tensor):
        unit = torch.nn.functional.normalize(direction, dim=-1)
        shift = unit * 0.8 * torch.linalg.vector_norm(head - mid_eye, dim=-1, keepdim=True)
        return torch.cat([out[..., :10, :], (head + shift)[..., None, :], out[..., 11:, :]], -2)
    norm = np.linalg.norm(direction, axis=-1, keepdims=True)
    unit = direction / np.maximum(norm, 1e-12)  # the same epsilon as torch's normalize
    shift = unit * 0.8 * np.linalg.norm(head - mid_eye, axis=-1, keepdims=True)
    out = out.copy()
    out[..., 10, :] = head + shift
    return out


def _coco_sportspose() -> JointMap:
    recipes = {
        **_LIMBS, "pelvis": _MID_HIP, "thorax": _MID_SHOULDER, "spine": _HIPS_SHOULDERS,
        "nose": "nose", "head": ("left_ear", "right_ear"),
    }
    return replace(
        linear_map("coco17", "h36m17", "sportspose", recipes),
        doc="SportsPose authors' h36m_from_coco (§1.4c): head = mid-ear pushed up (not linear); "
        "head confidence = mean of the ears",
        post=_push_head_up,
    )


_H36M_FROM_MPI17 = [14, 8, 9, 10, 11, 12, 13, 15, 1, 16, 0, 5, 6, 7, 2, 3, 4]
_MPI17_FROM_MPI28 = [7, 5, 14, 15, 16, 9, 10, 11, 23, 24, 25, 18, 19, 20, 4, 3, 6]


def _build_maps() -> list[JointMap]:
    """Every registered map; per (src, dst) pair the first listed variant is the default."""
    mpi17 = permutation_map(
        "mpi3dhp17", "h36m17", "default", _H36M_FROM_MPI17,
        doc="MotionAGFormer H36M_TO_MPI index map (§1.5): nose <- head, head <- head_top",
    )
    mpi28_17 = permutation_map(
        "mpi3dhp28", "mpi3dhp17", "default", _MPI17_FROM_MPI28,
        doc="official mpii_get_joints 'relevant' subset (§1.5)",
    )
    return [
        _coco_motionbert(),
        _coco_mhformer("mhformer", 2.0),
        _coco_mhformer("motionagformer", 0.3),
        _coco_sportspose(),
        linear_map(
            "halpe26", "h36m17", "default",
            {**_LIMBS, "pelvis": "hip", "spine": ("hip", "neck"), "thorax": "neck",
             "nose": "nose", "head": "head"},
            doc="MotionBERT halpe2h36m (§1.4d)",
        ),
        # BODY_25 has no head top: like MotionBERT's COCO map, head = mid-eyes.
        linear_map(
            "body25", "h36m17", "default",
            {**_LIMBS, "pelvis": "mid_hip", "spine": ("mid_hip", "neck"), "thorax": "neck",
             "nose": "nose", "head": ("left_eye", "right_eye")},
            doc="OpenPose BODY_25: pelvis = MidHip, thorax = Neck, head = mid-eyes",
        ),
        # BODY_25B has a real head top, which is what H36M's head joint is.
        linear_map(
            "body25b", "h36m17", "default",
            {**_LIMBS, "pelvis": _MID_HIP, "spine": _HIPS_SHOULDERS, "thorax": _MID_SHOULDER,
             "nose": "nose", "head": "head_top"},
            doc="OpenPose BODY_25B: MotionBERT COCO rules, head = HeadTop",
        ),
        mpi17,
        compose(mpi28_17, mpi17, variant="default"),
        mpi28_17,
        permutation_map(
            "h36m17", "mpi3dhp17", "default", list(np.argsort(_H36M_FROM_MPI17)),
            doc="inverse of the MPI-17 -> H36M-17 permutation",
        ),
        linear_map(
            "aspset17", "h36m17", "default",
            {**_LIMBS, "pelvis": _MID_HIP, "spine": _HIPS_SHOULDERS,
             "thorax": {"left_shoulder": 1 / 3, "right_shoulder": 1 / 3, "head": 1 / 3},
             "nose": "head", "head": "head_top"},
            doc="SZucchini asp_to_h36m (§1.6): pelvis = mid-hip, not ASPset's pelvis",
        ),
        linear_map(
            "smpl24", "h36m17", "default",
            {**_LIMBS, "pelvis": _MID_HIP, "spine": _HIPS_SHOULDERS,
             "thorax": {"left_shoulder": 3 / 8, "right_shoulder": 3 / 8, "head": 1 / 4},
             "nose": "neck", "head": "head"},
            doc="WorldPose preprocessing convert_smpl24_to_hm36 (§1.7)",
        ),
        # MADS has neck and head only: head top extrapolated half a neck->head length past the
        # head joint (our choice; no public MADS->H36M-17 head-top recipe exists).
        *(
            linear_map(
                name, "h36m17", "default",
                {**_LIMBS, "pelvis": "pelvis", "spine": ("pelvis", "neck"), "thorax": "neck",
                 "nose": "head", "head": {"head": 1.5, "neck": -0.5}},
                doc="MADS: thorax = neck, nose = head, head top extrapolated along neck->head",
            )
            for name in ("mads", "mads15")
        ),
        permutation_map(
            "skipose", "h36m17", "default", list(range(17)),
            doc="SkiPose labels.h5 order is H36M-17 order (§10.2)",
        ),
        # DeepMimic: chest joint ~ H36M spine, neck joint (shoulder height) ~ thorax; nose and
        # head top extrapolated along chest->neck by 0.5 and 1.0 of its length (the URDF head
        # sphere sits 0.78 and tops out 1.24 chest->neck lengths above the neck joint).
        linear_map(
            "deepmimic15", "h36m17", "default",
            {**_LIMBS, "pelvis": "root", "spine": "chest", "thorax": "neck",
             "nose": {"neck": 1.5, "chest": -0.5}, "head": {"neck": 2.0, "chest": -1.0}},
            doc="DeepMimic humanoid joints; nose/head extrapolated along chest->neck",
        ),
    ]


CONVERSIONS: dict[tuple[str, str], dict[str, JointMap]] = {}
for _map in _build_maps():
    CONVERSIONS.setdefault((_map.src, _map.dst), {})[_map.variant] = _map


def list_conversions() -> list[tuple[str, str, str]]:
    """All `(src, dst, variant)` triples; the first variant of each pair is its default."""
    return [(s, d, v) for (s, d), variants in CONVERSIONS.items() for v in variants]


def get_map(src: str, dst: str, variant: str | None = None) -> JointMap:
    """The conversion map `src -> dst` (`variant=None` picks the pair's default).

    Raises:
        ValueError: unknown joint set, no map for the pair, or unknown variant; the message
            lists what exists.
    """
    for name in (src, dst):
        get_joint_set(name)  # unknown names raise, listing the known sets
    variants = CONVERSIONS.get((src, dst))
    if variants is None:
        pairs = ", ".join(f"{s}->{d}" for s, d in CONVERSIONS)
        raise ValueError(f"no conversion map {src}->{dst}; known: {pairs}")
    if variant is None:
        return next(iter(variants.values()))
    if variant not in variants:
        raise ValueError(
            f"unknown variant {variant!r} for {src}->{dst}; known: {', '.join(variants)}"
        )
    return variants[variant]


# --------------------------------------------------------------------------------------------
# Applying maps, flipping, bone lengths (numpy or torch)
# --------------------------------------------------------------------------------------------


def _padded_sources(used: np.ndarray) -> np.ndarray:
    """`(J_dst, K)` source indices of each row of a `(J_dst, J_src)` boolean mask.

    Short rows are padded with a repeat of their first index (harmless for a min).
    """
    width = int(used.sum(-1).max())
    index = np.zeros((used.shape[0], width), dtype=np.int64)
    for row, mask in enumerate(used):
        cols = np.flatnonzero(mask)
        index[row] = np.concatenate([cols, np.full(width - cols.size, cols[0])])
    return index


def _as_backend(x: Array, value: np.ndarray) -> Array:
    """`value` as the same kind of array as `x` (dtype of `x` for floats)."""
    if isinstance(x, torch.Tensor):
        dtype = torch.long if value.dtype.kind == "i" else x.dtype
        return torch.as_tensor(value, dtype=dtype, device=x.device)
    return value if value.dtype.kind == "i" else value.astype(x.dtype, copy=False)


def _linear(x: Array, weights: np.ndarray, used: np.ndarray) -> Array:
    """Apply `(D, J_dst, J_src)` weights to `x` `(..., J_src, D)` -> `(..., J_dst, D)`.

    Dense matmuls on finite values; a destination joint is NaN exactly when one of the source
    joints its row uses (`used`, `(J_dst, J_src)` bool) has a non-finite coordinate.
    """
    dims = x.shape[-1]
    if isinstance(x, torch.Tensor):
        w = torch.as_tensor(weights[:dims], dtype=x.dtype, device=x.device)
        finite = torch.isfinite(x).all(-1)
        clean = torch.where(finite[..., None], x, 0.0)
        out = torch.stack([clean[..., d] @ w[d].T for d in range(dims)], -1)
        bad_src = (~finite).to(x.dtype)
        bad = bad_src @ torch.as_tensor(used.T, dtype=x.dtype, device=x.device) > 0
        return torch.where(bad[..., None], torch.nan, out)
    w = weights[:dims].astype(x.dtype, copy=False)
    finite = np.isfinite(x).all(-1)
    clean = np.where(finite[..., None], x, 0.0)
    out = np.stack([clean[..., d] @ w[d].T for d in range(dims)], -1)
    bad = (~finite).astype(x.dtype) @ used.T.astype(x.dtype) > 0
    return np.where(bad[..., None], np.nan, out).astype(x.dtype, copy=False)


def _conf_min(conf: Array, index: np.ndarray) -> Array:
    """Min of `conf` `(..., J_src, 1)` over each row's sources -> `(..., J_dst, 1)`."""
    gathered = conf[..., _as_backend(conf, index), :]  # padding repeats a used index
    if isinstance(conf, torch.Tensor):
        return torch.amin(gathered, dim=-2)
    return gathered.min(axis=-2)


def _to_float(keypoints: Array) -> Array:
    """Floating-point numpy array or tensor (ints promoted; other inputs via `np.asarray`)."""
    if isinstance(keypoints, torch.Tensor):
        return keypoints if keypoints.is_floating_point() else keypoints.float()
    keypoints = np.asarray(keypoints)
    return keypoints if keypoints.dtype.kind == "f" else keypoints.astype(np.float64)


def _check_joints(x: Array, joint_set: JointSet, argument: str) -> None:
    if x.ndim < 2 or x.shape[-2] != joint_set.num_joints:
        raise ValueError(
            f"{argument} must have shape (..., {joint_set.num_joints}, C) for joint set "
            f"{joint_set.name!r}, got {tuple(x.shape)}"
        )


def convert(
    keypoints: Array,
    src: str,
    dst: str,
    variant: str | None = None,
    *,
    has_confidence: bool = False,
    conf_reduce: str = "mean",
) -> Array:
    """Convert keypoints between joint sets; the one entry point for every reader.

    The last axis holds 2 or 3 spatial coordinates, followed by one confidence channel iff
    `has_confidence=True`. So C=2 is (x, y); C=3 is (x, y, z) without and (x, y, conf) with
    confidence; C=4 is (x, y, z, conf) and requires `has_confidence=True`.

    Destination joints built from several sources average the confidence with the same
    (absolute, row-normalised) weights as the coordinates, the MotionBERT rule, unless the map
    says otherwise (the MHFormer-demo variants carry their own score recipe);
    `conf_reduce="min"` instead takes the least confident source joint.

    Missing joints: a non-finite (NaN or inf) source coordinate makes NaN all coordinates of
    exactly the destination joints whose recipe reads that source joint, and nothing else; the
    confidence channel is handled the same way on its own.

    Args:
        keypoints: `(..., J_src, C)` numpy array or torch tensor, any units (the maps are
            affine, so pixels, normalised units, metres and millimetres all work).
        src: source joint set name (see `JOINT_SETS`).
        dst: destination joint set name.
        variant: conversion recipe for the pair; `None` = its default (for
            `coco17 -> h36m17`: `"motionbert"`; also `"mhformer"`, `"motionagformer"`,
            `"sportspose"`).
        has_confidence: whether the last channel is a confidence.
        conf_reduce: `"mean"` or `"min"`, how a confidence is combined from several joints.

    Returns:
        `(..., J_dst, C)`, same kind of array (and device) as the input, always a new array;
        an exact copy when `src == dst`.

    Raises:
        ValueError: unknown joint set / pair / variant (lists the known ones), wrong J for the
            source, a channel count that does not fit `has_confidence`, a 3D input to a 2D-only
            variant, or an unknown `conf_reduce`.
    """
    src_set, dst_set = get_joint_set(src), get_joint_set(dst)
    x = _to_float(keypoints)
    _check_joints(x, src_set, "keypoints")
    spatial = x.shape[-1] - int(has_confidence)
    if spatial not in (2, 3):
        hint = "plus 1 confidence" if has_confidence else "(has_confidence=True adds a conf)"
        raise ValueError(
            f"keypoints must have shape (..., J, C) with C = 2 or 3 coordinates {hint}, "
            f"got C={x.shape[-1]}"
        )
    if conf_reduce not in ("mean", "min"):
        raise ValueError(f"conf_reduce must be 'mean' or 'min', got {conf_reduce!r}")
    if src_set.name == dst_set.name and variant is None:
        return x.clone() if isinstance(x, torch.Tensor) else x.copy()
    joint_map = get_map(src_set.name, dst_set.name, variant)
    if spatial > joint_map.max_dims:
        raise ValueError(
            f"variant {joint_map.variant!r} of {src}->{dst} is defined for 2D keypoints only, "
            f"got {spatial} coordinates"
        )
    coords = x[..., :spatial]
    out = _linear(coords, joint_map.weights, joint_map.used)
    if joint_map.post is not None:
        out = joint_map.post(out, coords)
    if not has_confidence:
        return out
    conf = x[..., spatial:]
    if conf_reduce == "min":
        conf_out = _conf_min(conf, joint_map.conf_sources)
    else:
        conf_out = _linear(conf, joint_map.conf_weights[None], joint_map.conf_used)
    if isinstance(out, torch.Tensor):
        return torch.cat([out, conf_out], dim=-1)
    return np.concatenate([out, conf_out], axis=-1)


def flip_keypoints(
    x: Array, joint_set: str | JointSet = "h36m17", axis: int = 0, center: float = 0.0
) -> Array:
    """Mirror keypoints: reflect one coordinate about `center` and swap left/right joints.

    For the width-normalised coordinates (README "Conventions") the mirror is about 0
    (`x -> -x`); for pixel coordinates pass `center = (W - 1) / 2` (or `W / 2`, matching your
    pixel convention).

    Args:
        x: `(..., J, C)` numpy array or torch tensor; channels other than `axis` (including a
            trailing confidence) are permuted but not changed.
        joint_set: joint set name or `JointSet` giving the flip permutation.
        axis: which channel to reflect (0 = x).
        center: the mirror position along that channel, in the units of `x`.

    Returns:
        `(..., J, C)`, a new array of the same kind.
    """
    js = get_joint_set(joint_set)
    x = _to_float(x)
    _check_joints(x, js, "x")
    if not -x.shape[-1] <= axis < x.shape[-1]:
        raise ValueError(f"axis must index the last dimension of size {x.shape[-1]}, got {axis}")
    out = x[..., _as_backend(x, js.flip_array), :]  # advanced indexing: already a copy
    out[..., axis] = 2 * center - out[..., axis]
    return out


def bone_lengths(x: Array, joint_set: str | JointSet = "h36m17") -> Array:
    """Euclidean length of every bone of `joint_set`.

    Args:
        x: `(..., J, D)` coordinates only (drop a confidence channel first), any units.
        joint_set: joint set name or `JointSet`; bones in `JointSet.bones` order.

    Returns:
        `(..., J - 1)` lengths in the units of `x`.
    """
    js = get_joint_set(joint_set)
    x = _to_float(x)
    _check_joints(x, js, "x")
    parent = np.asarray([p for p, _ in js.bones], dtype=np.int64)
    child = np.asarray([c for _, c in js.bones], dtype=np.int64)
    diff = x[..., _as_backend(x, child), :] - x[..., _as_backend(x, parent), :]
    if isinstance(diff, torch.Tensor):
        return torch.linalg.vector_norm(diff, dim=-1)
    return np.linalg.norm(diff, axis=-1)
