import numpy as np
import pytest

from liftbench.datamodules.synthetic import load_motion
from liftbench.datamodules.synthetic.augment import (
    mirror,
    rotate_heading,
    scale_subject,
    set_bone_lengths,
    standing_height,
    time_warp,
    vary_bone_lengths,
)
from liftbench.geometry.skeletons import H36M17, bone_lengths

J = {n: i for i, n in enumerate(H36M17.joints)}
UP = np.array([0.0, 0.0, 1.0])


@pytest.fixture(scope="module")
def walk():
    return load_motion("walk")


def drift(x):
    lengths = bone_lengths(x)
    return float(np.abs(lengths / lengths[:1] - 1).max())


def left_score(x):
    """Fraction of frames with the left hip on the left of the walking direction (Z up)."""
    travel = x[-1, 0] - x[0, 0]
    travel[2] = 0
    side = x[:, J["left_hip"]] - x[:, J["right_hip"]]
    return float((side @ np.cross(UP, travel) > 0).mean())


def test_vary_bone_lengths(walk):
    rng = np.random.default_rng(0)
    out = vary_bone_lengths(walk, rng, sigma=0.1)
    assert out.shape == walk.joints.shape and drift(out) < 1e-9
    before, after = bone_lengths(walk.joints)[0], bone_lengths(out)[0]
    ratio = after / before
    assert np.abs(ratio - 1).max() > 0.02  # the body changed
    for a, b in H36M17.bones:  # the same factor for a bone and its mirror image
        fa, fb = ratio[b - 1], ratio[H36M17.flip[b] - 1]
        assert np.isclose(fa, fb), (a, b)
    # re-built from the pelvis, then lifted as a whole so the feet stay on the ground
    assert np.allclose(out[:, 0, :2], walk.joints[:, 0, :2])
    assert np.ptp(out[:, 0, 2] - walk.joints[:, 0, 2]) < 1e-12
    assert np.isclose(out[..., 2].min(), walk.joints[..., 2].min())  # feet stay on the ground
    same = vary_bone_lengths(walk.joints, np.random.default_rng(0), sigma=0.1)
    assert np.array_equal(same, out)
    assert np.allclose(vary_bone_lengths(walk, rng, sigma=0.0), walk.joints)


def test_set_bone_lengths_keeps_directions(walk):
    lengths = np.linspace(0.1, 0.4, 16)
    out = set_bone_lengths(walk.joints, lengths)
    assert np.allclose(bone_lengths(out), lengths)
    for p, c in H36M17.bones:
        d0 = walk.joints[:, c] - walk.joints[:, p]
        d1 = out[:, c] - out[:, p]
        cos = (d0 * d1).sum(-1) / np.linalg.norm(d0, axis=-1) / np.linalg.norm(d1, axis=-1)
        assert np.allclose(cos, 1.0)


def test_scale_subject_heights_and_ground(walk):
    rng = np.random.default_rng(1)
    heights = []
    for _ in range(20):
        out = scale_subject(walk.joints, rng, height_range=(1.5, 1.95))
        heights.append(standing_height(out))
        assert drift(out) < 1e-9
        scale = heights[-1] / standing_height(walk.joints)
        # scaled about the ground point: the floor stays z = 0, the lowest point scales with
        assert np.isclose(out[..., 2].min(), scale * walk.joints[..., 2].min())
        assert abs(out[..., 2].min()) < 0.1
        assert np.allclose(out[0, 0, :2], walk.joints[0, 0, :2])
    assert min(heights) >= 1.5 and max(heights) <= 1.95 and np.ptp(heights) > 0.2
    with pytest.raises(ValueError, match="height_range"):
        scale_subject(walk.joints, rng, height_range=(2.0, 1.0))


def test_rotate_heading_is_a_yaw_about_the_first_pelvis(walk):
    rng = np.random.default_rng(2)
    yaws = []
    for _ in range(10):
        out = rotate_heading(walk.joints, rng)
        assert drift(out) < 1e-9 and np.allclose(out[..., 2], walk.joints[..., 2])
        assert np.allclose(out[0, 0], walk.joints[0, 0])
        a, b = walk.joints[-1, 0] - walk.joints[0, 0], out[-1, 0] - out[0, 0]
        yaws.append(np.arctan2(b[1], b[0]) - np.arctan2(a[1], a[0]))
        assert left_score(out) == 1.0
    assert np.ptp(np.mod(yaws, 2 * np.pi)) > 1.0


def test_mirror(walk):
    x = walk.joints
    once = mirror(x)
    assert np.allclose(mirror(once), x, atol=1e-12)
    assert drift(once) < 1e-9
    assert np.allclose(bone_lengths(once)[0], bone_lengths(x)[0])
    # anatomically valid: the joint labelled left is still on the subject's left
    assert left_score(x) == 1.0 and left_score(once) == 1.0
    # a reflection, not a rotation: the mirrored body's chirality flips, which shows as the
    # left wrist (swinging opposite to the right leg) now on the other side of the motion
    def handedness(y):
        a = y[:, J["left_shoulder"]] - y[:, J["pelvis"]]
        b = y[:, J["right_shoulder"]] - y[:, J["pelvis"]]
        c = y[:, J["left_wrist"]] - y[:, J["left_shoulder"]]
        return np.sign(np.einsum("ti,ti->t", np.cross(a, b), c))
    unswapped = once[:, H36M17.flip_array]  # the pure reflection, labels not swapped back
    assert (handedness(unswapped) == -handedness(x)).all()
    # the pelvis trajectory is reflected across the first frame's sagittal plane
    assert np.allclose(once[0, 0], x[0, 0])


def test_time_warp(walk):
    x = walk.joints
    same = time_warp(x, walk.fps, 1.0)
    assert np.allclose(same, x, atol=1e-9)
    fast = time_warp(x, walk.fps, 2.0)
    assert fast.shape[0] == (x.shape[0] - 1) // 2 + 1
    assert np.allclose(fast, x[::2], atol=1e-9)
    slow = time_warp(x, walk.fps, 0.5)
    assert slow.shape[0] == 2 * x.shape[0] - 1
    assert np.allclose(slow[::2], x, atol=1e-9)
    for out in (slow, time_warp(x, walk.fps, 0.7), time_warp(x, 30.0, 1.0, fps_out=50.0)):
        assert drift(out) < 1e-9
        assert np.allclose(bone_lengths(out)[0], bone_lengths(x)[0])
    assert time_warp(x, 30.0, 1.0, fps_out=60.0).shape[0] == 2 * x.shape[0] - 1
    with pytest.raises(ValueError, match="must be > 0"):
        time_warp(x, 30.0, 0.0)


def test_bad_input():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"\(T, 17, 3\)"):
        vary_bone_lengths(np.zeros((4, 15, 3)), rng)
    with pytest.raises(ValueError, match="zero frames"):
        mirror(np.zeros((0, 17, 3)))
    with pytest.raises(ValueError, match="non-finite"):
        rotate_heading(np.full((2, 17, 3), np.nan), rng)
