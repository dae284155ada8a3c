import numpy as np
import pytest

from liftbench.datamodules.synthetic.detector import (
    NOISE_PRESETS,
    apply_detector,
    noise_preset,
    person_size,
)
from liftbench.datamodules.synthetic.rigs import (
    INTRINSICS,
    RIG_KINDS,
    intrinsics,
    look_at,
    make_rig,
)

# A standing H36M-17 person (metres, Z up, facing +X) walking along +Y.
STAND = np.array([
    [0, 0, 0.95], [0, -0.12, 0.93], [0, -0.12, 0.5], [0, -0.12, 0.08], [0, 0.12, 0.93],
    [0, 0.12, 0.5], [0, 0.12, 0.08], [0, 0, 1.2], [0, 0, 1.45], [0.08, 0, 1.55], [0, 0, 1.7],
    [0, 0.18, 1.42], [0, 0.2, 1.15], [0, 0.2, 0.9], [0, -0.18, 1.42], [0, -0.2, 1.15],
    [0, -0.2, 0.9],
])


def person(frames=60, speed=0.02):
    f = np.arange(frames)[:, None, None]
    out = np.broadcast_to(STAND, (frames, 17, 3)).copy()
    out[..., 1] += speed * f[..., 0]
    out[..., 0] += 0.05 * np.sin(f[..., 0] / 5)
    return out


def pinhole(x_world, R, t, K):
    """Independent reference: (T,J,3) world → (T,J,2) px for one camera (R (T,3,3), t (T,3))."""
    xc = np.einsum("tij,tkj->tki", R, x_world) + t[:, None]
    uv = xc[..., :2] / xc[..., 2:]
    return uv @ K[:2, :2].T + K[:2, 2], xc


def test_look_at_is_a_rotation_and_centres_target():
    eye = np.array([[5.0, 1.0, 2.0], [-3.0, 4.0, 1.0]])
    target = np.array([[0.0, 0.0, 1.0], [1.0, 1.0, 0.5]])
    R, t = look_at(eye, target, np.array([0.0, 0.3]))
    assert np.allclose(R @ np.swapaxes(R, -1, -2), np.eye(3), atol=1e-12)
    assert np.allclose(np.linalg.det(R), 1.0)
    tc = np.einsum("vij,vj->vi", R, target) + t
    assert np.allclose(tc[:, :2], 0, atol=1e-12) and (tc[:, 2] > 0).all()
    # without roll, world up projects to image up (negative y)
    up = R[0] @ np.array([0, 0, 1.0])
    assert up[1] < 0
    with pytest.raises(ValueError, match="coincide"):
        look_at(eye, eye)


@pytest.mark.parametrize("kind", RIG_KINDS)
def test_rigs_see_the_person(kind):
    joints = person()
    rig = make_rig(kind, joints, 4, np.random.default_rng(0))
    assert rig.R.shape == (4, 60, 3, 3) and rig.t.shape == (4, 60, 3)
    assert np.allclose(np.linalg.det(rig.R), 1.0)
    for v in range(4):
        uv, xc = pinhole(joints, rig.R[v], rig.t[v], rig.K[v])
        assert (xc[..., 2] > 0.5).all()
        w, h = rig.image_size[v]
        inside = (uv[..., 0] >= 0) & (uv[..., 0] < w) & (uv[..., 1] >= 0) & (uv[..., 1] < h)
        assert inside.mean() > 0.97, (kind, v, inside.mean())


def test_ring_is_static_and_panning_moves():
    joints = person(80, speed=0.05)
    ring = make_rig("ring", joints, 3, np.random.default_rng(1))
    assert np.allclose(ring.R, ring.R[:, :1]) and np.allclose(ring.t, ring.t[:, :1])
    pan = make_rig("panning", joints, 4, np.random.default_rng(1))
    assert not np.allclose(pan.R[:, 0], pan.R[:, -1])
    moved = np.linalg.norm(pan.centers[:, -1] - pan.centers[:, 0], axis=-1)
    assert (moved[1::2] > 1.0).all() and np.allclose(moved[0::2], 0)


