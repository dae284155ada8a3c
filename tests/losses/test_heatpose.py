"""HeatPose GMM target (normalisation, peak, components), cross-entropy and decoding round-trips."""

import math

import pytest
import torch

from liftbench.geometry.skeletons import H36M17
from liftbench.losses.heatpose import (
    HeatPoseGrid,
    decode_heatpose,
    gmm_components,
    gmm_marginals,
    gmm_volume,
    heatpose_ce,
    heatpose_target,
)

# A standing pose in normalised 2.5D units (x right, y down, z depth), root at 0; bones of
# 0.04–0.13 units, as the synthetic capture's subjects at ~3 m.
STANDING = torch.tensor([
    [0.0, 0.0, 0.0], [-0.04, 0.0, 0.0], [-0.04, 0.13, 0.01], [-0.04, 0.26, 0.0],
    [0.04, 0.0, 0.0], [0.04, 0.13, 0.01], [0.04, 0.26, 0.0], [0.0, -0.07, 0.0],
    [0.0, -0.15, 0.0], [0.0, -0.18, -0.02], [0.0, -0.23, 0.0], [0.05, -0.14, 0.0],
    [0.07, -0.04, 0.01], [0.08, 0.04, -0.02], [-0.05, -0.14, 0.0], [-0.07, -0.04, 0.01],
    [-0.08, 0.04, -0.02],
])  # fmt: skip


def _snap(x: torch.Tensor, grid: HeatPoseGrid) -> torch.Tensor:
    return torch.round(x / grid.step) * grid.step


def _points(n: int, grid: HeatPoseGrid, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 3, generator=g) * 2 - 1) * 0.6 * grid.extent


def test_grid_centres_and_step():
    grid = HeatPoseGrid(extent=0.5, bins=11)
    c = grid.centers()
    assert c.shape == (11,) and c[5] == 0  # odd bins: the root lies on a centre
    assert grid.step == pytest.approx(0.1) and torch.allclose(c.diff(), torch.full((10,), 0.1))
    assert grid.sigma_units == pytest.approx(grid.sigma * 0.1)


