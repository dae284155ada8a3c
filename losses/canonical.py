"""Canonical self-supervised losses: CanonPose (Wandt et al.) and CVSF (Kim et al.).

Notation (after the official CVSF code): per sample and frame, view c has canonical 2D `p_c`
(root-centred, divided by the Frobenius norm of its (J, 2) matrix), confidences `w_c`, and the
lifter predicts a canonical 3D pose `P_c` and a camera rotation `R_c`. All reprojections use
`losses.reprojection.loss_reprojection_scale_free` (`rep`).

- L_rep  = mean_c rep(p_c, R_c P_c)                    (own view)
- L_view = Σ_c mean_{c'≠c} rep(p_c', R_c' P_c)         (the canonical pose of c seen from c')
- L_cam  = Σ_c mean_{c'≠c} rep(p_c', R̃_{cc'} R_c P_c)  (relative rotation of another sample of
  the same static rig)
- L_furep, L_fuview: L_rep, L_view against the fusion-refined 2D (`models.fusion`).
- L_con3D  = Σ_{c<c'} mean|P²_c − P²_c'|               (second lifting pass, CVSF S2)
- L_agree  = mean_j √w_j·‖P_j − P²_j‖                  (first vs second pass, CVSF S2)

Choices: L_cam's relative rotations are permuted over the frames of the same clip (one static
rig, so the relative rotation is shared by all its frames) instead of the official shuffling
across batch samples of the same subject, which only happens to hit the same rig when the batch
holds several samples of it. L_agree takes the norm and the square root of the confidence
separately (the official `√(‖ΔP‖²·w)`; identical values, finite gradients at ΔP = 0).
"""

from __future__ import annotations

import itertools

import torch

from liftbench.losses.reprojection import loss_reprojection_scale_free

_EPS = 1e-8


