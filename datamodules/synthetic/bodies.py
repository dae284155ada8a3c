"""Synthetic subjects: adult body proportions sampled from published anthropometry.

Sources (the numbers below are copied from them):

- Stature: ANSUR II, Gordon et al. (2014), "2012 Anthropometric Survey of U.S. Army Personnel:
  Methods and Summary Statistics", NATICK/TR-15/007 — men 1756 ± 69 mm, women 1629 ± 64 mm
  (mean ± SD). Draws are truncated at ±`TRUNCATE_SD` SDs, so every subject is a plausible adult.
- Segment lengths as fractions of stature H: Drillis & Contini (1966), "Body segment
  parameters", Report 1166-03, New York University, as tabulated in Winter, "Biomechanics and
  Motor Control of Human Movement" (4th ed., 2009), Fig. 4.1: hip (greater trochanter) height
  0.530 H, knee 0.285 H, ankle 0.039 H, shoulder 0.818 H, upper arm 0.186 H, forearm 0.146 H.

Mapping onto the H36M-17 bones (joint centres, not body outline):

- thigh = hip − knee height = 0.245 H; shank = knee − ankle height = 0.246 H;
- upper arm 0.186 H and forearm 0.146 H as tabulated;
- trunk: pelvis→spine→thorax plus the hips' drop below the pelvis = shoulder − hip height =
  0.288 H (the two spine bones keep the motion's ratio);
- head and neck: thorax→nose→head top = stature − shoulder height = 0.182 H (motion's ratio);
- the widths pelvis→hip and thorax→shoulder: the table gives body breadths (0.191 H hips,
  0.259 H shoulders), wider than the joint centres, so the motion skeleton's joint-centre
  widths (as fractions of its stature) are kept and only varied per subject.

The table gives mean proportions only. Every segment fraction is varied per subject by a
log-normal factor (`SEGMENT_SD`, `WIDTH_SD`: our choice, about the few-percent spread of
segment-to-stature ratios among adults), the same on the left and the right; then all
fractions are rescaled together so that ankle-to-head-top is exactly (1 − 0.039) H: the drawn
stature is the subject's stature.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from liftbench.datamodules.synthetic import augment
from liftbench.geometry.skeletons import H36M17

# ANSUR II stature, metres: (mean, SD).
STATURE_M: dict[str, tuple[float, float]] = {"male": (1.756, 0.069), "female": (1.629, 0.064)}
TRUNCATE_SD = 2.5
# Drillis & Contini heights and lengths, fractions of stature.
ANKLE_HEIGHT, KNEE_HEIGHT, HIP_HEIGHT, SHOULDER_HEIGHT = 0.039, 0.285, 0.530, 0.818
UPPER_ARM, FOREARM = 0.186, 0.146
MEAN_FRACTIONS: dict[str, float] = {
    "thigh": HIP_HEIGHT - KNEE_HEIGHT,
    "shank": KNEE_HEIGHT - ANKLE_HEIGHT,
    "upper_arm": UPPER_ARM,
    "forearm": FOREARM,
    "trunk": SHOULDER_HEIGHT - HIP_HEIGHT,
    "head_neck": 1.0 - SHOULDER_HEIGHT,
}
SEGMENT_SD = 0.03  # log-normal spread of each length fraction
WIDTH_SD = 0.05  # log-normal spread of the hip and shoulder joint-centre widths
_VERTICAL = ("thigh", "shank", "trunk", "head_neck")  # ankle → head top

_I = H36M17.index
# Bones by child joint (bone index = child - 1), both sides where sided.
_BONES: dict[str, tuple[int, ...]] = {
    "thigh": (_I("right_knee"), _I("left_knee")),
    "shank": (_I("right_ankle"), _I("left_ankle")),
    "upper_arm": (_I("right_elbow"), _I("left_elbow")),
    "forearm": (_I("right_wrist"), _I("left_wrist")),
    "trunk": (_I("spine"), _I("thorax")),
    "head_neck": (_I("nose"), _I("head")),
    "hip_width": (_I("right_hip"), _I("left_hip")),
    "shoulder_width": (_I("right_shoulder"), _I("left_shoulder")),
}


@dataclass(frozen=True)
class Body:
    """One synthetic subject's body.

    Attributes:
        name: subject label (`"S1"`, ...).
        sex: `"male"` or `"female"` (picks the stature distribution).
        stature: floor-to-head-top height in metres.
        fractions: segment length / stature for `thigh`, `shank`, `upper_arm`, `forearm`,
            `trunk` (incl. the hips' drop below the pelvis), `head_neck`; the vertical four
            sum to `1 - ANKLE_HEIGHT`.
        width_factors: `hip_width` and `shoulder_width` relative to the motion skeleton's
            joint-centre widths (per unit stature).
    """

    name: str
    sex: str
    stature: float
    fractions: dict[str, float]
    width_factors: dict[str, float]


def _stable_seed(*parts: object) -> list[int]:
    return [zlib.crc32(str(p).encode()) for p in parts]


def sample_body(index: int, seed: int = 0) -> Body:
    """Subject `S{index + 1}`: sexes alternate (even index male), proportions drawn.

    Deterministic in `(index, seed)`, so a subject has the same body in every motion and in
    every configuration that uses that seed.

    Args:
        index: 0-based subject index.
        seed: generation seed.
    """
    if index < 0:
        raise ValueError(f"subject index must be >= 0, got {index}")
    rng = np.random.default_rng(_stable_seed(seed, "body", index))
    sex = "male" if index % 2 == 0 else "female"
    mean, sd = STATURE_M[sex]
    z = rng.standard_normal()
    while abs(z) > TRUNCATE_SD:
        z = rng.standard_normal()
    frac = {k: v * float(np.exp(SEGMENT_SD * rng.standard_normal()))
            for k, v in MEAN_FRACTIONS.items()}
    rescale = (1.0 - ANKLE_HEIGHT) / sum(frac[k] for k in _VERTICAL)
    widths = {k: float(np.exp(WIDTH_SD * rng.standard_normal()))
              for k in ("hip_width", "shoulder_width")}
    return Body(
        name=f"S{index + 1}", sex=sex, stature=float(mean + sd * z),
        fractions={k: v * rescale for k, v in frac.items()}, width_factors=widths,
    )


def body_lengths(joints: np.ndarray, body: Body) -> np.ndarray:
    """`(16,)` bone lengths in metres that give the motion skeleton `body`'s proportions.

    Args:
        joints: `(T, 17, 3)` metres, the motion's own skeleton (for the split of the trunk and
            head chains into bones, the joint-centre widths and the hips' drop).
        body: the subject.
    """
    x = augment.as_joints(joints)
    ref = np.median(np.linalg.norm(augment.bone_vectors(x), axis=-1), axis=0)
    ref_stature = augment.standing_height(x) / (1.0 - ANKLE_HEIGHT)
    h = body.stature
    out = ref.copy()
    for seg in ("thigh", "shank", "upper_arm", "forearm"):
        out[[c - 1 for c in _BONES[seg]]] = body.fractions[seg] * h
    for seg in ("hip_width", "shoulder_width"):
        bones = [c - 1 for c in _BONES[seg]]
        out[bones] = ref[bones].mean() / ref_stature * h * body.width_factors[seg]
    # the hips' drop below the pelvis scales with the hip bones (their directions are kept)
    hip = _BONES["hip_width"][0] - 1
    drop = augment.hip_drop(x) * out[hip] / max(ref[hip], 1e-12)
    for seg, room in (("trunk", body.fractions["trunk"] * h - drop),
                      ("head_neck", body.fractions["head_neck"] * h)):
        bones = [c - 1 for c in _BONES[seg]]
        if room <= 0 or ref[bones].sum() <= 0:
            raise ValueError(f"cannot fit the {seg} of {body.name} onto this skeleton")
        out[bones] = ref[bones] * room / ref[bones].sum()
    return out


def apply_body(joints: np.ndarray, body: Body) -> np.ndarray:
    """The motion performed by `body`: bone lengths replaced, directions and pelvis kept.

    The lowest point of the take stays at its height (feet on the floor), and
    `augment.standing_height` of the result is `(1 - ANKLE_HEIGHT) * body.stature`.

    Args:
        joints: `(T, 17, 3)` metres, world Z up.
        body: the subject.

    Returns:
        `(T, 17, 3)` metres, constant and left/right-symmetric bone lengths.
    """
    x = augment.as_joints(joints)
    out = augment.set_bone_lengths(x, body_lengths(x, body))
    out[..., 2] += x[..., 2].min() - out[..., 2].min()
    return out
