"""Cross-view self-fusion: refines planted wrong joints toward the epipolar intersection."""

from __future__ import annotations

import pytest
import roma
import torch

from liftbench.losses.canonical import canonicalize_2d
from liftbench.models.fusion import CrossViewFusion

WRIST = 13


def _scene(seed=0):
    """4 orthographic views (different elevations, so epipolar lines are not parallel)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(17, 3, generator=g) * 0.3
    x = x - x[:1]
    tilt = roma.rotvec_to_rotmat(torch.tensor([[t, 0, 0.0] for t in (0.0, 0.5, -0.4, 0.8)]))
    pan = roma.rotvec_to_rotmat(torch.tensor([[0, a, 0.0] for a in (0.0, 1.2, 2.4, -1.0)]))
    rot = tilt @ pan
    cam = torch.einsum("vkl,jl->vjk", rot, x)
    canon, _, _ = canonicalize_2d(cam[..., :2])
    return canon, x, rot


def _plant(canon, view=0, joint=WRIST, offset=(0.2, -0.15)):
    p = canon.clone()
    conf = torch.full(p.shape[:-1], 0.95)
    p[view, joint] += torch.tensor(offset)
    conf[view, joint] = 0.2
    return p, conf


@pytest.mark.parametrize("joint_maps, epipolar", [(True, True), (False, True), (True, False)])
def test_planted_wrong_joint_moves_to_the_truth(joint_maps, epipolar):
    canon, x, rot = _scene()
    p, conf = _plant(canon)
    pose = x.expand(4, 17, 3)
    fusion = CrossViewFusion(use_joint=joint_maps, use_epipolar=epipolar)
    refined, replaced = fusion(p[None], conf[None], pose[None], rot[None])
    before = (p[0, WRIST] - canon[0, WRIST]).norm()
    after = (refined[0, 0, WRIST] - canon[0, WRIST]).norm()
    assert after < 0.1 * before and after <= 1.5 / 64  # integer-pixel resolution of 64²
    assert replaced.sum() == 1 and replaced[0, 0, WRIST]
    untouched = torch.ones(4, 17, dtype=torch.bool)
    untouched[0, WRIST] = False
    assert torch.equal(refined[0][untouched], p[untouched])


def test_epipolar_intersection_wins_when_the_lifter_is_wrong_too():
    """The lifter's pose has the joint wrong as well: only the other views' rays are right."""
    canon, x, rot = _scene(seed=2)
    p, conf = _plant(canon, offset=(-0.15, 0.2))
    bad = x.clone()
    bad[WRIST] += torch.tensor([0.25, 0.2, -0.1])
    pose = bad.expand(4, 17, 3)
    fusion = CrossViewFusion(use_joint=False)
    refined, _ = fusion(p[None], conf[None], pose[None], rot[None])
    before = (p[0, WRIST] - canon[0, WRIST]).norm()
    after = (refined[0, 0, WRIST] - canon[0, WRIST]).norm()
    assert after < 0.25 * before, (before, after)


def test_epipolar_lines_only_inside_the_window():
    """Official window x ∈ (0.2, 0.8)·64: a joint at canonical x = 0.42 gets no line there."""
    canon, x, rot = _scene(seed=1)
    assert canon[0, WRIST, 0] > 0.3
    p, conf = _plant(canon, offset=(-0.15, 0.2))
    pose = x.expand(4, 17, 3)[None]
    narrow, _ = CrossViewFusion(use_joint=False)(p[None], conf[None], pose, rot[None])
    wide, _ = CrossViewFusion(use_joint=False, window_x=(0.0, 1.0), window_y=(0.0, 1.0))(
        p[None], conf[None], pose, rot[None])
    assert (wide[0, 0, WRIST] - canon[0, WRIST]).norm() <= 1.5 / 64
    assert (narrow[0, 0, WRIST] - canon[0, WRIST]).norm() > 0.1


def test_confident_and_excepted_joints_unchanged():
    canon, x, rot = _scene()
    conf = torch.full((4, 17), 0.95)
    conf[:, 0] = 0.1  # the root is never refined
    fusion = CrossViewFusion()
    refined, replaced = fusion(canon[None], conf[None], x.expand(4, 17, 3)[None], rot[None])
    assert not replaced.any() and torch.equal(refined[0], canon)


def test_single_epipolar_line_is_dropped():
    canon, x, rot = _scene()
    p, conf = _plant(canon[:2])
    fusion = CrossViewFusion(use_joint=False)
    refined, replaced = fusion(p[None], conf[None], x.expand(2, 17, 3)[None], rot[:2][None])
    # with 2 views the only line does not localise the joint: no mass, joint kept
    assert replaced[0, 0, WRIST] and torch.equal(refined[0, 0, WRIST], p[0, WRIST])


def test_batched_leading_axes_and_no_grad():
    canon, x, rot = _scene()
    p, conf = _plant(canon)
    pose = x.expand(4, 17, 3).clone().requires_grad_(True)
    lead = (2, 3)
    refined, replaced = CrossViewFusion()(
        p.expand(*lead, 4, 17, 2), conf.expand(*lead, 4, 17), pose.expand(*lead, 4, 17, 3),
        rot.expand(*lead, 4, 3, 3),
    )
    assert refined.shape == (*lead, 4, 17, 2) and replaced.shape == (*lead, 4, 17)
    assert not refined.requires_grad
    assert torch.allclose(refined[1, 2], refined[0, 0])


def test_bad_input():
    canon, x, rot = _scene()
    fusion = CrossViewFusion()
    conf = torch.ones(4, 17)
    with pytest.raises(ValueError, match="V >= 2"):
        fusion(canon[:1], conf[:1], x[None], rot[:1])
    with pytest.raises(ValueError, match="rot"):
        fusion(canon, conf, x.expand(4, 17, 3), rot[..., :2])
    with pytest.raises(ValueError, match="use_joint"):
        CrossViewFusion(use_joint=False, use_epipolar=False)
