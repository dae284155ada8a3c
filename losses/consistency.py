"""Multi-view consistency loss L_con (Ingwersen et al., "Two Views Are Better than One").

For every pair of synchronised views (i, j) of one sample, the prediction of view i is aligned
onto that of view j by one similarity transform (Umeyama: proper rotation, isotropic scale,
translation) and the remaining MPJPE is the loss (Ingwersen et al.'s consistency loss). One
transform per whole sequence for static cameras (`per="sequence"`, the official
`consistency_loss`), or one per frame for moving / PTZ cameras (`per="frame"`, the official
`consistency_loss_moving_camera`). Gradients flow through the transform.

Choices (reproduce or fix), also in the README section of the regime:

- Masking: the pair's points are weighted by `valid_i & valid_j` in the fit and in the mean —
  the masked variant the released code meant but cannot run (it references an undefined
  `masks`; `loss_consistency` is called but never defined).
- Degenerate collapse (paper §3, code "TODO: Can VarP be 0?"): L_con alone is minimised by
  shrinking the target view to a point (scale → 0 gives zero error). Fixed here:
  `symmetric=True` (default) averages i→j and j→i, so a collapsed view costs the other view's
  full spread; the source variance is guarded (scale 0, never a division by 0); alignment sets
  with fewer than 3 valid points (no defined rotation) are left out of the mean. The global
  collapse of all views together is not something L_con can see: L_2D anchors it.
- Alignment direction: the official code aligns i onto j only (asymmetric); `symmetric=False`
  reproduces that.
"""

from __future__ import annotations

import itertools

import torch

from liftbench.geometry.procrustes import procrustes

_MIN_POINTS = 3


def view_pairs(views: int, symmetric: bool = True) -> list[tuple[int, int]]:
    """Ordered (source, target) pairs: i<j pairs, plus the reversed ones when `symmetric`."""
    pairs = list(itertools.combinations(range(views), 2))
    return pairs + [(j, i) for i, j in pairs] if symmetric else pairs


def consistency_loss(
    poses: torch.Tensor,
    mask: torch.Tensor | None = None,
    per: str = "sequence",
    symmetric: bool = True,
) -> torch.Tensor:
    """L_con: mean over samples and view pairs of the MPJPE after similarity alignment.

    Args:
        poses: `(B, V, T, J, 3)` predictions of the V views (any units; the loss is in the
            target view's units), V >= 2.
        mask: optional bool `(B, V, T, J)`; a pair uses the points valid in both views.
        per: `"sequence"` (one transform per pair and sample, static rig) or `"frame"` (one per
            frame, moving cameras).
        symmetric: average both alignment directions (collapse guard, see module docstring).

    Returns:
        0-dim loss; 0 exactly when every pair of views differs by a similarity transform
        (scale > 0). Finite with finite gradients for collapsed or all-masked inputs.

    Raises:
        ValueError: wrong shapes, V < 2, or an unknown `per`.
    """
    if poses.ndim != 5 or poses.shape[-1] != 3:
        raise ValueError(f"poses must have shape (B, V, T, J, 3), got {tuple(poses.shape)}")
    if poses.shape[1] < 2:
        raise ValueError(
            f"consistency_loss needs at least 2 views (poses (B, V, T, J, 3) with V >= 2), got "
            f"V={poses.shape[1]}"
        )
    if per not in ("sequence", "frame"):
        raise ValueError(f"per must be 'sequence' or 'frame', got {per!r}")
    if mask is not None and mask.shape != poses.shape[:-1]:
        raise ValueError(f"mask must have shape {tuple(poses.shape[:-1])} (B, V, T, J), got "
                         f"{tuple(mask.shape)}")
    pairs = view_pairs(poses.shape[1], symmetric)
    src = poses[:, [i for i, _ in pairs]]  # (B, P, T, J, 3)
    dst = poses[:, [j for _, j in pairs]]
    if mask is None:
        m = torch.ones(src.shape[:-1], dtype=torch.bool, device=poses.device)
    else:
        m = mask[:, [i for i, _ in pairs]] & mask[:, [j for _, j in pairs]]
    aligned = procrustes(src, dst, mask=m, per=per)[0]
    err = torch.linalg.vector_norm(aligned - dst, dim=-1)  # (B, P, T, J)
    # Alignment sets with < 3 valid points have no defined rotation: leave them out.
    set_dims = (-2, -1) if per == "sequence" else (-1,)
    count = m.sum(set_dims, keepdim=True)
    use = m & (count >= _MIN_POINTS)
    w = use.to(err.dtype)
    return (torch.where(use, err, 0) * w).sum() / w.sum().clamp_min(1.0)