def test_volume_normalisations_and_peak_at_every_joint():
    grid = HeatPoseGrid(extent=0.4, bins=41)
    pose = _snap(STANDING, grid)
    peak = gmm_volume(pose, grid, normalise="max")
    assert peak.shape == (17, 41, 41, 41)
    torch.testing.assert_close(peak.flatten(1).amax(1), torch.ones(17))  # Eq. 8: MAX → 1
    assert peak.min() >= 0
    dist = gmm_volume(pose, grid, normalise="sum")
    torch.testing.assert_close(dist.flatten(1).sum(1), torch.ones(17))
    # the maximum is at the joint's own voxel, for every joint (sides never take the peak)
    idx = peak.flatten(1).argmax(1)
    ijk = torch.stack([idx // 41**2, (idx // 41) % 41, idx % 41], -1)
    expected = torch.round((pose + grid.extent) / grid.step).long()
    assert torch.equal(ijk, expected)


def test_side_gaussians_follow_eq_6_and_7():
    grid = HeatPoseGrid(extent=1.0, bins=21, sigma=1.0, spacing=2.0, side_weight=0.3,
                        max_side=5)
    c = grid.spacing * grid.sigma_units
    pose = torch.zeros(17, 3)
    # thorax (8) at the origin; neck (9) 3.5·c straight up; spine, shoulders far away below
    pose[9] = torch.tensor([0.0, -3.5 * c, 0.0])
    pose[[7, 11, 14]] = torch.tensor([[0.0, 20 * c, 0.0], [20 * c, 0, 0], [-20 * c, 0, 0]])
    mu, sigma, weight = gmm_components(pose, grid)
    nbrs = [7, 9, 11, 14]  # thorax's kinematic neighbours, in bone order
    assert mu.shape == (17, 1 + 4 * 5, 3) and sigma.shape == (21,)
    torch.testing.assert_close(mu[8, 0], pose[8])
    torch.testing.assert_close(sigma[0], torch.tensor(grid.sigma_units))
    k = nbrs.index(9)
    side = slice(1 + 5 * k, 1 + 5 * (k + 1))
    # N_s = D / c: 3 transitional points strictly inside a 3.5c bone, c apart, σ_i = i² σ_main
    assert torch.equal(weight[8, side] > 0, torch.tensor([True, True, True, False, False]))
    for i in range(1, 4):
        torch.testing.assert_close(mu[8, side][i - 1], torch.tensor([0.0, -i * c, 0.0]))
        assert sigma[side][i - 1] == pytest.approx(i**2 * grid.sigma_units)
    # the side weight is shared by the 4 neighbours; the leaf joint (head, 10) has one neighbour
    assert weight[8, side][0] == pytest.approx(0.3 / 4)
    assert weight[10, 1] == pytest.approx(0.3)
    assert int((weight[10] > 0).sum()) >= 1 and weight[10, 0] == 1


def test_without_sides_the_volume_is_one_isotropic_gaussian():
    grid = HeatPoseGrid(extent=0.3, bins=31, side_weight=0.0)
    pose = STANDING * 0.8
    vol = gmm_volume(pose, grid, normalise="max")[5]
    c = grid.centers()
    d2 = ((c[:, None, None] - pose[5, 0]) ** 2 + (c[None, :, None] - pose[5, 1]) ** 2
          + (c[None, None, :] - pose[5, 2]) ** 2)  # fmt: skip
    ref = torch.exp(-0.5 * d2 / grid.sigma_units**2)
    torch.testing.assert_close(vol, ref / ref.max(), rtol=1e-4, atol=1e-6)


def test_marginals_are_the_volume_summed_over_the_other_axes():
    grid = HeatPoseGrid(extent=0.45, bins=37)
    vol = gmm_volume(STANDING, grid)
    marg = gmm_marginals(STANDING, grid)
    assert marg.shape == (17, 3, 37)
    ref = torch.stack([vol.sum((-2, -1)), vol.sum((-3, -1)), vol.sum((-3, -2))], dim=-2)
    torch.testing.assert_close(marg, ref, rtol=0, atol=2e-4)  # up to the grid's truncation
    torch.testing.assert_close(marg.sum(-1), torch.ones(17, 3))


@pytest.mark.parametrize("mode", ["factorised", "volume"])
def test_decoding_round_trip(mode):
    bins = 65 if mode == "factorised" else 25
    grid = HeatPoseGrid(extent=0.5, bins=bins, side_weight=0.0)
    pts = _points(40, grid).view(40, 1, 3).expand(40, 17, 3).contiguous()
    logp = heatpose_target(pts, grid, mode).clamp_min(1e-38).log()
    arg = decode_heatpose(logp, grid, mode, "argmax")
    assert (arg - pts).abs().max() <= grid.step / 2 + 1e-6  # the nearest voxel centre
    soft = decode_heatpose(logp, grid, mode, "soft_argmax", window=5)
    assert (soft - pts).abs().max() < 0.01 * grid.step  # sub-voxel
    full = decode_heatpose(logp, grid, mode, "soft_argmax", window=None)
    assert (full - pts).abs().max() < 1e-3 * grid.step


@pytest.mark.parametrize("mode", ["factorised", "volume"])
def test_gmm_target_decodes_within_a_voxel(mode):
    bins = 65 if mode == "factorised" else 33
    grid = HeatPoseGrid(extent=0.4, bins=bins)
    g = torch.Generator().manual_seed(3)
    pose = STANDING + 0.01 * torch.randn(17, 3, generator=g)
    logp = heatpose_target(pose, grid, mode).clamp_min(1e-38).log()
    for method in ("argmax", "soft_argmax"):
        assert (decode_heatpose(logp, grid, mode, method) - pose).abs().max() < grid.step


def test_cross_entropy_is_minimal_at_the_target():
    grid = HeatPoseGrid(extent=0.4, bins=33)
    target = gmm_marginals(STANDING.expand(2, 3, 17, 3), grid)
    entropy = -(target * target.clamp_min(1e-38).log()).sum((-2, -1)).mean()
    best = heatpose_ce(target.clamp_min(1e-38).log(), target, "factorised")
    torch.testing.assert_close(best, entropy)
    g = torch.Generator().manual_seed(0)
    noisy = target.clamp_min(1e-38).log() + 0.5 * torch.randn(target.shape, generator=g)
    assert heatpose_ce(noisy, target, "factorised") > best
    flat = torch.zeros_like(target)  # uniform prediction: CE = 3 log N per joint
    torch.testing.assert_close(heatpose_ce(flat, target, "factorised"),
                               torch.tensor(3 * math.log(33)))


def test_cross_entropy_mask_and_gradients():
    grid = HeatPoseGrid(extent=0.4, bins=9)
    target = gmm_volume(STANDING.expand(2, 2, 17, 3), grid)
    logits = torch.randn(target.shape, requires_grad=True)
    mask = torch.ones(2, 2, 17, dtype=torch.bool)
    mask[1] = False
    masked = heatpose_ce(logits, target, "volume", mask=mask)
    torch.testing.assert_close(masked, heatpose_ce(logits[:1], target[:1], "volume"))
    masked.backward()
    assert torch.isfinite(logits.grad).all() and logits.grad[1].abs().sum() == 0
    none = heatpose_ce(logits, target, "volume", mask=torch.zeros_like(mask))
    assert none == 0


def test_soft_argmax_is_differentiable():
    grid = HeatPoseGrid(extent=0.4, bins=17)
    logits = torch.randn(1, 2, 17, 3, 17, requires_grad=True)
    decode_heatpose(logits, grid, "factorised", window=3).sum().backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


def test_bad_input_raises_clear_errors():
    grid = HeatPoseGrid(bins=9)
    with pytest.raises(ValueError, match=r"\(\.\.\., J, 3\)"):
        gmm_marginals(torch.zeros(17, 2), grid)
    with pytest.raises(ValueError, match="17"):
        gmm_marginals(torch.zeros(16, 3), grid)
    with pytest.raises(ValueError, match=r"\(\.\.\., J, 3, 9\)"):
        decode_heatpose(torch.zeros(1, 17, 3, 8), grid, "factorised")
    with pytest.raises(ValueError, match="mode"):
        heatpose_target(torch.zeros(17, 3), grid, "cube")
    with pytest.raises(ValueError, match="method"):
        decode_heatpose(torch.zeros(17, 3, 9), grid, "factorised", method="mean")
    with pytest.raises(ValueError, match="same shape"):
        heatpose_ce(torch.zeros(17, 3, 9), torch.zeros(17, 3, 8), "factorised")
    with pytest.raises(ValueError, match="normalise"):
        gmm_volume(torch.zeros(17, 3), grid, normalise="peak")
    for bad in ({"extent": 0}, {"bins": 1}, {"sigma": 0}, {"side_weight": 1.5}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            HeatPoseGrid(**bad)


def test_neighbours_come_from_the_skeleton():
    # every bone of H36M-17 gives side Gaussians to both of its ends
    grid = HeatPoseGrid(extent=0.4, bins=9, sigma=0.1, spacing=1.0, max_side=1)
    _, _, weight = gmm_components(STANDING, grid)
    sides = (weight[:, 1:] > 0).sum(1)
    degree = torch.zeros(17, dtype=torch.long)
    for p, c in H36M17.bones:
        degree[p] += 1
        degree[c] += 1
    assert torch.equal(sides, degree)


def test_batched_marginals_equal_each_pose_s_volume_marginals():
    # the marginals evaluate only the live components of a whole batch at once; a collapsed
    # pose (every bone of length 0: no side component) and a batch dimension must not mix poses
    grid = HeatPoseGrid(extent=0.6, bins=21)
    g = torch.Generator().manual_seed(5)
    poses = torch.stack([STANDING, STANDING * 0.5 + 0.02 * torch.randn(17, 3, generator=g),
                         torch.zeros(17, 3)]).view(3, 1, 17, 3)
    marg = gmm_marginals(poses, grid)
    assert marg.shape == (3, 1, 17, 3, 21)
    for b in range(3):
        vol = gmm_volume(poses[b, 0], grid)
        ref = torch.stack([vol.sum((-2, -1)), vol.sum((-3, -1)), vol.sum((-3, -2))], dim=-2)
        torch.testing.assert_close(marg[b, 0], ref, rtol=0, atol=2e-4)