def test_broadcast_person_is_small_and_far():
    joints = person()
    rig = make_rig("broadcast", joints, 4, np.random.default_rng(2))
    assert (np.linalg.norm(rig.centers[:, 0] - joints[0, 0], axis=-1) > 20).all()
    for v in range(4):
        uv, _ = pinhole(joints, rig.R[v], rig.t[v], rig.K[v])
        height = uv[..., 1].max(-1) - uv[..., 1].min(-1)
        assert height.max() < 0.5 * rig.image_size[v, 1]
        assert tuple(rig.image_size[v]) == (3840, 2160)


def test_rig_determinism_and_errors():
    joints = person()
    a = make_rig("random", joints, 5, np.random.default_rng(7), distortion=True)
    b = make_rig("random", joints, 5, np.random.default_rng(7), distortion=True)
    assert np.array_equal(a.R, b.R) and np.array_equal(a.dist, b.dist)
    assert np.abs(a.dist).sum() > 0
    with pytest.raises(ValueError, match="rig must be one of"):
        make_rig("drone", joints, 2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="num_cameras"):
        make_rig("ring", joints, 9, np.random.default_rng(0))
    with pytest.raises(ValueError, match="joints must be finite"):
        make_rig("ring", joints[..., :2], 2, np.random.default_rng(0))


def test_intrinsics_presets():
    for name, (w, h, fov) in INTRINSICS.items():
        K, size = intrinsics(name)
        assert tuple(size) == (w, h)
        assert np.isclose(2 * np.degrees(np.arctan(w / 2 / K[0, 0])), fov)
    with pytest.raises(ValueError, match="unknown intrinsics"):
        intrinsics("potato")


def _clean_views(frames=400, scale=1.0):
    rng = np.random.default_rng(3)
    base = rng.uniform(400, 600, (1, 1, 17, 2)) * scale
    drift = np.linspace(0, 50, frames)[None, :, None, None]
    return np.broadcast_to(base + drift, (3, frames, 17, 2)).copy()


def test_clean_noise_is_identity():
    clean = _clean_views()
    out = apply_detector(clean, noise_preset("clean"), np.random.default_rng(0))
    assert np.array_equal(out[..., :2], clean) and (out[..., 2] == 1).all()


def test_detector_statistics():
    clean = _clean_views()
    noise = NOISE_PRESETS["detector"]
    out = apply_detector(clean, noise, np.random.default_rng(0))
    assert out.shape == (3, 400, 17, 3) and np.isfinite(out).all()
    err = np.linalg.norm(out[..., :2] - clean, axis=-1)
    size = person_size(clean)[..., None]
    rel = err / size
    # jitter of the documented size (median of a 2D Gaussian radius ≈ 1.18 σ)
    assert 0.5 * noise.jitter < np.median(rel) < 2.0 * noise.jitter
    # heavy tail: the worst errors are far beyond the jitter
    assert rel.max() > 5 * noise.jitter
    # temporally correlated: consecutive errors are strongly correlated
    d = out[..., 0] - clean[..., 0]
    corr = np.corrcoef(d[:, 1:].ravel(), d[:, :-1].ravel())[0, 1]
    assert corr > 0.6
    # confidence correlates negatively with error, stays in [0, 1]
    assert np.corrcoef(out[..., 2].ravel(), rel.ravel())[0, 1] < -0.3
    assert out[..., 2].min() >= 0 and out[..., 2].max() <= 1


def test_detector_error_scales_with_person_size():
    small, big = _clean_views(scale=0.5), _clean_views(scale=2.0)
    noise = NOISE_PRESETS["detector"]
    e_small = np.abs(apply_detector(small, noise, np.random.default_rng(5))[..., :2] - small)
    e_big = np.abs(apply_detector(big, noise, np.random.default_rng(5))[..., :2] - big)
    ratio = np.median(e_big) / np.median(e_small)
    assert 3.0 < ratio < 5.0


def test_detector_swaps_and_errors():
    clean = _clean_views(frames=2000)
    noise = NOISE_PRESETS["hard"]
    out = apply_detector(clean, noise, np.random.default_rng(1))
    # a swapped left/right ankle lands on the other ankle's clean position
    on_other = np.linalg.norm(out[..., 3, :2] - clean[..., 6, :], axis=-1)
    assert (on_other < 0.05 * person_size(clean)).any()
    with pytest.raises(ValueError, match="clean_px"):
        apply_detector(clean[..., :1], noise, np.random.default_rng(0))
    with pytest.raises(ValueError, match="unknown noise"):
        noise_preset("loud")
