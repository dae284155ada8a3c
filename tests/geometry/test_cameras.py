import pickle

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from liftbench.geometry import (
    camera_center,
    camera_to_25d,
    camera_to_world,
    denormalize_depth,
    denormalize_screen,
    distort_normalized,
    distort_normalized_h36m,
    distort_points,
    from_25d,
    normalize_depth,
    normalize_screen,
    project,
    projection_matrix,
    undistort_normalized,
    undistort_points,
    unproject,
    world_to_camera,
)

K = np.array([[1145.0, 0.0, 512.5], [0.0, 1143.8, 515.5], [0.0, 0.0, 1.0]])
H36M_DIST = np.array([-0.2071, 0.2478, -0.00142, -0.00098, -0.0031])  # OpenCV order, §6.4 values


def _points(rng, shape=(6, 17), depth=5.0):
    X = rng.normal(scale=0.6, size=(*shape, 3))
    X[..., 2] += depth
    return X


def test_world_camera_round_trip_and_center():
    rng = np.random.default_rng(0)
    R = Rotation.random(4, random_state=1).as_matrix()  # (4, 3, 3): one per camera
    t = rng.normal(size=(4, 3))
    X = rng.normal(size=(4, 10, 3))
    Xc = world_to_camera(X, R[:, None], t[:, None])
    ref = np.einsum("cij,cnj->cni", R, X) + t[:, None]
    np.testing.assert_allclose(Xc, ref, atol=1e-12)
    np.testing.assert_allclose(camera_to_world(Xc, R[:, None], t[:, None]), X, atol=1e-12)
    C = camera_center(R, t)
    np.testing.assert_allclose(world_to_camera(C, R, t), 0.0, atol=1e-12)


def test_projection_matrix_matches_project():
    rng = np.random.default_rng(1)
    R = Rotation.random(random_state=2).as_matrix()
    t = np.array([0.1, -0.2, 6.0])
    X = rng.normal(size=(20, 3))
    P = projection_matrix(K, R, t)
    assert P.shape == (3, 4)
    h = np.concatenate([X, np.ones((20, 1))], -1) @ P.T
    np.testing.assert_allclose(h[:, :2] / h[:, 2:], project(world_to_camera(X, R, t), K), atol=1e-9)
    Pb = projection_matrix(np.stack([K, K]), R, np.stack([t, 2 * t]))
    assert Pb.shape == (2, 3, 4)
    np.testing.assert_allclose(Pb[0], P)


@pytest.mark.parametrize("dist", [None, H36M_DIST, np.r_[H36M_DIST, 0.01, -0.02, 0.005]])
def test_project_unproject_round_trip(dist):
    X = _points(np.random.default_rng(2))
    uv = project(X, K, dist)
    assert uv.shape == (6, 17, 2) and uv.dtype == np.float64
    np.testing.assert_allclose(unproject(uv, X[..., 2], K, dist), X, atol=1e-9)


def test_distort_undistort_identity_to_1e9_px():
    u, v = np.meshgrid(np.linspace(0, 1000, 41), np.linspace(0, 1002, 41))
    uv = np.stack([u, v], -1)
    back = distort_points(undistort_points(uv, K, H36M_DIST), K, H36M_DIST)
    assert np.abs(back - uv).max() < 1e-9
    xy = np.random.default_rng(3).uniform(-0.45, 0.45, (500, 2))
    xy_back = undistort_normalized(distort_normalized(xy, H36M_DIST), H36M_DIST)
    assert np.abs(xy_back - xy).max() * K[0, 0] < 1e-9
    with pytest.raises(ValueError, match="iterations"):
        undistort_normalized(xy, H36M_DIST, iterations=0)


def test_distortion_matches_opencv_formula():
    xy = np.array([[0.3, -0.2]])
    k1, k2, p1, p2, k3 = H36M_DIST
    x, y = xy[0]
    r2 = x * x + y * y
    radial = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
    ref = [x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x),
           y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y]
    np.testing.assert_allclose(distort_normalized(xy, H36M_DIST)[0], ref, atol=1e-15)
    np.testing.assert_allclose(distort_normalized(xy, H36M_DIST[:4]),
                               distort_normalized(xy, np.r_[H36M_DIST[:4], 0.0]))


