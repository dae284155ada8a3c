import numpy as np
import pytest
import torch

from liftbench import geometry
from liftbench.geometry import project, projection_matrix, triangulate, world_to_camera

K = np.array([[1000.0, 0.0, 640.0], [0.0, 1000.0, 360.0], [0.0, 0.0, 1.0]])


def _look_at(eye, target):
    z = target - eye
    z = z / np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x = x / np.linalg.norm(x)
    R = np.stack([x, np.cross(z, x), z])  # rows: camera x right, y down, z forward
    return R, -R @ eye


def _rig(rng, views):
    """`views` random cameras 4–8 m away looking at the origin: (P (V,3,4), R, t)."""
    target = np.zeros(3)
    Rs, ts = [], []
    for _ in range(views):
        direction = rng.normal(size=3)
        direction[2] = abs(direction[2]) * 0.3
        eye = target + rng.uniform(4, 8) * direction / np.linalg.norm(direction)
        R, t = _look_at(eye, target)
        Rs.append(R)
        ts.append(t)
    R, t = np.stack(Rs), np.stack(ts)
    return projection_matrix(K, R, t), R, t


def _observe(X, R, t):
    """Pixels (V, ..., 2) of world points X (..., 3) in each camera."""
    lead = (slice(None),) + (None,) * (X.ndim - 1)
    return project(world_to_camera(X[None], R[lead], t[lead]), K)


@pytest.mark.parametrize("views", [2, 3, 5, 8])
def test_exact_recovery_from_noise_free_views(views):
    rng = np.random.default_rng(views)
    X = rng.normal(scale=0.5, size=(12, 17, 3))  # (frames, joints, 3) metres around the origin
    P, R, t = _rig(rng, views)
    uv = _observe(X, R, t)
    conf = rng.uniform(0.2, 1.0, size=uv.shape[:-1])
    out = triangulate(uv, conf, P)
    assert out.shape == (12, 17, 3) and out.dtype == np.float64
    np.testing.assert_allclose(out, X, atol=1e-6)
    assert geometry.triangulate is triangulate


def test_nan_where_fewer_than_min_views_are_confident():
    rng = np.random.default_rng(10)
    X = rng.normal(scale=0.5, size=(4, 17, 3))
    P, R, t = _rig(rng, 4)
    uv = _observe(X, R, t)
    conf = np.ones(uv.shape[:-1])
    conf[1:, 0, 0] = 0.0  # only one view left
    conf[2:, 0, 1] = 0.0  # exactly two views
    conf[:, 0, 2] = 0.05  # all views below the threshold used below
    uv[0, 1, 3] = np.nan  # NaN pixel: that view is unusable ...
    conf[1, 1, 4] = np.nan  # ... and so is a NaN confidence
    out = triangulate(uv, conf, P, conf_threshold=0.1)
    assert np.isnan(out[0, 0]).all() and np.isnan(out[0, 2]).all()
    np.testing.assert_allclose(out[0, 1], X[0, 1], atol=1e-6)
    np.testing.assert_allclose(out[1, 3:5], X[1, 3:5], atol=1e-6)
    finite = np.isfinite(out).all(-1)
    assert finite.sum() == 4 * 17 - 2
    out3 = triangulate(uv, conf, P, min_views=3, conf_threshold=0.1)
    assert np.isnan(out3[0, 1]).all() and np.isfinite(out3[1, 3]).all()


def test_confidence_pulls_toward_confident_views():
    rng = np.random.default_rng(11)
    X = rng.normal(scale=0.5, size=(500, 3))
    P, R, t = _rig(rng, 4)
    uv = _observe(X, R, t)
    noisy = uv.copy()
    noisy[0] += rng.normal(scale=15.0, size=noisy[0].shape)  # view 0 is bad ...
    noisy[1:] += rng.normal(scale=0.5, size=noisy[1:].shape)
    conf = np.ones(uv.shape[:-1])
    err_flat = np.linalg.norm(triangulate(noisy, conf, P) - X, axis=-1).mean()
    conf[0] = 0.1  # ... and says so
    err_weighted = np.linalg.norm(triangulate(noisy, conf, P) - X, axis=-1).mean()
    assert err_weighted < 0.5 * err_flat
    # the weights are s² on each view's algebraic residual: scaling all confidences is a no-op
    np.testing.assert_allclose(triangulate(noisy, 7 * conf, P), triangulate(noisy, conf, P),
                               atol=1e-9)


