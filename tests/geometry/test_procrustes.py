import numpy as np
import pytest
import torch

from liftbench.geometry import kabsch, procrustes, similarity_align
from liftbench.geometry.procrustes import _rotation_horn, _rotation_svd


def ref_umeyama(a, b, w=None, scale=True):
    """Independent reference: weighted Umeyama on one (N, 3) set with np.linalg.svd."""
    w = np.ones(len(a)) if w is None else np.asarray(w, float)
    w = w / w.sum()
    ma, mb = w @ a, w @ b
    ac, bc = a - ma, b - mb
    cov = (bc * w[:, None]).T @ ac
    u, sig, vt = np.linalg.svd(cov)
    d = np.eye(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[2, 2] = -1
    r = u @ d @ vt
    s = np.trace(np.diag(sig) @ d) / (w @ (ac**2).sum(1)) if scale else 1.0
    t = mb - s * r @ ma
    return r, s, t


def random_rotation(rng):
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    return q * np.sign(np.linalg.det(q))


def poses(rng, n, j=17, noise=30.0, mirror_every=3):
    a = rng.normal(size=(n, j, 3)) * np.array([150.0, 400.0, 100.0])
    b = np.empty_like(a)
    for i in range(n):
        x = a[i] * (-1.0 if i % mirror_every == 0 else 1.0)  # reflection-prone targets
        b[i] = (
            1.3 * x @ random_rotation(rng).T
            + rng.normal(size=3) * 500
            + rng.normal(size=(j, 3)) * noise
        )
    return a, b


@pytest.mark.parametrize("method", ["horn", "svd"])
def test_matches_reference_per_frame(method):
    rng = np.random.default_rng(0)
    a, b = poses(rng, 60)
    aligned, r, s, t = procrustes(a, b, method=method)
    for i in range(len(a)):
        rr, ss, tt = ref_umeyama(a[i], b[i])
        np.testing.assert_allclose(r[i], rr, atol=1e-9)
        np.testing.assert_allclose(s[i], ss, rtol=1e-10)
        np.testing.assert_allclose(t[i], tt, atol=1e-7)
        np.testing.assert_allclose(aligned[i], ss * a[i] @ rr.T + tt, atol=1e-7)
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=1e-12)
    eye = np.broadcast_to(np.eye(3), r.shape)
    np.testing.assert_allclose(r @ np.swapaxes(r, -1, -2), eye, atol=1e-10)


def test_horn_equals_svd_on_many_random_covariances():
    rng = np.random.default_rng(1)
    a = torch.from_numpy(rng.normal(size=(20000, 3, 3)))
    a[::2, :, 0] *= -1  # half with det < 0: the reflection case
    np.testing.assert_allclose(_rotation_horn(a), _rotation_svd(a), atol=1e-9)


def test_rigid_and_sequence_modes():
    rng = np.random.default_rng(2)
    a, b = poses(rng, 8)
    _, r, s, t = procrustes(a, b, scale=False)
    assert np.allclose(s, 1.0)
    for i in range(8):
        rr, _, tt = ref_umeyama(a[i], b[i], scale=False)
        np.testing.assert_allclose(r[i], rr, atol=1e-9)
        np.testing.assert_allclose(t[i], tt, atol=1e-7)
    seq_a, seq_b = a.reshape(2, 4, 17, 3), b.reshape(2, 4, 17, 3)
    aligned, r, s, t = procrustes(seq_a, seq_b, per="sequence")
    assert r.shape == (2, 3, 3) and s.shape == (2,) and t.shape == (2, 3)
    for k in range(2):
        rr, ss, tt = ref_umeyama(seq_a[k].reshape(-1, 3), seq_b[k].reshape(-1, 3))
        np.testing.assert_allclose(r[k], rr, atol=1e-9)
        np.testing.assert_allclose(aligned[k], ss * seq_a[k] @ rr.T + tt, atol=1e-7)


def test_weights_and_mask_exclude_points():
    rng = np.random.default_rng(3)
    a, b = poses(rng, 4)
    mask = np.ones((4, 17), bool)
    mask[:, [0, 5, 9]] = False
    a[:, 5] = np.nan  # NaN at an excluded point must not poison the fit
    b[:, 9] = np.nan
    _, r, s, t = procrustes(a, b, mask=mask)
    w = rng.uniform(0.1, 2.0, size=(4, 17))
    w[:, [0, 5, 9]] = 0.0
    _, rw, sw, tw = procrustes(a, b, weights=w)
    for i in range(4):
        keep = mask[i]
        rr, ss, tt = ref_umeyama(a[i][keep], b[i][keep])
        np.testing.assert_allclose(r[i], rr, atol=1e-9)
        np.testing.assert_allclose(s[i], ss, rtol=1e-10)
        rr, ss, tt = ref_umeyama(a[i][keep], b[i][keep], w[i][keep])
        np.testing.assert_allclose(rw[i], rr, atol=1e-9)
        np.testing.assert_allclose(tw[i], tt, atol=1e-7)


def test_kabsch_recovers_exact_transform():
    rng = np.random.default_rng(4)
    a = rng.normal(size=(5, 10, 3))
    rot = np.stack([random_rotation(rng) for _ in range(5)])
    t = rng.normal(size=(5, 3))
    b = a @ np.swapaxes(rot, -1, -2) + t[:, None]
    r, tt = kabsch(a, b)
    np.testing.assert_allclose(r, rot, atol=1e-10)
    np.testing.assert_allclose(tt, t, atol=1e-10)
    r, tt, s = kabsch(a, 2.5 * b, scale=True, method="svd")
    np.testing.assert_allclose(r, rot, atol=1e-10)
    np.testing.assert_allclose(s, 2.5, rtol=1e-10)
    np.testing.assert_allclose(tt, 2.5 * t, atol=1e-10)