def test_points_behind_camera_are_nan_with_finite_gradient():
    X = torch.tensor([[0.1, 0.2, 3.0], [0.1, 0.2, 0.0], [0.5, -0.1, -2.0]], requires_grad=True)
    uv = project(X, torch.tensor(K), torch.tensor(H36M_DIST))
    assert torch.isfinite(uv[0]).all() and torch.isnan(uv[1:]).all()
    uv[0].sum().backward()
    assert torch.isfinite(X.grad).all() and (X.grad[1:] == 0).all()


def test_numpy_and_torch_agree_and_types_follow_input():
    rng = np.random.default_rng(4)
    X = _points(rng)
    uv_np = project(X, K, H36M_DIST)
    uv_t = project(torch.tensor(X), K, H36M_DIST)  # mixed: numpy K follows the tensor
    assert isinstance(uv_t, torch.Tensor) and uv_t.dtype == torch.float64
    np.testing.assert_allclose(uv_t.numpy(), uv_np, atol=1e-12)
    assert project(X.astype(np.float32), K.astype(np.float32)).dtype == np.float32
    assert project(X.tolist(), K.tolist()).dtype == np.float64
    pose_np, f_np = camera_to_25d(X * 1000, K, [1000, 1002])
    pose_t, f_t = camera_to_25d(torch.tensor(X * 1000), torch.tensor(K), torch.tensor([1000, 1002]))
    np.testing.assert_allclose(pose_t.numpy(), pose_np, atol=1e-12)
    np.testing.assert_allclose(f_t.numpy(), f_np, rtol=1e-12)


def test_torch_gradients_are_correct():
    X = torch.tensor(_points(np.random.default_rng(5), (3, 4)), requires_grad=True)
    Kt = torch.tensor(K, requires_grad=True)
    d = torch.tensor(H36M_DIST, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b, c: project(a, b, c), (X, Kt, d))
    uv = project(X, Kt, d)
    assert torch.autograd.gradcheck(lambda u: undistort_points(u, Kt.detach(), d.detach()), (uv,))
    size = torch.tensor([1000.0, 1002.0])
    assert torch.autograd.gradcheck(lambda a: camera_to_25d(a * 1000, Kt.detach(), size)[0], (X,))


def test_screen_normalisation():
    size = np.array([1000, 1002])
    uv = np.array([[0.0, 0.0], [1000.0, 1002.0], [500.0, 501.0]])
    xy = normalize_screen(uv, size)
    np.testing.assert_allclose(xy, [[-1, -1.002], [1, 1.002], [0, 0]], atol=1e-15)
    np.testing.assert_allclose(denormalize_screen(xy, size), uv, atol=1e-12)
    np.testing.assert_allclose(normalize_depth(np.array([250.0]), 1000), [0.5])
    np.testing.assert_allclose(denormalize_depth(normalize_depth(np.array([3.0]), 640), 640), [3.0])
    with pytest.raises(ValueError, match=r"image_size must be > 0"):
        normalize_screen(uv, np.array([0, 1000]))
    with pytest.raises(ValueError, match=r"image_size must have shape \(\.\.\., 2\) as \(W, H\)"):
        normalize_screen(uv, np.array([1000, 1000, 3]))


def test_25d_round_trip_exact_in_z_and_weak_perspective_in_xy():
    rng = np.random.default_rng(6)
    X = _points(rng, (8, 17), depth=4.0) * 1000  # mm, root (joint 0) about 4 m away
    X[:, :, 0] += rng.uniform(-1500, 1500, (8, 1))  # person off the optical axis
    W = 1000.0
    pose, factor = camera_to_25d(X, K, np.array([W, 1002.0]))
    assert pose.shape == (8, 17, 3) and factor.shape == (8,)
    np.testing.assert_array_equal(pose[:, 0], 0.0)
    np.testing.assert_allclose(factor, X[:, 0, 2] * W / (2 * K[0, 0]), rtol=1e-14)
    rel = X - X[:, :1]
    mm = from_25d(pose, factor)
    np.testing.assert_allclose(mm[..., 2], rel[..., 2], atol=1e-9)  # exact in depth
    # x: the documented weak-perspective error e = X · (Z_root − Z) / Z, and its bound
    Z, Zr = X[..., 2], X[:, :1, 2]
    err_x = mm[..., 0] - rel[..., 0]
    np.testing.assert_allclose(err_x, X[..., 0] * (Zr - Z) / Z, atol=1e-9)
    assert np.all(np.abs(err_x) <= np.abs(X[..., 0]) * np.abs(Z - Zr) / Z + 1e-9)
    # y carries the extra fy/fx of the single (fx-based) factor
    err_y = mm[..., 1] - rel[..., 1] * K[1, 1] / K[0, 0]
    np.testing.assert_allclose(err_y, K[1, 1] / K[0, 0] * X[..., 1] * (Zr - Z) / Z, atol=1e-9)
    # exact for x, y at the root's depth
    flat = X.copy()
    flat[..., 2] = flat[:, :1, 2]
    Ks = K.copy()
    Ks[1, 1] = Ks[0, 0]
    pose_f, factor_f = camera_to_25d(flat, Ks, np.array([W, 1002.0]))
    np.testing.assert_allclose(from_25d(pose_f, factor_f), flat - flat[:, :1], atol=1e-9)


