"""Calibration from the lifter's 2.5D output, depth-mirror resolution and health warnings."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from liftbench.geometry.calibration import CalibrationWarning, calibrate, extrinsic_errors
from liftbench.geometry.cameras import camera_from_25d, camera_to_25d
from tests.geometry.scenes import make_scene

SIZE = np.tile([1920.0, 1080.0], (4, 1))


def scene_25d(seed: int = 0, noise_px: float = 0.0):
    s = make_scene(C=4, T=60, seed=seed)
    p25, _ = camera_to_25d(s["Xc"], s["K"][:, None], SIZE[:, None])
    uv = s["uv"] + np.random.default_rng(seed).normal(0, noise_px, s["uv"].shape)
    return s, p25, uv


def max_rotation_error(R, t, s) -> float:
    return float(extrinsic_errors(R, t, s["R"], s["t"])["rotation_deg"].max())


def test_camera_from_25d_inverts_camera_to_25d():
    s = make_scene(C=2, T=5, seed=1)
    size = SIZE[:2, None]
    p25, factor = camera_to_25d(s["Xc"], s["K"][:, None], size)
    X = camera_from_25d(p25, s["uv"][:, :, 0], s["K"][:, None], size)
    # unit root depth: the true pose divided by its root depth
    np.testing.assert_allclose(X * s["Xc"][..., :1, 2:3], s["Xc"], atol=1e-9)
    back, _ = camera_to_25d(X, s["K"][:, None], size)
    np.testing.assert_allclose(back, p25, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_25d_gives_the_exact_rig(seed):
    s, p25, uv = scene_25d(seed)
    R, t, d = calibrate(p25, uv, s["conf"], s["K"], pose_space="2.5d", image_size=SIZE)
    assert max_rotation_error(R, t, s) <= 0.05
    assert d["pose_space"] == "2.5d" and d["mirrored_views"] == [] and not d["warnings"]
    # the same array read as camera-frame 3D: its x, y are image offsets, directions are off
    R_c, t_c, _ = calibrate(p25, uv, s["conf"], s["K"], pose_space="camera")
    assert max_rotation_error(R_c, t_c, s) > 1.0


@pytest.mark.parametrize("mirrored", [(2,), (0,), (0, 1, 2, 3)])
def test_depth_mirrored_views_are_resolved(mirrored):
    s, p25, uv = scene_25d(seed=1, noise_px=3.0)
    p = p25.copy()
    p[list(mirrored), ..., 2] *= -1  # the monocular depth ambiguity
    R, t, d = calibrate(p, uv, s["conf"], s["K"], pose_space="2.5d", image_size=SIZE)
    assert max_rotation_error(R, t, s) < 1.0
    assert d["mirrored_views"] == list(mirrored)
    errors = sorted(h["reprojection_px"] for h in d["mirror_hypotheses"])
    assert errors[1] > 3 * errors[0]
    # without the resolution the rig is far off (what the guard is for)
    R_n, t_n, _ = calibrate(p, uv, s["conf"], s["K"], pose_space="2.5d", image_size=SIZE,
                            resolve_mirror=False)
    assert max_rotation_error(R_n, t_n, s) > 45.0


def test_camera_space_mirror_is_resolved():
    s = make_scene(C=3, T=30, seed=4)
    p = s["Xc"].copy()
    z_root = p[1, :, :1, 2]
    p[1, ..., 2] = 2 * z_root - p[1, ..., 2]
    R, t, d = calibrate(p, s["uv"], s["conf"], s["K"])
    assert d["mirrored_views"] == [1]
    assert max_rotation_error(R, t, s) < 1e-6


def test_25d_needs_image_size():
    s, p25, uv = scene_25d()
    with pytest.raises(ValueError, match="needs image_size"):
        calibrate(p25, uv, s["conf"], s["K"], pose_space="2.5d")
    with pytest.raises(ValueError, match="image_size must be"):
        calibrate(p25, uv, s["conf"], s["K"], pose_space="2.5d", image_size=SIZE[:2])
    with pytest.raises(ValueError, match="pose_space must be"):
        calibrate(p25, uv, s["conf"], s["K"], pose_space="3d")


def _warnings_of(*args, **kwargs) -> tuple[dict, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CalibrationWarning)
        _, _, d = calibrate(*args, **kwargs)
    return d, [str(w.message) for w in caught if w.category is CalibrationWarning]


def test_unhealthy_results_warn_and_are_recorded():
    s = make_scene(C=3, T=30, seed=6)
    rng = np.random.default_rng(0)
    # noisy monocular 3D: the linear estimate is not a rotation
    d, caught = _warnings_of(s["Xc"] + rng.normal(0, 0.3, s["Xc"].shape), s["uv"], s["conf"],
                             s["K"])
    assert any("not a rotation" in m for m in caught)
    assert d["warnings"] == caught
    # 2D that the rig cannot explain
    d, caught = _warnings_of(s["Xc"], s["uv"] + rng.normal(0, 80, s["uv"].shape), s["conf"],
                             s["K"], orthonormalize=True)
    assert any("reprojection error" in m for m in caught)
    # most joints missing
    conf = s["conf"].copy()
    conf[:, :, 3:] = 0.0
    _, caught = _warnings_of(s["Xc"], s["uv"], conf, s["K"])
    assert any("most joints are missing" in m for m in caught)
    # a clean call raises none
    d, caught = _warnings_of(s["Xc"], s["uv"], s["conf"], s["K"])
    assert caught == [] and d["warnings"] == []


def test_identical_views_warn():
    s = make_scene(C=3, T=30, seed=6)
    uv, Xc, K = s["uv"].copy(), s["Xc"].copy(), s["K"].copy()
    uv[2], Xc[2], K[2] = uv[1], Xc[1], K[1]
    _, caught = _warnings_of(Xc, uv, s["conf"], K)
    assert any("views 2 and 3 have identical 2D" in m for m in caught)
