"""L_con: zero exactly for similarity-related views, positive otherwise, finite when collapsed."""

from __future__ import annotations

import pytest
import roma
import torch

from liftbench.losses.consistency import consistency_loss, view_pairs


def _seq(b=2, t=5, j=17, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, t, j, 3, generator=g, dtype=torch.float64)


def _similar(x, seed, per_frame=False):
    g = torch.Generator().manual_seed(seed)
    lead = x.shape[:-2] if per_frame else x.shape[:-3]
    rot = roma.rotvec_to_rotmat(torch.randn(*lead, 3, generator=g, dtype=torch.float64) * 2)
    s = torch.rand(*lead, generator=g, dtype=torch.float64) * 3 + 0.2
    t = torch.randn(*lead, 3, generator=g, dtype=torch.float64) * 5
    if not per_frame:
        rot, s, t = rot[:, None], s[:, None], t[:, None]
    return s[..., None, None] * x @ rot.mT + t[..., None, :]


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("symmetric", [True, False])
def test_zero_for_views_differing_by_any_similarity(seed, symmetric):
    a = _seq(seed=seed)
    views = torch.stack([a, _similar(a, seed + 10), _similar(a, seed + 20)], 1)
    loss = consistency_loss(views, symmetric=symmetric)
    assert loss.item() == pytest.approx(0.0, abs=1e-9)


def test_per_frame_zero_for_per_frame_similarity_but_sequence_not():
    a = _seq(seed=3)
    views = torch.stack([a, _similar(a, 4, per_frame=True)], 1)
    assert consistency_loss(views, per="frame").item() == pytest.approx(0.0, abs=1e-9)
    assert consistency_loss(views, per="sequence").item() > 1e-3


@pytest.mark.parametrize("seed", range(3))
def test_positive_for_non_similar_views(seed):
    a = _seq(seed=seed)
    b = _similar(a, seed + 1).clone()
    b[:, :, 3] += 0.5  # one joint moved: no similarity explains it
    assert consistency_loss(torch.stack([a, b], 1)).item() > 1e-3
    mirrored = a * torch.tensor([1.0, 1.0, -1.0], dtype=a.dtype)  # depth flip = reflection
    assert consistency_loss(torch.stack([a, mirrored], 1)).item() > 1e-3


def test_matches_mean_error_after_umeyama_alignment():
    a, b = _seq(b=1, seed=7), _seq(b=1, seed=8)
    x, y = a[0].reshape(-1, 3), b[0].reshape(-1, 3)
    mx, my = x.mean(0), y.mean(0)
    cov = (y - my).T @ (x - mx) / len(x)
    u, sv, vh = torch.linalg.svd(cov)
    d = torch.sign(torch.det(u @ vh))
    dm = torch.diag(torch.tensor([1.0, 1.0, d], dtype=x.dtype))
    r = u @ dm @ vh
    s = (sv * torch.diag(dm)).sum() / (x - mx).square().sum(-1).mean()
    want = (s * (x - mx) @ r.T + my - y).norm(dim=-1).mean()
    got = consistency_loss(torch.stack([a, b], 1), symmetric=False)
    assert got.item() == pytest.approx(want.item(), rel=1e-6)


def test_collapse_is_not_free_when_symmetric():
    a = _seq(seed=9)
    collapsed = torch.zeros_like(a)
    views = torch.stack([a, collapsed], 1)
    assert consistency_loss(views, symmetric=False).item() == pytest.approx(0.0, abs=1e-9)
    assert consistency_loss(views, symmetric=True).item() > 0.1


@pytest.mark.parametrize("per", ["sequence", "frame"])
def test_gradients_finite_for_collapsed_inputs(per):
    for views in (torch.zeros(2, 2, 4, 17, 3), torch.stack([_seq().float(),
                                                             torch.zeros(2, 5, 17, 3)], 1)):
        x = views.clone().requires_grad_(True)
        loss = consistency_loss(x, per=per)
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(x.grad).all()
    # a single point per frame (all joints identical) and everything masked out
    x = torch.ones(1, 2, 3, 17, 3, requires_grad=True)
    consistency_loss(x, per=per).backward()
    assert torch.isfinite(x.grad).all()
    y = torch.randn(1, 2, 3, 17, 3, requires_grad=True)
    loss = consistency_loss(y, mask=torch.zeros(1, 2, 3, 17, dtype=torch.bool), per=per)
    loss.backward()
    assert loss.item() == 0.0 and torch.isfinite(y.grad).all()


def test_mask_ignores_corrupted_joints():
    a = _seq(seed=11)
    b = _similar(a, 12).clone()
    b[:, :, 4] += 10.0
    mask = torch.ones(2, 2, 5, 17, dtype=torch.bool)
    mask[:, 1, :, 4] = False
    loss = consistency_loss(torch.stack([a, b], 1), mask=mask)
    assert loss.item() == pytest.approx(0.0, abs=1e-9)


def test_pairs_and_errors():
    assert view_pairs(3, symmetric=False) == [(0, 1), (0, 2), (1, 2)]
    assert len(view_pairs(3)) == 6
    with pytest.raises(ValueError, match="at least 2 views"):
        consistency_loss(torch.zeros(2, 1, 4, 17, 3))
    with pytest.raises(ValueError, match=r"\(B, V, T, J, 3\)"):
        consistency_loss(torch.zeros(2, 4, 17, 3))
    with pytest.raises(ValueError, match="per"):
        consistency_loss(torch.zeros(2, 2, 4, 17, 3), per="clip")
