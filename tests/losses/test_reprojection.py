"""Reprojection losses: orthographic confidence-weighted L_2D and CanonPose's scale-free rep."""

from __future__ import annotations

import pytest
import torch

from liftbench.losses.reprojection import (
    loss_2d_weighted,
    loss_reprojection_scale_free,
    split_confidence,
    with_confidence,
)


def _pose(b=2, t=3, j=17, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, t, j, 3, generator=g)


def test_2d_zero_for_matching_xy_any_depth_and_root_offset():
    pred = _pose()
    pred = pred - pred[..., :1, :]
    obs = torch.cat((pred[..., :2] + torch.tensor([0.3, -0.2]), torch.ones_like(pred[..., :1])), -1)
    deeper = pred.clone()
    deeper[..., 2] = 5 * torch.randn_like(pred[..., 2])
    assert loss_2d_weighted(deeper, obs).item() == pytest.approx(0.0, abs=1e-6)


def test_2d_matches_hand_formula_and_confidence_weights():
    pred, obs = _pose(seed=1), _pose(seed=2)
    conf = torch.rand(obs.shape[:-1], generator=torch.Generator().manual_seed(3))
    obs[..., 2] = conf
    p = pred[..., :2] - pred[..., :1, :2]
    o = obs[..., :2] - obs[..., :1, :2]
    want = (conf[..., None] * (p - o)).norm(dim=-1).mean()
    assert torch.allclose(loss_2d_weighted(pred, obs), want)
    zero_conf = obs.clone()
    zero_conf[..., 2] = 0
    assert loss_2d_weighted(pred, zero_conf).item() == 0.0


def test_2d_mask_excludes_joints():
    pred, obs = _pose(seed=4), _pose(seed=5)
    mask = torch.ones(pred.shape[:-1], dtype=torch.bool)
    mask[..., 5] = False
    far = obs.clone()
    far[..., 5, :2] += 100.0
    assert torch.allclose(loss_2d_weighted(pred, obs, mask=mask),
                          loss_2d_weighted(pred, far, mask=mask))


def test_missing_confidence_is_one_with_warning():
    pred, obs = _pose(seed=6), _pose(seed=7)
    ones = obs.clone()
    ones[..., 2] = 1.0
    with pytest.warns(UserWarning, match="confidence 1.0"):
        got = loss_2d_weighted(pred, obs[..., :2])
    assert torch.allclose(got, loss_2d_weighted(pred, ones))
    with pytest.warns(UserWarning):
        xy, c = split_confidence(obs[..., :2])
    assert torch.equal(c, torch.ones(obs.shape[:-1]))
    with pytest.warns(UserWarning):
        assert with_confidence(obs[..., :2]).shape == obs.shape


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="observed"):
        loss_2d_weighted(_pose(), _pose()[:, :2])
    with pytest.raises(ValueError, match="x2d"):
        split_confidence(torch.zeros(2, 17, 4))
    with pytest.raises(ValueError, match="confidence"):
        loss_reprojection_scale_free(torch.zeros(4, 17, 2), torch.zeros(4, 17, 3),
                                     torch.zeros(4, 16))


def test_scale_free_rep_invariant_to_scale_and_depth():
    p3 = _pose(seed=8)
    p2 = p3[..., :2] * 3.7
    conf = torch.ones(p3.shape[:-1])
    assert loss_reprojection_scale_free(p2, p3, conf).item() == pytest.approx(0.0, abs=1e-6)
    other = _pose(seed=9)
    assert loss_reprojection_scale_free(other[..., :2], p3, conf).item() > 0.1


def test_scale_free_rep_matches_official_formula():
    p3, p2 = _pose(seed=10), _pose(seed=11)[..., :2]
    conf = torch.rand(p2.shape[:-1], generator=torch.Generator().manual_seed(12))
    j = p2.shape[-2]
    s2 = (p2.square().sum((-2, -1)) / (2 * j)).sqrt()
    s3 = (p3[..., :2].square().sum((-2, -1)) / (2 * j)).sqrt()
    d = (p2 / s2[..., None, None] - p3[..., :2] / s3[..., None, None]).abs()
    n = p2.shape[0] * p2.shape[1]
    want = (conf * d.sum(-1)).sum() / (n * 2 * j)
    assert torch.allclose(loss_reprojection_scale_free(p2, p3, conf), want)


def test_scale_free_rep_finite_gradient_for_collapsed_prediction():
    p3 = torch.zeros(2, 3, 17, 3, requires_grad=True)
    p2 = _pose(seed=13)[..., :2]
    loss = loss_reprojection_scale_free(p2, p3, torch.ones(p2.shape[:-1]))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(p3.grad).all()
