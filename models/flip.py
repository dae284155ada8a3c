"""Test-time flip averaging for any lifter (the MotionBERT / MotionAGFormer evaluation protocol).

`pred = (f(x) + flip(f(flip(x)))) / 2`, where `flip` negates the width-normalised x coordinate
(the mirror about the image centre, README "Conventions") and swaps left/right joints. The
confidence channel is permuted with its joints; z is unchanged. The official evaluation then
sets the predicted root to 0 — that is an evaluation-protocol step and is left to the caller.
"""

from __future__ import annotations

import torch
from torch import nn

from liftbench.geometry.skeletons import flip_keypoints, get_joint_set


def flip_average(model: nn.Module, x: torch.Tensor, joint_set: str = "h36m17") -> torch.Tensor:
    """Average a lifter's prediction on `x` and on its mirror image (un-mirrored).

    Args:
        model: any lifter mapping `(B, T, J, 3)` → `(B, T, J, 3)` (normalised 2.5D).
        x: input `(B, T, J, 3)`: width-normalised x, y and confidence.
        joint_set: joint set giving the left/right permutation (J must match).

    Returns:
        `(B, T, J, 3)` flip-averaged prediction, same units as the model's output.
    """
    js = get_joint_set(joint_set)
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[-2:] != (js.num_joints, 3):
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(
            f"flip_average: x must have shape (B, T, {js.num_joints}, 3) for joint set "
            f"{js.name!r}, got {shape}"
        )
    both = model(torch.cat([x, flip_keypoints(x, js)]))  # one batched call
    # slices, not `split(B)`: an ONNX export then keeps the batch size B dynamic
    pred, pred_mirrored = both[: x.shape[0]], both[x.shape[0] :]
    if pred.shape[-2] != js.num_joints:
        raise ValueError(
            f"flip_average: the model returned {tuple(pred.shape)}, expected (B, T, "
            f"{js.num_joints}, C) in joint set {js.name!r}"
        )
    return 0.5 * (pred + flip_keypoints(pred_mirrored, js))
