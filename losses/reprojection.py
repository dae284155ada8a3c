"""2D reprojection losses of the multi-view regimes (Ingwersen et al.; CanonPose / CVSF).

Two projections, as in the papers' official code (Ingwersen et al.; CanonPose / CVSF):

- `loss_2d_weighted` (Ingwersen `loss_2d_weighted`): orthographic — the x, y channels of the
  root-relative 2.5D prediction against the root-relative observed 2D, each joint's difference
  vector multiplied by its detector confidence; the L2 norm is not squared.
- `loss_reprojection_scale_free` (CanonPose `loss_weighted_rep_no_scale`): weak perspective —
  both 2D poses divided by their RMS over the 2·J numbers, then a confidence-weighted L1.

Missing confidences (2D given with two channels) count as 1.0, with a warning.
"""

from __future__ import annotations

import warnings

import torch

_EPS = 1e-8


def split_confidence(
    x2d: torch.Tensor, name: str = "x2d"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Split `(..., J, 3)` 2D + confidence into `(..., J, 2)` and `(..., J)`.

    A `(..., J, 2)` input has no confidence: it is taken as 1.0 for every joint and a
    `UserWarning` says so.

    Raises:
        ValueError: the last axis is neither 2 nor 3.
    """
    if x2d.ndim < 2 or x2d.shape[-1] not in (2, 3):
        raise ValueError(
            f"{name} must have shape (..., J, 3) (x, y, confidence) or (..., J, 2), got "
            f"{tuple(x2d.shape)}"
        )
    if x2d.shape[-1] == 2:
        warnings.warn(
            f"{name} has no confidence channel (shape {tuple(x2d.shape)}); using confidence 1.0",
            UserWarning, stacklevel=3,
        )
        return x2d, torch.ones_like(x2d[..., 0])
    return x2d[..., :2], x2d[..., 2]


def with_confidence(x2d: torch.Tensor, name: str = "input") -> torch.Tensor:
    """`(..., J, 3)` lifter input from `x2d` `(..., J, 3)` or `(..., J, 2)`.

    A two-channel input gets confidence 1.0 appended (with a warning, see `split_confidence`).
    """
    xy, conf = split_confidence(x2d, name)
    return x2d if x2d.shape[-1] == 3 else torch.cat((xy, conf[..., None]), dim=-1)


def _masked_mean(values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is None:
        return values.mean()
    m = mask.to(values.dtype)
    return (values * m).sum() / m.sum().clamp_min(1.0)


def loss_2d_weighted(
    pred: torch.Tensor,
    observed: torch.Tensor,
    confidence: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
    root: int | None = 0,
) -> torch.Tensor:
    """Confidence-weighted orthographic 2D loss (Ingwersen et al., L_2D).

    `mean ‖c_j · (P_xy,j − G_xy,j)‖₂` over all leading axes and joints, where P_xy are the x, y
    channels of the prediction and G the observed 2D, both made relative to `root` (the 2.5D
    prediction is root-relative; the observed detections are not).

    Args:
        pred: `(..., J, 3)` (or `(..., J, 2)`) prediction, normalised units.
        observed: `(..., J, 3)` observed x, y + confidence (or `(..., J, 2)`: confidence 1.0 with
            a warning, unless `confidence` is given), same units.
        confidence: optional `(..., J)` weights overriding the third channel of `observed`.
        mask: optional bool `(..., J)`; False joints are left out of the mean.
        root: joint made the origin of both; None compares absolute coordinates.

    Returns:
        0-dim loss in the input units.
    """
    if pred.ndim < 2 or pred.shape[-1] not in (2, 3):
        raise ValueError(
            f"pred must have shape (..., J, 3) or (..., J, 2), got {tuple(pred.shape)}"
        )
    if confidence is None:
        obs, conf = split_confidence(observed, "observed")
    else:
        obs = observed[..., :2]
        conf = confidence
    if obs.shape != pred.shape[:-1] + (2,):
        raise ValueError(
            f"observed must have shape {tuple(pred.shape[:-1])} + (2 or 3,) like pred, got "
            f"{tuple(observed.shape)}"
        )
    if conf.shape != pred.shape[:-1]:
        raise ValueError(f"confidence must have shape {tuple(pred.shape[:-1])}, got "
                         f"{tuple(conf.shape)}")
    if mask is not None and mask.shape != pred.shape[:-1]:
        raise ValueError(f"mask must have shape {tuple(pred.shape[:-1])}, got {tuple(mask.shape)}")
    p = pred[..., :2]
    if root is not None:
        p = p - p[..., root : root + 1, :]
        obs = obs - obs[..., root : root + 1, :]
    err = torch.linalg.vector_norm(conf[..., None] * (p - obs), dim=-1)
    return _masked_mean(err, mask)


def rms(x2d: torch.Tensor, eps: float = _EPS) -> torch.Tensor:
    """Root mean square `(...)` over the `J·2` numbers of `(..., J, 2)` poses, at least `eps`.

    The floor is applied before the square root, so a collapsed pose has a finite gradient.
    """
    return x2d.square().mean((-2, -1)).clamp_min(eps * eps).sqrt()


def loss_reprojection_scale_free(
    pose2d: torch.Tensor,
    pose3d: torch.Tensor,
    confidence: torch.Tensor,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """CanonPose's confidence-weighted, scale-normalised reprojection loss.

    Both the 2D pose and the x, y rows of the 3D pose are divided by their own RMS over the
    `2·J` numbers (weak perspective: depth dropped, scale free), then
    `L = mean_{poses, joints} c_j·(|x̂_j − x̃_j| + |ŷ_j − ỹ_j|) / 2` — the official
    `Σ c·(|Δx| + |Δy|) / (N·2J)`. Inputs are root-centred by the caller (canonical 2D).

    Args:
        pose2d: `(..., J, 2)` target 2D (canonical units).
        pose3d: `(..., J, 3)` camera-frame 3D (or `(..., J, 2)` already projected).
        confidence: `(..., J)` per-joint weights.
        mask: optional bool `(..., J)`; False joints get weight 0 (mean over the valid ones).

    Returns:
        0-dim loss (scale-free). Collapsed poses (RMS 0) give finite values and gradients.
    """
    if pose2d.ndim < 2 or pose2d.shape[-1] != 2:
        raise ValueError(f"pose2d must have shape (..., J, 2), got {tuple(pose2d.shape)}")
    if pose3d.shape[:-1] != pose2d.shape[:-1] or pose3d.shape[-1] not in (2, 3):
        raise ValueError(
            f"pose3d must have shape {tuple(pose2d.shape[:-1])} + (3,), got {tuple(pose3d.shape)}"
        )
    if confidence.shape != pose2d.shape[:-1]:
        raise ValueError(f"confidence must have shape {tuple(pose2d.shape[:-1])}, got "
                         f"{tuple(confidence.shape)}")
    proj = pose3d[..., :2]
    # The official code divides by the RMS without a guard; a collapsed prediction would give
    # inf/NaN, so the RMS is clamped (identical values whenever the pose has any spread).
    a = pose2d / rms(pose2d)[..., None, None]
    b = proj / rms(proj)[..., None, None]
    err = confidence * (a - b).abs().sum(-1) / 2
    return _masked_mean(err, mask)