def test_types_follow_input():
    rng = np.random.default_rng(5)
    a, b = poses(rng, 3)
    out = similarity_align(a.astype(np.float32), b.astype(np.float32))
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    out_t = similarity_align(torch.from_numpy(a), b)
    assert isinstance(out_t, torch.Tensor) and out_t.dtype == torch.float64
    np.testing.assert_allclose(out_t.numpy(), similarity_align(a, b), atol=1e-9)


def _degenerate_inputs():
    rng = np.random.default_rng(6)
    line = np.linspace(-1, 1, 17)[:, None] * np.array([100.0, 50.0, 20.0])
    return {
        "identical": (np.full((17, 3), 7.0), rng.normal(size=(17, 3))),
        "zero_target": (rng.normal(size=(17, 3)), np.zeros((17, 3))),
        "collinear": (line, rng.normal(size=(17, 3)) * 100),
        "collinear_both": (line, line[::-1] * 2 + 3),
        "planar_mirror": (line * [1, 1, 0] + rng.normal(size=(17, 3)) * [1, 1, 0], None),
    }


@pytest.mark.parametrize("case", list(_degenerate_inputs()))
@pytest.mark.parametrize("method", ["horn", "svd"])
def test_degenerate_inputs_are_finite_and_optimal(case, method):
    a, b = _degenerate_inputs()[case]
    if b is None:
        b = a * [1, -1, 1]
    aligned, r, s, t = procrustes(a, b, method=method)
    assert np.isfinite(aligned).all() and np.isfinite(r).all() and np.isfinite(s)
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=1e-9)
    rr, ss, tt = ref_umeyama(a, b)
    best = ((ss * a @ rr.T + tt - b) ** 2).sum()
    assert ((aligned - b) ** 2).sum() <= best + 1e-6 * (1 + best)


def test_all_masked_is_finite():
    a = np.random.default_rng(7).normal(size=(2, 17, 3))
    aligned, r, s, t = procrustes(a, a + 1, mask=np.zeros((2, 17), bool))
    assert np.isfinite(aligned).all() and np.isfinite(r).all() and np.isfinite(s).all()


@pytest.mark.parametrize("case", list(_degenerate_inputs()) + ["all_masked"])
def test_torch_gradient_finite_at_degenerate_input(case):
    if case == "all_masked":
        a, b = np.ones((17, 3)), np.zeros((17, 3))
        mask = torch.zeros(17, dtype=torch.bool)
    else:
        a, b = _degenerate_inputs()[case]
        b = a * [1, -1, 1] if b is None else b
        mask = None
    x = torch.tensor(a, requires_grad=True)
    y = torch.tensor(b, requires_grad=True)
    out = similarity_align(x, y, mask=mask)
    gx, gy = torch.autograd.grad((out - y).square().sum(), (x, y))
    assert torch.isfinite(gx).all() and torch.isfinite(gy).all()


def test_torch_gradient_matches_finite_differences():
    rng = np.random.default_rng(8)
    a, b = poses(rng, 3, j=6, mirror_every=2)
    x = torch.tensor(a / 100, requires_grad=True)
    y = torch.tensor(b / 100, requires_grad=True)
    assert torch.autograd.gradcheck(lambda p, q: similarity_align(p, q), (x, y))
    w = torch.tensor(rng.uniform(0.5, 1.5, size=(3, 6)), requires_grad=True)
    assert torch.autograd.gradcheck(lambda p, q, ww: similarity_align(p, q, weights=ww), (x, y, w))


def test_bad_input_errors():
    a = np.zeros((4, 17, 3))
    with pytest.raises(ValueError, match="target"):
        procrustes(a, np.zeros((4, 16, 3)))
    with pytest.raises(ValueError, match="pred"):
        procrustes(np.zeros((4, 17, 2)), np.zeros((4, 17, 2)))
    with pytest.raises(ValueError, match="pred"):
        procrustes(np.zeros((0, 17, 3)), np.zeros((0, 17, 3)))
    with pytest.raises(ValueError, match="per"):
        procrustes(a, a, per="clip")
    with pytest.raises(ValueError, match="method"):
        procrustes(a, a, method="qr")
    with pytest.raises(ValueError, match="weights"):
        procrustes(a, a, weights=-np.ones((4, 17)))
    with pytest.raises(ValueError, match="weights"):
        procrustes(a, a, weights=np.ones((4, 16)))
    with pytest.raises(ValueError, match="mask"):
        procrustes(a, a, mask=np.ones((4, 17)))
    with pytest.raises(ValueError, match="T, J, 3"):
        procrustes(np.zeros((17, 3)), np.zeros((17, 3)), per="sequence")


@pytest.mark.parametrize("method", ["horn", "svd"])
def test_nan_at_included_point_only_poisons_its_frame(method):
    rng = np.random.default_rng(10)
    a, b = poses(rng, 3)
    a[1, 2, 0] = np.nan
    aligned, r, s, t = procrustes(a, b, method=method)
    assert np.isnan(aligned[1]).all() and np.isnan(r[1]).all()
    assert np.isfinite(aligned[[0, 2]]).all() and np.isfinite(r[[0, 2]]).all()


def test_float32_horn_rotation_is_accurate():
    rng = np.random.default_rng(11)
    cov = rng.normal(size=(5000, 3, 3)).astype(np.float32)
    cov[:, :, 2] *= np.float32(1e-3)  # nearly planar: the closed form's denominator is small
    cov[::2, 0] *= -1
    r32 = _rotation_horn(torch.from_numpy(cov))
    assert r32.dtype == torch.float32
    ref = _rotation_svd(torch.from_numpy(cov).double())
    np.testing.assert_allclose(r32.double(), ref, atol=2e-6)
