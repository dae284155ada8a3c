"""The HeatPose head: shapes, the volume's separable + CP structure, memory figures, training."""

import pytest
import torch

from liftbench.losses.heatpose import HeatPoseGrid, decode_heatpose, heatpose_ce, heatpose_target
from liftbench.models.heads import MAX_VOLUME_BINS, HeatPoseHead


@pytest.mark.parametrize(("mode", "shape"), [("factorised", (2, 5, 17, 3, 9)),
                                             ("volume", (2, 5, 17, 9, 9, 9))])
def test_shapes_and_gradients(mode, shape):
    torch.manual_seed(0)
    head = HeatPoseHead(16, bins=9, mode=mode, hidden=8, rank=2)
    feats = torch.randn(2, 5, 17, 16, requires_grad=True)
    out = head(feats)
    assert out.shape == shape and torch.isfinite(out).all()
    (out * torch.randn(shape)).sum().backward()
    assert feats.grad.abs().sum() > 0
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in head.parameters())


def test_volume_logits_are_separable_plus_cp():
    torch.manual_seed(0)
    head = HeatPoseHead(8, bins=5, mode="volume", hidden=4, rank=0)
    vol = head(torch.randn(1, 1, 17, 8))[0, 0, 3]
    # rank 0: z = a(x) + b(y) + c(z), so the softmax is the product of its axis marginals
    p = torch.softmax(vol.flatten(), 0).view(5, 5, 5)
    px, py, pz = p.sum((1, 2)), p.sum((0, 2)), p.sum((0, 1))
    torch.testing.assert_close(p, px[:, None, None] * py[None, :, None] * pz[None, None, :])
    head = HeatPoseHead(8, bins=5, mode="volume", hidden=4, rank=3)
    vol = head(torch.randn(1, 1, 17, 8))[0, 0, 3]
    p = torch.softmax(vol.flatten(), 0).view(5, 5, 5)
    px, py, pz = p.sum((1, 2)), p.sum((0, 2)), p.sum((0, 1))
    assert not torch.allclose(p, px[:, None, None] * py[None, :, None] * pz[None, None, :])


def test_memory_figures():
    f = HeatPoseHead(64, bins=65)
    assert f.logits_per_sample(27) == 27 * 17 * 3 * 65
    assert f.bytes_per_sample(27) == 27 * 17 * 3 * 65 * 4  # 358 KB per 27-frame clip
    v = HeatPoseHead(64, bins=33, mode="volume")
    assert v.bytes_per_sample(27) == 27 * 17 * 33**3 * 4
    # the head's parameters do not grow with N³ in volume mode
    assert sum(p.numel() for p in v.parameters()) < 200_000
    assert v(torch.zeros(1, 2, 17, 64)).numel() == v.logits_per_sample(2)


def test_bad_arguments_and_input():
    with pytest.raises(ValueError, match="mode"):
        HeatPoseHead(8, mode="cube")
    with pytest.raises(ValueError, match="factorised"):
        HeatPoseHead(8, bins=MAX_VOLUME_BINS + 1, mode="volume")
    head = HeatPoseHead(8, bins=9)
    with pytest.raises(ValueError, match=r"\(B, T, J, 8\)"):
        head(torch.zeros(1, 2, 17, 7))
    with pytest.raises(ValueError, match=r"\(B, T, J, 8\)"):
        head(torch.zeros(2, 17, 8))


@pytest.mark.parametrize("mode", ["factorised", "volume"])
def test_head_on_lifter_features_fits_one_batch(mode):
    # per-frame features + head fit one batch of poses with the CE loss; the decoded error falls
    torch.manual_seed(0)
    feats = torch.nn.Sequential(torch.nn.Flatten(-2), torch.nn.Linear(51, 17 * 16),
                                torch.nn.Unflatten(-1, (17, 16)))
    bins = 33 if mode == "factorised" else 11
    grid = HeatPoseGrid(extent=0.4, bins=bins)
    head = HeatPoseHead(16, bins=bins, mode=mode, hidden=32, rank=2)
    x = torch.randn(4, 3, 17, 3) * 0.2
    x[..., 2] = 1.0
    pose = torch.cat([x[..., :2], 0.5 * x[..., :1]], -1)
    pose = pose - pose[..., :1, :]
    target = heatpose_target(pose, grid, mode)
    opt = torch.optim.Adam([*feats.parameters(), *head.parameters()], lr=5e-3)

    def error() -> float:
        with torch.no_grad():
            pred = decode_heatpose(head(feats(x)), grid, mode)
        return float((pred - pose).norm(dim=-1).mean())

    before = error()
    for _ in range(60):
        opt.zero_grad()
        loss = heatpose_ce(head(feats(x)), target, mode)
        loss.backward()
        opt.step()
    assert error() < 0.5 * before
