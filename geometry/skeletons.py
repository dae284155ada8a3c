"""Skeleton conversions applied to keypoints (numpy or torch), and the skeleton API's import path.

`convert`, `flip_keypoints` and `bone_lengths` live here. The joint sets are data in
`joint_sets.py`, conversion maps are data in `joint_maps.py` (weight matrices from per-joint
recipes) and the registered ones are `conversions.py`; their public names are re-exported here,
so `from geometry.skeletons import H36M17, convert, ...` is all a caller needs.
"""

from __future__ import annotations

import numpy as np
import torch

from liftbench.geometry._validate import Array
from liftbench.geometry.conversions import CONVERSIONS, get_map, list_conversions
from liftbench.geometry.joint_maps import (
    JointMap,
    JointRecipe,
    compose,
    linear_map,
    permutation_map,
)
from liftbench.geometry.joint_sets import (
    ASPSET17,
    BODY25,
    BODY25B,
    COCO17,
    DEEPMIMIC15,
    H36M17,
    HALPE26,
    JOINT_SETS,
    MADS15,
    MADS19,
    MPI3DHP17,
    MPI3DHP28,
    ROOT,
    SKIPOSE17,
    SMPL24,
    JointSet,
    get_joint_set,
    side_color,
)

__all__ = [
    "ASPSET17", "BODY25", "BODY25B", "COCO17", "CONVERSIONS", "DEEPMIMIC15", "H36M17",
    "HALPE26", "JOINT_SETS", "MADS15", "MADS19", "MPI3DHP17", "MPI3DHP28", "ROOT", "SKIPOSE17",
    "SMPL24", "JointMap", "JointRecipe", "JointSet", "bone_lengths", "compose", "convert",
    "flip_keypoints", "get_joint_set", "get_map", "linear_map", "list_conversions",
    "permutation_map", "side_color",
]


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
    out = x[..., _as_backend(x, js.flip_array), :]
    # reflect by broadcasting (not by assigning into a slice): the same numbers, and a traced
    # graph (`liftbench export`) keeps every leading dimension dynamic
    sign, shift = np.ones(x.shape[-1]), np.zeros(x.shape[-1])
    sign[axis], shift[axis] = -1.0, 2 * center
    return out * _as_backend(x, sign) + _as_backend(x, shift)


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