def canonicalize_2d(
    x2d: torch.Tensor, root: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """CanonPose input normalisation: root-centred, divided by the Frobenius norm.

    Args:
        x2d: `(..., J, 2)` 2D poses (any unit).
        root: root joint index.

    Returns:
        `(canonical (..., J, 2), root (..., 2), norm (...))` with
        `x2d = canonical · norm + root`. A collapsed pose (norm 0) stays 0 (norm clamped).
    """
    if x2d.ndim < 2 or x2d.shape[-1] != 2:
        raise ValueError(f"x2d must have shape (..., J, 2), got {tuple(x2d.shape)}")
    r = x2d[..., root, :]
    centred = x2d - r[..., None, :]
    norm = torch.linalg.vector_norm(centred.flatten(-2), dim=-1).clamp_min(_EPS)
    return centred / norm[..., None, None], r, norm


def _check(p2d: torch.Tensor, conf: torch.Tensor, pose: torch.Tensor, rot: torch.Tensor) -> None:
    if p2d.ndim < 3 or p2d.shape[-1] != 2:
        raise ValueError(f"p2d must have shape (B, V, ..., J, 2), got {tuple(p2d.shape)}")
    lead = p2d.shape[:-1]
    if conf.shape != lead:
        raise ValueError(f"conf must have shape {tuple(lead)}, got {tuple(conf.shape)}")
    if pose.shape != lead + (3,):
        raise ValueError(f"pose must have shape {tuple(lead) + (3,)}, got {tuple(pose.shape)}")
    if rot.shape != lead[:-1] + (3, 3):
        raise ValueError(
            f"rot must have shape {tuple(lead[:-1]) + (3, 3)}, got {tuple(rot.shape)}"
        )
    if p2d.shape[1] < 2:
        raise ValueError(f"the view axis (dim 1) needs V >= 2, got V={p2d.shape[1]}")


def cross_view_poses(pose: torch.Tensor, rot: torch.Tensor) -> torch.Tensor:
    """`R_v P_c` for every target view v and source view c.

    Args:
        pose: `(B, V, ..., J, 3)` canonical poses.
        rot: `(B, V, ..., 3, 3)` rotations.

    Returns:
        `(B, V_target, V_source, ..., J, 3)`.
    """
    return torch.einsum("bv...kl,bc...jl->bvc...jk", rot, pose)


def view_losses(
    p2d: torch.Tensor,
    conf: torch.Tensor,
    pose: torch.Tensor,
    rot: torch.Tensor,
    mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """`(L_rep, L_view)` of CanonPose (or `(L_furep, L_fuview)` with refined 2D as `p2d`).

    Args:
        p2d: `(B, V, ..., J, 2)` canonical 2D per view.
        conf: `(B, V, ..., J)` confidences of `p2d`.
        pose: `(B, V, ..., J, 3)` predicted canonical poses.
        rot: `(B, V, ..., 3, 3)` predicted rotations (canonical → camera).
        mask: optional bool `(B, V, ..., J)`.

    Returns:
        Two 0-dim losses, as the official code (CanonPose `train.py`, CVSF S1/S2): L_rep is
        the mean over the B·V poses (one call on all views); L_view is summed over the V source
        views, each averaged over the samples and the V−1 other views.
    """
    _check(p2d, conf, pose, rot)
    v = p2d.shape[1]
    cross = cross_view_poses(pose, rot)  # (B, Vt, Vs, ..., J, 3)
    target = p2d[:, :, None].expand(-1, -1, v, *p2d.shape[2:])
    w = conf[:, :, None].expand(-1, -1, v, *conf.shape[2:])
    m = None if mask is None else mask[:, :, None].expand(-1, -1, v, *mask.shape[2:])
    eye = torch.eye(v, dtype=torch.bool, device=p2d.device)
    diag, off = eye.nonzero(as_tuple=True), (~eye).nonzero(as_tuple=True)
    rep = loss_reprojection_scale_free(
        target[:, diag[0], diag[1]], cross[:, diag[0], diag[1]], w[:, diag[0], diag[1]],
        None if m is None else m[:, diag[0], diag[1]],
    )
    view = loss_reprojection_scale_free(
        target[:, off[0], off[1]], cross[:, off[0], off[1]], w[:, off[0], off[1]],
        None if m is None else m[:, off[0], off[1]],
    )
    return rep, view * v


def camera_loss(
    p2d: torch.Tensor,
    conf: torch.Tensor,
    pose: torch.Tensor,
    rot: torch.Tensor,
    generator: torch.Generator | None = None,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """L_cam for a static rig: relative rotations exchanged between frames of the same clip.

    For frames t and π(t) (π a random permutation of the T frames) of one sample,
    `R_c'(π t) R_c(π t)ᵀ` must map `R_c(t) P_c(t)` onto the 2D of view c' at frame t.

    Args:
        p2d: `(B, V, T, J, 2)` canonical 2D.
        conf: `(B, V, T, J)` confidences.
        pose: `(B, V, T, J, 3)` canonical poses.
        rot: `(B, V, T, 3, 3)` rotations.
        generator: random source of the permutation.
        mask: optional bool `(B, V, T, J)`.

    Returns:
        0-dim loss, summed over source views. With T = 1 it equals L_view.
    """
    _check(p2d, conf, pose, rot)
    if p2d.ndim != 5:
        raise ValueError(f"camera_loss needs p2d (B, V, T, J, 2), got {tuple(p2d.shape)}")
    v, t = p2d.shape[1], p2d.shape[2]
    perm = torch.randperm(t, generator=generator).to(p2d.device)
    rp = rot[:, :, perm]  # (B, V, T, 3, 3)
    rel = torch.einsum("bvtkl,bctml->bvctkm", rp, rp)  # R_v R_cᵀ (B, Vt, Vs, T, 3, 3)
    cam = torch.einsum("bctkl,bctjl->bctjk", rot, pose)  # R_c P_c
    moved = torch.einsum("bvctkl,bctjl->bvctjk", rel, cam)
    off = (~torch.eye(v, dtype=torch.bool, device=p2d.device)).nonzero(as_tuple=True)
    target = p2d[:, off[0]]
    w = conf[:, off[0]]
    m = None if mask is None else mask[:, off[0]]
    return loss_reprojection_scale_free(target, moved[:, off[0], off[1]], w, m) * v


def loss_con3d(pose2: torch.Tensor) -> torch.Tensor:
    """CVSF S2 L_con3D: Σ over view pairs of the mean |P²_c − P²_c'| of canonical poses.

    Args:
        pose2: `(B, V, ..., J, 3)` canonical poses of the second lifting pass, V >= 2.
    """
    if pose2.ndim < 4 or pose2.shape[1] < 2 or pose2.shape[-1] != 3:
        raise ValueError(f"pose2 must have shape (B, V>=2, ..., J, 3), got {tuple(pose2.shape)}")
    pairs = list(itertools.combinations(range(pose2.shape[1]), 2))
    a = pose2[:, [i for i, _ in pairs]]
    b = pose2[:, [j for _, j in pairs]]
    return (a - b).abs().mean() * len(pairs)


def loss_pass_agreement(
    pose: torch.Tensor, pose2: torch.Tensor, conf: torch.Tensor
) -> torch.Tensor:
    """CVSF S2 L_pred3D1to2: `mean_j √w_j · ‖P_j − P²_j‖` between the two lifting passes.

    Args:
        pose: `(..., J, 3)` first-pass canonical poses.
        pose2: `(..., J, 3)` second-pass canonical poses.
        conf: `(..., J)` confidences.
    """
    if pose.shape != pose2.shape or pose.shape[-1] != 3 or conf.shape != pose.shape[:-1]:
        raise ValueError(
            f"pose and pose2 must have the same shape (..., J, 3) and conf (..., J), got "
            f"{tuple(pose.shape)}, {tuple(pose2.shape)}, {tuple(conf.shape)}"
        )
    return (conf.clamp_min(0).sqrt() * torch.linalg.vector_norm(pose - pose2, dim=-1)).mean()
