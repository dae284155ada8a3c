"""CanonPose / CVSF losses: canonicalisation, rep/view/cam, the S2 terms."""

from __future__ import annotations

import pytest
import roma
import torch

from liftbench.losses.canonical import (
    camera_loss,
    canonicalize_2d,
    cross_view_poses,
    loss_con3d,
    loss_pass_agreement,
    view_losses,
)
from liftbench.losses.reprojection import loss_reprojection_scale_free


def _rig(b=2, v=3, t=4, j=17, seed=0):
    """A true canonical pose per (sample, frame) seen by V static orthographic cameras."""
    g = torch.Generator().manual_seed(seed)
    pose = torch.randn(b, 1, t, j, 3, generator=g).expand(b, v, t, j, 3)
    pose = pose - pose[..., :1, :]
    rot = roma.rotvec_to_rotmat(torch.randn(b, v, 1, 3, generator=g)).expand(b, v, t, 3, 3)
    cam = torch.einsum("bvtkl,bvtjl->bvtjk", rot, pose)
    canon, _, _ = canonicalize_2d(cam[..., :2])
    return canon, torch.ones(b, v, t, j), pose.contiguous(), rot.contiguous()


def test_canonicalize_root_centred_unit_frobenius_and_invertible():
    x = torch.randn(3, 5, 17, 2) * 4 + 2
    canon, root, norm = canonicalize_2d(x)
    assert torch.allclose(canon[..., 0, :], torch.zeros(3, 5, 2))
    assert torch.allclose(canon.flatten(-2).norm(dim=-1), torch.ones(3, 5))
    assert torch.allclose(canon * norm[..., None, None] + root[..., None, :], x, atol=1e-5)
    zero, _, _ = canonicalize_2d(torch.zeros(2, 17, 2))
    assert torch.isfinite(zero).all()
    with pytest.raises(ValueError, match="x2d"):
        canonicalize_2d(torch.zeros(2, 17, 3))


def test_cross_view_poses():
    _, _, pose, rot = _rig()
    cross = cross_view_poses(pose, rot)
    assert cross.shape == (2, 3, 3, 4, 17, 3)
    assert torch.allclose(cross[:, 1, 2], pose[:, 2] @ rot[:, 1].mT, atol=1e-6)


def test_losses_zero_for_consistent_truth_and_positive_for_wrong_pose():
    canon, conf, pose, rot = _rig()
    rep, view = view_losses(canon, conf, pose, rot)
    cam = camera_loss(canon, conf, pose, rot, torch.Generator().manual_seed(0))
    assert rep.item() == pytest.approx(0, abs=1e-5)
    assert view.item() == pytest.approx(0, abs=1e-5)
    assert cam.item() == pytest.approx(0, abs=1e-5)
    # the pose of view 0 is the depth-mirror: its own reprojection is still perfect, the other
    # views see the error
    bad = pose.clone()
    bad[:, 0, ..., 2] = -bad[:, 0, ..., 2]
    rep, view = view_losses(canon, conf, bad, rot)
    assert rep.item() > 1e-3 or view.item() > 1e-3
    assert view.item() > 1e-3


def test_camera_loss_sees_wrong_relative_rotation():
    canon, conf, pose, rot = _rig(t=6)
    # per-frame rotations that still reproject each view perfectly on their own frame are
    # impossible to check by L_rep; L_cam exchanges relative rotations between frames
    rot_bad = rot.clone()
    twist = roma.rotvec_to_rotmat(torch.tensor([0.0, 0.0, 0.7]))
    rot_bad[:, 1, 3] = twist @ rot_bad[:, 1, 3]
    cam = camera_loss(canon, conf, pose, rot_bad, torch.Generator().manual_seed(1))
    assert cam.item() > 1e-4


def test_s2_terms():
    _, conf, pose, _ = _rig()
    assert loss_con3d(pose).item() == pytest.approx(0, abs=1e-7)
    other = pose.clone()
    other[:, 1] += 0.1
    assert loss_con3d(other).item() > 0
    assert loss_pass_agreement(pose, pose, conf).item() == 0
    p = pose.clone().requires_grad_(True)
    loss = loss_pass_agreement(p, pose, conf)
    loss.backward()
    assert torch.isfinite(p.grad).all()
    assert loss_pass_agreement(pose, pose + 0.2, conf * 0).item() == 0


def test_shape_errors():
    canon, conf, pose, rot = _rig()
    with pytest.raises(ValueError, match="conf"):
        view_losses(canon, conf[..., :5], pose, rot)
    with pytest.raises(ValueError, match="V >= 2"):
        view_losses(canon[:, :1], conf[:, :1], pose[:, :1], rot[:, :1])
    with pytest.raises(ValueError, match="rot"):
        camera_loss(canon, conf, pose, rot[..., :2])


def test_rep_is_the_mean_over_views_and_view_the_sum_over_source_views():
    """Official weighting: L_rep averages the B·V own-view terms, L_view sums over sources."""
    canon, conf, pose, rot = _rig()
    bad = pose.clone()
    bad[:, 0, ..., 0] = bad[:, 0, ..., 0] * 1.5  # only view 0's pose is wrong
    rep, view = view_losses(canon, conf, bad, rot)
    own = loss_reprojection_scale_free(canon, bad @ rot.mT, conf)  # all B·V poses at once
    assert rep.item() == pytest.approx(own.item(), rel=1e-5)
    v = canon.shape[1]
    # source view 0 seen from each other view, averaged over those V−1 views; sources 1.. exact
    seen = torch.stack([
        loss_reprojection_scale_free(canon[:, c], bad[:, 0] @ rot[:, c].mT, conf[:, c])
        for c in range(1, v)
    ]).mean()
    assert view.item() == pytest.approx(seen.item(), rel=1e-5)
    assert own.item() > 1e-3 and seen.item() > 1e-3