def test_25d_root_behind_camera_is_nan_and_bad_inputs_raise():
    X = _points(np.random.default_rng(7), (2, 17)) * 1000
    X[1, :, 2] *= -1
    pose, factor = camera_to_25d(X, K, np.array([1000, 1000]), root=0)
    assert np.isfinite(pose[0]).all() and np.isfinite(factor[0])
    assert np.isnan(pose[1]).all() and np.isnan(factor[1])
    with pytest.raises(ValueError, match=r"root must index one of the J=17"):
        camera_to_25d(X, K, np.array([1000, 1000]), root=17)
    with pytest.raises(ValueError, match=r"X_cam must have shape \(\.\.\., J, 3\), got \(17,\)"):
        camera_to_25d(X[0, :, 0], K, np.array([1000, 1000]))


def test_bad_shapes_raise_naming_the_argument():
    X = np.ones((4, 3))
    with pytest.raises(ValueError, match=r"K must have shape \(\.\.\., 3, 3\), got \(3, 4\)"):
        project(X, np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"X_cam must have shape \(\.\.\., 3\), got \(4, 2\)"):
        project(np.ones((4, 2)), K)
    with pytest.raises(ValueError, match=r"dist must have shape \(\.\.\., 4\|5\|8\)"):
        project(X, K, np.zeros(6))
    with pytest.raises(ValueError, match="R is empty"):
        world_to_camera(X, np.ones((0, 3, 3)), np.zeros(3))
    with pytest.raises(ValueError, match="numeric array"):
        project(np.array(["a", "b", "c"]), K)


def _h36m_camera(cams, imgname):
    subject, folder = imgname.split("/")[:2]
    cam = cams[(subject, folder.rsplit(".", 1)[1])]  # "S1_Directions_1.54138969" → camera id
    (fx, fy), (cx, cy) = cam["f"][:, 0], cam["c"][:, 0]
    Kc = np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]])
    return cam, Kc, cam["k"][:, 0], cam["p"][:, 0]


def test_h36m_fixture_reprojection(shared_data):
    root = shared_data / "fixtures" / "h36m"
    data = np.load(root / "test_h36m_body3d.npz")
    with open(root / "cameras.pkl", "rb") as fh:
        cams = pickle.load(fh)  # trusted fixture; the restricted unpickler is another issue's
    for name, S, part in zip(data["imgname"], data["S"], data["part"]):
        cam, Kc, k, p = _h36m_camera(cams, str(name))
        X = S[:, :3]  # camera frame, metres
        gt = part[:, :2]
        pinhole = np.linalg.norm(project(X, Kc) - gt, axis=-1)
        opencv = np.linalg.norm(project(X, Kc, np.r_[k[:2], p, k[2]]) - gt, axis=-1)
        xy = distort_normalized_h36m(X[:, :2] / X[:, 2:], k, p[::-1])  # VP3D order = reversed
        h36m = np.linalg.norm(xy * np.diag(Kc)[:2] + Kc[:2, 2] - gt, axis=-1)
        assert pinhole.max() < 3.5 and pinhole.max() > 1.0  # distortion is visible
        assert opencv.max() < 0.3  # OpenCV form with mmpose's p order: a few tenths of a px
        assert h36m.max() < 1e-3  # the dataset's own lens model reproduces its 2D GT
        # camera→world (R, T) of the pkl: X_world = R X_cam + T; back through world_to_camera
        Rw, T = cam["R"], cam["T"][:, 0]
        X_world = X @ Rw.T + T
        np.testing.assert_allclose(world_to_camera(X_world, Rw.T, -Rw.T @ T), X, atol=1e-12)
        np.testing.assert_allclose(camera_center(Rw.T, -Rw.T @ T), T, atol=1e-12)
