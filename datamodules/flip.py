"""Horizontal-flip augmentation of clip batches (the batch contract of `clips.py`).

Flip: a horizontal image flip negates camera x and swaps left/right joints. Applied to a
multi-view sample it flips every view and mirrors the world (`x → −x`); the cameras become
`R' = F R M`, `t' = F t`, `K' = A K F` (F = M = diag(−1, 1, 1), A maps u → W − u), `p2 → −p2`,
so the flipped 3D still projects onto the flipped 2D of every view. Flipping twice is the
identity.
"""

from __future__ import annotations

import torch

from liftbench.geometry.skeletons import H36M17, JointSet

# Keys whose trailing joint axis is permuted by a flip, with whether channel 0 is negated.
_POSE_KEYS = {"input": True, "target": True, "target_mm": True, "pose3d_world": True}


def flip_pose(x: torch.Tensor, joint_set: JointSet = H36M17) -> torch.Tensor:
    """Horizontal flip of normalised poses `(..., J, C)`: negate channel 0, swap left/right."""
    out = x.index_select(-2, torch.as_tensor(joint_set.flip_array, device=x.device))
    out[..., 0] = -out[..., 0]
    return out


def flip_batch(
    batch: dict[str, torch.Tensor], mask: torch.Tensor, joint_set: JointSet = H36M17
) -> dict[str, torch.Tensor]:
    """Flip the samples selected by `mask` consistently across every key (see module doc).

    Args:
        batch: a batch following the contract (single- or multi-view; extra keys untouched).
        mask: `(B,)` bool, True = flip this sample (all its views together).
        joint_set: the joint set (for the left/right permutation).

    Returns:
        A new dict; unflipped samples are unchanged.
    """
    perm = torch.as_tensor(joint_set.flip_array)
    out = dict(batch)
    b = mask.shape[0]

    def sel(key: str, new: torch.Tensor) -> None:
        m = mask.reshape((b,) + (1,) * (batch[key].dim() - 1))
        out[key] = torch.where(m, new, batch[key])

    for key in _POSE_KEYS:
        if key in batch:
            sel(key, flip_pose(batch[key], joint_set))
    if "valid" in batch:
        sel("valid", batch["valid"].index_select(-1, perm.to(batch["valid"].device)))
    size = batch.get("image_size")
    if "pose2d_px" in batch:
        w = size[..., 0].to(batch["pose2d_px"].dtype)[:, :, None, None]
        new = batch["pose2d_px"].index_select(-2, perm.to(w.device))
        new[..., 0] = w - new[..., 0]
        sel("pose2d_px", new)
    f = torch.tensor([-1.0, 1.0, 1.0])
    if "K" in batch:
        k = batch["K"]
        new = k * f.to(k.dtype)  # K F: negate column 0
        new = torch.cat([-new[..., :1, :], new[..., 1:, :]], dim=-2)  # A: u → −u …
        new[..., 0, :] = new[..., 0, :] + size[..., 0:1].to(k.dtype) * new[..., 2, :]  # … + W
        sel("K", new)
    if "R" in batch:
        r = batch["R"]
        sel("R", r * f.to(r.dtype)[:, None] * f.to(r.dtype)[None, :])  # F R M
    if "t" in batch:
        sel("t", batch["t"] * f.to(batch["t"].dtype))
    if "dist" in batch:
        sign = torch.tensor([1.0, 1.0, 1.0, -1.0, 1.0], dtype=batch["dist"].dtype)
        sel("dist", batch["dist"] * sign)
    return out
