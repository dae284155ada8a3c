"""The registered joint-set conversions (every reader's map to H36M-17, and a few inverses).

Each recipe names its source (official code or paper section); per (src, dst) pair the first
listed variant is the default. The one recipe that is not linear in the joints (SportsPose
authors' COCO head) is a function on top of a linear map. Entry points: `get_map`,
`list_conversions`, `CONVERSIONS`.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from liftbench.geometry._validate import Array
from liftbench.geometry.joint_maps import (
    JointMap,
    JointRecipe,
    compose,
    linear_map,
    permutation_map,
)
from liftbench.geometry.joint_sets import get_joint_set

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