def test_per_frame_projections_and_degenerate_views():
    rng = np.random.default_rng(12)
    X = rng.normal(scale=0.5, size=(3, 17, 3))
    Ps, uvs = [], []
    for _ in range(3):  # a moving rig: new cameras every frame
        P, R, t = _rig(rng, 3)
        Ps.append(P)
        uvs.append(_observe(X[len(uvs)][None], R, t)[:, 0])
    P = np.stack(Ps, axis=1)[:, :, None]  # (V, T, 1, 3, 4), broadcast over joints
    uv = np.stack(uvs, axis=1)  # (V, T, J, 2)
    out = triangulate(uv, np.ones(uv.shape[:-1]), P)
    np.testing.assert_allclose(out, X, atol=1e-6)
    # two views from the same centre cannot fix depth: NaN, not a wrong finite point
    _, R1, t1 = _rig(rng, 1)
    roll = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # about the optical axis
    R_same = np.stack([R1[0], roll @ R1[0]])
    t_same = np.stack([t1[0], roll @ t1[0]])  # same centre C = −Rᵀt for both
    P_same = projection_matrix(K, R_same, t_same)
    uv_same = _observe(X, R_same, t_same)
    assert np.isfinite(uv_same).all()
    assert np.isnan(triangulate(uv_same, np.ones(uv_same.shape[:-1]), P_same)).all()


def test_torch_matches_numpy_and_gradients_are_finite():
    rng = np.random.default_rng(13)
    X = rng.normal(scale=0.5, size=(5, 17, 3))
    P, R, t = _rig(rng, 4)
    uv = _observe(X, R, t) + rng.normal(scale=1.0, size=(4, 5, 17, 2))
    conf = rng.uniform(0.3, 1.0, size=uv.shape[:-1])
    conf[1:, 0, 0] = 0.0  # one NaN result, whose gradient must not poison the others
    uv_t = torch.tensor(uv, requires_grad=True)
    P_t = torch.tensor(P, requires_grad=True)
    conf_t = torch.tensor(conf, requires_grad=True)
    out = triangulate(uv_t, conf_t, P_t)
    assert isinstance(out, torch.Tensor)
    np.testing.assert_allclose(out.detach().numpy(), triangulate(uv, conf, P), atol=1e-9,
                               equal_nan=True)
    out[torch.isfinite(out)].square().sum().backward()
    for g in (uv_t.grad, P_t.grad, conf_t.grad):
        assert torch.isfinite(g).all()
    assert uv_t.grad.abs().sum() > 0 and conf_t.grad.abs().sum() > 0
    small = (uv_t[:, :1, :2].detach().clone().requires_grad_(), conf_t[:, :1, 1:3].detach())
    assert torch.autograd.gradcheck(lambda u: triangulate(u, small[1], P_t.detach()), (small[0],))


def test_float32_is_accurate_enough():
    rng = np.random.default_rng(14)
    X = rng.normal(scale=0.5, size=(100, 3))
    P, R, t = _rig(rng, 3)
    uv = _observe(X, R, t)
    out = triangulate(uv.astype(np.float32), np.ones(uv.shape[:-1], np.float32),
                      P.astype(np.float32))
    assert out.dtype == np.float32
    assert np.abs(out - X).max() < 1e-3  # < 1 mm on metre-scale points


def test_bad_inputs_raise():
    P = np.zeros((3, 3, 4))
    P[:, :, :3] = np.eye(3)
    uv = np.zeros((3, 17, 2))
    conf = np.ones((3, 17))
    with pytest.raises(ValueError, match=r"points_2d must have shape \(V, \.\.\., 2\)"):
        triangulate(np.zeros((3, 17)), conf, P)
    with pytest.raises(ValueError, match=r"confidence must have shape \(V, \.\.\.\) = \(3, 17\)"):
        triangulate(uv, np.ones((3, 16)), P)
    with pytest.raises(ValueError, match=r"projections must have shape \(V, 3, 4\) with V = 3"):
        triangulate(uv, conf, P[:2])
    with pytest.raises(ValueError, match=r"projections must have shape"):
        triangulate(uv, conf, np.zeros((3, 5, 3, 4)))
    with pytest.raises(ValueError, match="projections must be finite"):
        triangulate(uv, conf, np.full((3, 3, 4), np.nan))
    with pytest.raises(ValueError, match="min_views must be >= 2"):
        triangulate(uv, conf, P, min_views=1)
    with pytest.raises(ValueError, match=r"points_2d must have shape"):
        triangulate(np.zeros((0, 17, 2)), np.ones((0, 17)), np.zeros((0, 3, 4)))
