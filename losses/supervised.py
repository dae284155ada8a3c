"""Supervised 3D losses (MotionBERT / MotionAGFormer / KASportsFormer formulas).

The formulas as in MotionBERT's `lib/model/loss.py`.

All functions take `pred` and `target` of shape `(B, T, J, 3)` (any leading dims before `T, J, 3`
work) in the lifter's normalised 2.5D units and return a 0-dim tensor. An optional boolean `mask`
`(B, T, J)` excludes joints (missing labels); the mean is then taken over the valid entries only,
and an all-invalid batch gives 0 with a gradient of 0 (never NaN).
"""

from __future__ import annotations

import torch

from liftbench.geometry.skeletons import H36M17

_EPS = 1e-8


def _check_pair(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None) -> None:
    if pred.shape != target.shape:
        raise ValueError(
            f"pred and target must have the same shape (..., T, J, 3), got {tuple(pred.shape)} "
            f"and {tuple(target.shape)}"
        )
    if pred.ndim < 3 or pred.shape[-1] != 3:
        raise ValueError(f"pred must have shape (..., T, J, 3), got {tuple(pred.shape)}")
    if mask is not None and mask.shape != pred.shape[:-1]:
        raise ValueError(
            f"mask must have shape {tuple(pred.shape[:-1])} (..., T, J), got {tuple(mask.shape)}"
        )


def _masked_mean(values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean of `values` over the entries where `mask` is true (all entries when None)."""
    if mask is None:
        return values.mean()
    m = mask.to(values.dtype)
    return (values * m).sum() / m.sum().clamp_min(1.0)


def loss_mpjpe(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean per-joint L2 distance, in the input units (MotionBERT `loss_mpjpe`)."""
    _check_pair(pred, target, mask)
    return _masked_mean(torch.linalg.vector_norm(pred - target, dim=-1), mask)


def loss_n_mpjpe(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """MPJPE after the per-frame optimal scale of `pred` (no rotation), MotionBERT `n_mpjpe`.

    The scale `s = Σ_J⟨t, p⟩ / Σ_J⟨p, p⟩` is computed over the valid joints of each frame.
    """
    _check_pair(pred, target, mask)
    m = torch.ones_like(pred[..., 0]) if mask is None else mask.to(pred.dtype)
    num = ((target * pred).sum(-1) * m).sum(-1, keepdim=True)
    den = ((pred * pred).sum(-1) * m).sum(-1, keepdim=True)
    scale = num / den.clamp_min(_EPS)
    return loss_mpjpe(scale.unsqueeze(-1) * pred, target, mask)


def loss_velocity(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean L2 error of the frame-to-frame velocities; 0 when T ≤ 1 (MotionBERT `loss_velocity`)."""
    _check_pair(pred, target, mask)
    if pred.shape[-3] <= 1:
        return pred.sum() * 0.0
    dp = pred[..., 1:, :, :] - pred[..., :-1, :, :]
    dt = target[..., 1:, :, :] - target[..., :-1, :, :]
    m = None if mask is None else mask[..., 1:, :] & mask[..., :-1, :]
    return _masked_mean(torch.linalg.vector_norm(dp - dt, dim=-1), m)


def limb_lengths(x: torch.Tensor, parents: tuple[int, ...] = H36M17.parents) -> torch.Tensor:
    """Bone lengths `(..., T, J-1)` of poses `(..., T, J, 3)` along the kinematic tree."""
    child = [c for c, p in enumerate(parents) if p >= 0]
    parent = [p for p in parents if p >= 0]
    return torch.linalg.vector_norm(x[..., child, :] - x[..., parent, :], dim=-1)


def loss_limb_var(pred: torch.Tensor) -> torch.Tensor:
    """Mean over bones of the temporal variance of each bone length (MotionBERT `loss_limb_var`)."""
    if pred.shape[-3] <= 1:
        return pred.sum() * 0.0
    return limb_lengths(pred).var(dim=-2).mean()


def loss_limb_gt(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """L1 between predicted and target bone lengths (MotionBERT `loss_limb_gt`)."""
    _check_pair(pred, target, mask)
    diff = (limb_lengths(pred) - limb_lengths(target)).abs()
    if mask is None:
        return diff.mean()
    child = [c for c, p in enumerate(H36M17.parents) if p >= 0]
    parent = [p for p in H36M17.parents if p >= 0]
    return _masked_mean(diff, mask[..., child] & mask[..., parent])


def supervised_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    w_pos: float = 1.0,
    w_scale: float = 0.5,
    w_vel: float = 20.0,
    w_limb_var: float = 0.0,
    w_limb_gt: float = 0.0,
) -> dict[str, torch.Tensor]:
    """The papers' total loss `w_pos·MPJPE + w_scale·N-MPJPE + w_vel·velocity (+ bone terms)`.

    Defaults are the MotionBERT / MotionAGFormer / KASportsFormer configuration (1, 0.5, 20; bone
    terms off). Returns the weighted `loss` and each unweighted term (for logging).
    """
    terms = {
        "mpjpe": loss_mpjpe(pred, target, mask),
        "n_mpjpe": loss_n_mpjpe(pred, target, mask),
        "velocity": loss_velocity(pred, target, mask),
    }
    total = w_pos * terms["mpjpe"] + w_scale * terms["n_mpjpe"] + w_vel * terms["velocity"]
    if w_limb_var:
        terms["limb_var"] = loss_limb_var(pred)
        total = total + w_limb_var * terms["limb_var"]
    if w_limb_gt:
        terms["limb_gt"] = loss_limb_gt(pred, target, mask)
        total = total + w_limb_gt * terms["limb_gt"]
    terms["loss"] = total
    return terms
