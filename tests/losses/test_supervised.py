import numpy as np
import pytest
import torch

from liftbench.losses.supervised import (
    limb_lengths,
    loss_limb_gt,
    loss_limb_var,
    loss_mpjpe,
    loss_n_mpjpe,
    loss_velocity,
    supervised_loss,
)


@pytest.fixture
def pair():
    g = torch.Generator().manual_seed(0)
    target = torch.randn(2, 5, 17, 3, generator=g, dtype=torch.float64)
    pred = target + 0.1 * torch.randn(2, 5, 17, 3, generator=g, dtype=torch.float64)
    return pred, target


def test_mpjpe_matches_numpy(pair):
    pred, target = pair
    ref = np.linalg.norm(pred.numpy() - target.numpy(), axis=-1).mean()
    assert loss_mpjpe(pred, target).item() == pytest.approx(ref, rel=1e-12)


def test_n_mpjpe_is_scale_invariant_and_matches_reference(pair):
    pred, target = pair
    p, t = pred.numpy(), target.numpy()
    ref = []
    for b in range(p.shape[0]):
        for f in range(p.shape[1]):
            s = (t[b, f] * p[b, f]).sum() / (p[b, f] ** 2).sum()
            ref.append(np.linalg.norm(s * p[b, f] - t[b, f], axis=-1).mean())
    assert loss_n_mpjpe(pred, target).item() == pytest.approx(np.mean(ref), rel=1e-10)
    assert loss_n_mpjpe(3.7 * pred, target).item() == pytest.approx(np.mean(ref), rel=1e-10)


def test_velocity_zero_for_constant_offset(pair):
    _, target = pair
    assert loss_velocity(target + 1.0, target).item() == pytest.approx(0.0, abs=1e-12)
    assert loss_velocity(target[:, :1], target[:, :1]).item() == 0.0


def test_mask_excludes_joints_and_nan_free(pair):
    pred, target = pair
    pred = pred.clone()
    pred[0, 0, 3] = 1e6  # a wild joint that the mask removes
    mask = torch.ones(pred.shape[:-1], dtype=torch.bool)
    mask[0, 0, 3] = False
    d = torch.linalg.vector_norm(pred - target, dim=-1)
    assert loss_mpjpe(pred, target, mask).item() == pytest.approx(d[mask].mean().item())
    empty = torch.zeros_like(mask)
    p = pred.clone().requires_grad_(True)
    out = supervised_loss(p, target, empty)["loss"]
    out.backward()
    assert out.item() == 0.0 and torch.isfinite(p.grad).all()


def test_limb_terms(pair):
    pred, target = pair
    assert limb_lengths(target).shape == (2, 5, 16)
    assert loss_limb_gt(target, target).item() == 0.0
    rigid = target[:, :1].expand(-1, 5, -1, -1)
    assert loss_limb_var(rigid).item() == pytest.approx(0.0, abs=1e-20)


def test_weights_and_terms(pair):
    pred, target = pair
    out = supervised_loss(pred, target, w_pos=1, w_scale=0.5, w_vel=20)
    expected = out["mpjpe"] + 0.5 * out["n_mpjpe"] + 20 * out["velocity"]
    assert out["loss"].item() == pytest.approx(expected.item())


def test_shape_errors():
    with pytest.raises(ValueError, match="same shape"):
        loss_mpjpe(torch.zeros(1, 2, 17, 3), torch.zeros(1, 2, 16, 3))
    with pytest.raises(ValueError, match="mask must have shape"):
        loss_mpjpe(torch.zeros(1, 2, 17, 3), torch.zeros(1, 2, 17, 3), torch.ones(1, 2, 16).bool())
