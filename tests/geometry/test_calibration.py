"""Extrinsic self-calibration: exact recovery, Schur = dense, gauge, robustness, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from liftbench.geometry.calibration import (
    CalibrationWarning,
    calibrate,
    dense_system,
    extrinsic_errors,
    rays,
    rotation_angle_deg,
    rotations_from_directions,
    schur_system,
)
from tests.geometry.scenes import TEMPLATE, make_scene, rot_z


@pytest.mark.parametrize("C", [2, 3, 4, 5, 6, 7, 8])
def test_noise_free_rigs_are_recovered(C):
    s = make_scene(C=C, T=30, seed=C)
    R, t, diag = calibrate(s["Xc"], s["uv"], s["conf"], s["K"])
    # gauge: world = camera 1, unit = the camera-1 <-> camera-2 baseline
    np.testing.assert_allclose(R[0], np.eye(3), atol=1e-12)
    np.testing.assert_allclose(t[0], 0, atol=1e-12)
    assert np.linalg.norm(t[1]) == pytest.approx(1.0, abs=1e-12)
    err = extrinsic_errors(R, t, s["R"], s["t"])
    assert err["rotation_deg"].max() < 0.01 and err["rotation_deg"].max() < 1e-8
    assert err["centre_error_rel"].max() < 1e-6
    # the translations themselves, in the gauge: t_c = (t_gt_c - R_rel_c t_gt_1) / baseline
    R_rel = s["R"] @ s["R"][0].T
    t_ref = s["t"] - np.einsum("cij,j->ci", R_rel, s["t"][0])
    np.testing.assert_allclose(t, t_ref / np.linalg.norm(t_ref[1]), atol=1e-9)
    assert diag["orthogonality_error"].max() < 1e-10
    assert diag["eigen_gap"] < 1e-9 and diag["reprojection_px"] < 1e-6
    assert diag["cheirality"]["negative"] == 0 and diag["cheirality"]["margin"] == 1.0
    # the returned points are the world joints in baseline units
    scale = np.linalg.norm(np.linalg.solve(s["R"][1], s["t"][1]) - np.linalg.solve(
        s["R"][0], s["t"][0]))
    X_cam1 = s["Xc"][0] / scale
    np.testing.assert_allclose(diag["points_3d"], X_cam1, atol=1e-8)


def test_monocular_scale_and_root_do_not_matter():
    s = make_scene(C=3, T=20, seed=3)
    R, t, _ = calibrate(s["Xc"], s["uv"], s["conf"], s["K"])
    # 2.5D-like input: root-relative, a different scale per camera and frame
    rel = s["Xc"] - s["Xc"][:, :, :1]
    scales = np.random.default_rng(0).uniform(0.1, 10, rel.shape[:2])[..., None, None]
    R2, t2, _ = calibrate(rel * scales, s["uv"], s["conf"], s["K"])
    np.testing.assert_allclose(R2, R, atol=1e-10)
    np.testing.assert_allclose(t2, t, atol=1e-9)


def test_schur_equals_dense_noise_free():
    s = make_scene(C=3, T=6, seed=1)
    R_s, t_s, d_s = calibrate(s["Xc"], s["uv"], s["conf"], s["K"], solver="schur")
    R_d, t_d, d_d = calibrate(s["Xc"], s["uv"], s["conf"], s["K"], solver="dense")
    np.testing.assert_allclose(R_s, R_d, atol=1e-12)
    np.testing.assert_allclose(t_s, t_d, atol=1e-9)
    np.testing.assert_allclose(d_s["points_3d"], d_d["points_3d"], atol=1e-9)
    # the official dense system: exactly 4 zero eigenvalues (translation gauge + scale)
    w = d_d["eigenvalues"]
    assert np.abs(w[:4]).max() < 1e-10 * w[4] and w[4] > 1e-6


def test_schur_complement_is_the_eliminated_dense_system():
    """S = H_tt − H_tx H_xx⁻¹ H_xt of the explicit matrix, also for noisy, non-orthogonal R."""
    s = make_scene(C=4, T=5, seed=2)
    rng = np.random.default_rng(0)
    R = s["R"] @ s["R"][0].T + rng.normal(0, 0.02, (4, 3, 3))  # approximately orthogonal
    n = rays(s["uv"].reshape(4, -1, 2) + rng.normal(0, 1.0, (4, 85, 2)), s["K"])
    A = dense_system(n, R)
    H = A.T @ A
    m = 3 * n.shape[1]
    ref = H[m:, m:] - H[m:, :m] @ np.linalg.solve(H[:m, :m], H[:m, m:])
    np.testing.assert_allclose(schur_system(n, R), ref, atol=1e-9 * np.abs(ref).max())


def test_schur_close_to_dense_under_noise():
    s = make_scene(C=3, T=8, seed=4)
    rng = np.random.default_rng(1)
    p3 = s["Xc"] + rng.normal(0, 0.02, s["Xc"].shape)
    uv = s["uv"] + rng.normal(0, 2.0, s["uv"].shape)
    R_s, t_s, _ = calibrate(p3, uv, s["conf"], s["K"], solver="schur")
    R_d, t_d, _ = calibrate(p3, uv, s["conf"], s["K"], solver="dense")
    np.testing.assert_allclose(R_s, R_d, atol=1e-12)  # same rotation step
    e_s = extrinsic_errors(R_s, t_s, s["R"], s["t"])["centre_error_rel_mean"]
    e_d = extrinsic_errors(R_d, t_d, s["R"], s["t"])["centre_error_rel_mean"]
    # both least-squares solutions of the same constraints: close to each other, similar error
    assert np.abs(t_s - t_d).max() < 0.05
    assert e_s < 2 * e_d + 0.01 and e_d < 2 * e_s + 0.01


def test_robust_options_help():
    s = make_scene(C=3, T=30, seed=5)
    rng = np.random.default_rng(2)
    p3 = s["Xc"] + rng.normal(0, 0.02, s["Xc"].shape)
    uv = s["uv"] + rng.normal(0, 1.5, s["uv"].shape)
    plain = calibrate(p3, uv, s["conf"], s["K"])
    e_plain = extrinsic_errors(plain[0], plain[1], s["R"], s["t"])
    ba = calibrate(p3, uv, s["conf"], s["K"], bundle_adjust=True)
    e_ba = extrinsic_errors(ba[0], ba[1], s["R"], s["t"])
    assert ba[2]["ba_cost_final"] < ba[2]["ba_cost_initial"]
    assert ba[2]["reprojection_px"] < plain[2]["reprojection_px"]
    assert e_ba["rotation_deg_mean"] < e_plain["rotation_deg_mean"]
    assert np.linalg.norm(ba[1][1]) == pytest.approx(1.0) and np.allclose(ba[0][0], np.eye(3))
    # gross 2D outliers: RANSAC keeps the inliers
    bad = uv.copy()
    hit = rng.random(bad.shape[:-1]) < 0.1
    bad[hit] += rng.normal(0, 300, (int(hit.sum()), 2))
    e_bad = extrinsic_errors(*calibrate(p3, bad, s["conf"], s["K"])[:2], s["R"], s["t"])
    R_r, t_r, d_r = calibrate(p3, bad, s["conf"], s["K"], ransac=True, ransac_iterations=50,
                              ransac_sample=20, seed=0)
    e_r = extrinsic_errors(R_r, t_r, s["R"], s["t"])
    assert d_r["ransac_inlier_points"] < p3.shape[1] * 17
    assert e_r["centre_error_rel_mean"] < e_bad["centre_error_rel_mean"]


def test_orthonormalize_flag():
    s = make_scene(C=3, T=20, seed=6)
    p3 = s["Xc"] + np.random.default_rng(3).normal(0, 0.05, s["Xc"].shape)
    R, _, d = calibrate(p3, s["uv"], s["conf"], s["K"])
    assert d["orthogonality_error"][1:].max() > 1e-4  # the official linear estimate
    R_o, _, d_o = calibrate(p3, s["uv"], s["conf"], s["K"], orthonormalize=True)
    assert d_o["orthogonality_error"].max() < 1e-12
    assert np.abs(np.linalg.det(R_o) - 1).max() < 1e-12


def test_reflected_svd_basis_still_gives_rotations():
    s = make_scene(C=3, T=10, seed=7)
    dirs = s["Xc"][:, :, [1, 2, 4, 5, 8, 11, 14]] - s["Xc"][:, :, [0, 1, 0, 4, 7, 8, 8]]
    dirs = (dirs / np.linalg.norm(dirs, axis=-1, keepdims=True)).reshape(3, -1, 3)
    R, _ = rotations_from_directions(dirs)
    assert np.allclose(np.linalg.det(R), 1.0)
    np.testing.assert_allclose(R, s["R"] @ s["R"][0].T, atol=1e-10)


def test_rotation_angle_and_extrinsic_errors():
    assert rotation_angle_deg(rot_z(np.radians(1.0)), np.eye(3)) == pytest.approx(1.0)
    assert rotation_angle_deg(rot_z(1e-7), np.eye(3)) == pytest.approx(np.degrees(1e-7),
                                                                       rel=1e-6)
    s = make_scene(C=3, T=5, seed=8)
    err = extrinsic_errors(s["R"] @ s["R"][0].T, s["t"] * 0.3 - 0.3 * np.einsum(
        "cij,j->ci", s["R"] @ s["R"][0].T, s["t"][0]), s["R"], s["t"])
    assert err["centre_error_rel"].max() < 1e-9
    with pytest.raises(ValueError, match="t_gt must have shape"):
        extrinsic_errors(s["R"], s["t"], s["R"], s["t"][:2])


# ----------------------------------------------------------------------------------- bad input
def test_fewer_than_two_cameras():
    s = make_scene(C=2, T=5)
    with pytest.raises(ValueError, match="at least 2 cameras"):
        calibrate(s["Xc"][:1], s["uv"][:1], s["conf"][:1], s["K"][:1])


def test_mismatched_frames_and_shapes():
    s = make_scene(C=2, T=6)
    with pytest.raises(ValueError, match="mismatched frame counts"):
        calibrate(s["Xc"], s["uv"][:, :5], s["conf"], s["K"])
    with pytest.raises(ValueError, match=r"confidence must have shape \(C, T, J\)"):
        calibrate(s["Xc"], s["uv"], s["conf"][:, :5], s["K"])
    with pytest.raises(ValueError, match=r"K must have shape \(C, 3, 3\)"):
        calibrate(s["Xc"], s["uv"], s["conf"], s["K"][:1])
    with pytest.raises(ValueError, match=r"pose3d_per_view must have shape \(C, T, J, 3\)"):
        calibrate(s["Xc"][0], s["uv"], s["conf"], s["K"])


def test_no_joint_visible_in_all_cameras():
    s = make_scene(C=2, T=6)
    conf = s["conf"].copy()
    conf[0, :, :9] = 0.0
    conf[1, :, 9:] = 0.0
    with pytest.raises(ValueError, match="no joint is visible in all 2 cameras"):
        calibrate(s["Xc"], s["uv"], conf, s["K"])


def test_near_planar_bone_directions():
    s = make_scene(C=3, T=10)
    flat = s["Xc"].copy()
    # every bone direction in one plane (camera 1's x-y plane, mapped into each camera)
    world = np.einsum("ji,ctkj->ctki", s["R"][0], flat[:1])[0]
    world[..., 2] = 0.0
    Rrel = s["R"] @ s["R"][0].T
    flat = np.einsum("cij,tkj->ctki", Rrel, world)
    with pytest.raises(ValueError, match="near-planar"):
        calibrate(flat, s["uv"], s["conf"], s["K"])


def test_close_cheirality_vote_warns():
    """Two parallel cameras; half the frames' points behind both (rays still consistent)."""
    rng = np.random.default_rng(0)
    T = 20
    K = np.array([[[1000, 0, 960], [0, 1000, 540], [0, 0, 1.0]]] * 2)
    t = np.array([[0, 0, 0], [-1.0, 0, 0]])
    X = np.stack([(TEMPLATE + rng.normal(0, 0.08, TEMPLATE.shape)) @ rot_z(rng.uniform(0, 6)).T
                  + [0.5, 0, 5.0 if i % 2 else -5.0] for i in range(T)])
    Xc = X[None] + t[:, None, None]
    uv = Xc[..., :2] / Xc[..., 2:] * 1000 + [960, 540]
    with warnings.catch_warnings():
        warnings.simplefilter("error", CalibrationWarning)
        with pytest.raises(CalibrationWarning, match="close cheirality vote"):
            calibrate(Xc, uv, np.ones(uv.shape[:-1]), K)


def test_dense_solver_refuses_large_problems():
    s = make_scene(C=2, T=130)
    with pytest.raises(ValueError, match="solver='dense'"):
        calibrate(s["Xc"], s["uv"], s["conf"], s["K"], solver="dense")
    with pytest.raises(ValueError, match="solver must be"):
        calibrate(s["Xc"], s["uv"], s["conf"], s["K"], solver="eig")
