import json
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from liftbench.datamodules.synthetic import MOTION_GROUPS, Motion, list_motions, load_motion
from liftbench.datamodules.synthetic.augment import standing_height
from liftbench.datamodules.synthetic.deepmimic import (
    CLIP_LAYOUT,
    Y_UP_TO_Z_UP,
    clip_path,
    parse_clip,
    parse_urdf,
)
from liftbench.geometry.skeletons import H36M17, bone_lengths

CLIPS = sorted(n for names in MOTION_GROUPS.values() for n in names)
J = {n: i for i, n in enumerate(H36M17.joints)}
UP = np.array([0.0, 0.0, 1.0])


@pytest.fixture(scope="module")
def data_root():
    path = Path(__file__).resolve().parents[2] / "../shared/data"
    if not path.is_dir():
        pytest.skip(f"shared data not found at {path}")
    return path


@pytest.fixture(scope="module")
def cmu(data_root):
    path = data_root / "mocap" / "cmu_01_01.bvh"
    if not path.is_file():
        pytest.skip(f"no CMU capture at {path}")
    return load_motion(path)


def max_bone_drift(joints):
    lengths = bone_lengths(joints)
    return float(np.abs(lengths / lengths[:1] - 1).max())


def left_of_forward(joints, forward):
    """Triple product sign per frame: is the left hip on the left of `forward` (Z up)?"""
    side = joints[:, J["left_hip"]] - joints[:, J["right_hip"]]
    return np.einsum("ti,ti->t", side, np.cross(UP, forward))


def knee_forward(joints):
    """Horizontal direction the bent knees point to (anatomically: the subject's front)."""
    out = 0
    for s in ("left", "right"):
        hip, knee, ankle = (joints[:, J[f"{s}_{k}"]] for k in ("hip", "knee", "ankle"))
        out = out + knee - (hip + ankle) / 2
    out = out * np.array([1.0, 1.0, 0.0])
    return out, np.linalg.norm(out, axis=-1)


def test_groups_cover_the_installed_clips():
    assert list_motions() == CLIPS
    assert not set(MOTION_GROUPS["daily"]) & set(MOTION_GROUPS["sports"])


@pytest.mark.parametrize("name", CLIPS)
def test_every_clip_is_a_rigid_h36m_body(name):
    m = load_motion(name)
    assert isinstance(m, Motion) and m.name == name and m.group in ("daily", "sports")
    assert name in MOTION_GROUPS[m.group]
    assert m.joints.dtype == np.float64 and m.joints.shape[1:] == (17, 3) and m.num_frames > 20
    assert max_bone_drift(m.joints) < 1e-6
    assert 1.4 <= standing_height(m.joints) <= 2.0
    # head top above the lowest foot; crawl never stands, kick and punch keep a bent-knee
    # fighting stance (1.39 m at most), every other clip stands upright at some point
    feet = m.joints[:, [J["left_ankle"], J["right_ankle"]], 2].min(1)
    height = (m.joints[:, J["head"], 2] - feet).max()
    assert 1.4 <= height <= 2.0 or (name in ("crawl", "kick", "punch") and height < 1.4)
    # the floor is z = 0: the lowest joint is within 10 cm of it
    assert abs(m.joints[..., 2].min()) < 0.1


@pytest.mark.parametrize("name", ["walk", "run"])
def test_left_is_left_geometrically(name):
    x = load_motion(name).joints
    travel = x[-1, 0] - x[0, 0]
    travel[2] = 0
    assert np.linalg.norm(travel) > 0.5
    knees, size = knee_forward(x)
    bent = size > 0.03
    assert bent.mean() > 0.5
    # the subject walks forwards (bent knees point the way it travels) ...
    assert (knees[bent] @ travel > 0).mean() > 0.9
    # ... with the joint labelled left hip (and shoulder) on its left
    assert (left_of_forward(x, np.broadcast_to(travel, x[:, 0].shape)) > 0).all()
    sh = x[:, J["left_shoulder"]] - x[:, J["right_shoulder"]]
    assert (sh @ np.cross(UP, travel) > 0).mean() > 0.95


def test_y_up_to_z_up_is_proper():
    assert np.isclose(np.linalg.det(Y_UP_TO_Z_UP), 1.0)
    assert np.allclose(Y_UP_TO_Z_UP @ [0, 1, 0], UP)


def write_clip(path, frames, loop="none"):
    path.write_text(json.dumps({"Loop": loop, "Frames": frames}))
    return path


def rest_frame(dt=0.1, root=(0.0, 1.0, 0.0), root_q=(1, 0, 0, 0), angles=None):
    frame = [dt, *root, *root_q]
    for name, size in CLIP_LAYOUT:
        frame += [(angles or {}).get(name, 0.0)] if size == 1 else [1.0, 0.0, 0.0, 0.0]
    return frame


def test_fk_against_urdf_offsets(tmp_path):
    """Independent reference: rest pose = summed URDF offsets; a knee bend moves the foot back."""
    urdf = parse_urdf()
    off = {k: urdf[k].xyz for k in urdf}
    frames = [rest_frame(), rest_frame(angles={"right_knee": -np.pi / 2})]
    m = load_motion(write_clip(tmp_path / "c.txt", frames))
    root = np.array([0.0, 1.0, 0.0])
    hip = root + off["right_hip"]
    knee = hip + off["right_knee"]
    ankle = knee + off["right_ankle"]
    wrist = root + off["chest"] + off["left_shoulder"] + off["left_elbow"] + off["left_wrist"]
    z_up = Y_UP_TO_Z_UP
    assert np.allclose(m.joints[0, J["right_ankle"]], z_up @ ankle)
    assert np.allclose(m.joints[0, J["left_wrist"]], z_up @ wrist)
    assert np.allclose(m.joints[0, J["pelvis"]], z_up @ root)
    # knee flexed 90 degrees: the shin points backwards (-X, the humanoid faces +X)
    shin = np.linalg.norm(off["right_ankle"])
    assert np.allclose(m.joints[1, J["right_ankle"]], z_up @ (knee + [-shin, 0, 0]))
    # the right hip is at -Y in the Z-up world when facing +X: right of forward
    assert m.joints[0, J["right_hip"], 1] < 0 < m.joints[0, J["left_hip"], 1]


def test_root_rotation_turns_the_body(tmp_path):
    q = Rotation.from_euler("y", 90, degrees=True).as_quat(scalar_first=True)
    m = load_motion(write_clip(tmp_path / "c.txt", [rest_frame(root_q=tuple(q))]))
    ref = load_motion(write_clip(tmp_path / "r.txt", [rest_frame()]))
    yaw = Rotation.from_euler("z", 90, degrees=True).as_matrix()  # Y-up yaw = Z-up yaw
    pelvis = ref.joints[0, 0]
    assert np.allclose(m.joints[0], (ref.joints[0] - pelvis) @ yaw.T + pelvis)


def test_resampling_keeps_bones_and_hits_the_original_frames():
    native = load_motion("kick")
    assert native.fps == 30.0
    double = load_motion("kick", fps=60)
    assert double.num_frames == 2 * native.num_frames - 1
    assert np.allclose(double.joints[::2], native.joints, atol=1e-9)
    for fps in (50.0, 120.0, 17.0):
        m = load_motion("kick", fps=fps)
        assert m.fps == fps
        assert m.num_frames == int(np.floor(native.duration * fps + 1e-6)) + 1
        assert max_bone_drift(m.joints) < 1e-6
        assert np.allclose(bone_lengths(m.joints)[0], bone_lengths(native.joints)[0])
    # midway between two frames, slerped joint rotations: not the average of the positions
    mid = double.joints[1]
    assert np.linalg.norm(mid - (native.joints[0] + native.joints[1]) / 2, axis=-1).max() < 0.05


def test_uneven_clip_is_put_on_a_uniform_grid():
    clip = parse_clip(clip_path("roll"))
    assert np.ptp(np.diff(clip.times)) > 0.01  # roll skips a frame
    m = load_motion("roll")
    assert m.fps == pytest.approx(60.0, rel=1e-3)
    assert m.num_frames == int(np.floor(clip.times[-1] * m.fps + 1e-6)) + 1


def test_errors(tmp_path):
    with pytest.raises(ValueError, match=r"unknown motion 'kik'.*did you mean kick.*walk"):
        load_motion("kik")
    with pytest.raises(FileNotFoundError, match="no BVH file"):
        load_motion(tmp_path / "missing.bvh")
    with pytest.raises(FileNotFoundError, match="no DeepMimic clip file"):
        load_motion(tmp_path / "missing.txt")
    with pytest.raises(ValueError, match="unsupported motion file"):
        load_motion(tmp_path / "take.fbx")
    with pytest.raises(ValueError, match="zero frames"):
        load_motion(write_clip(tmp_path / "empty.txt", []))
    with pytest.raises(ValueError, match="44 numbers"):
        load_motion(write_clip(tmp_path / "short.txt", [[0.1] * 43]))
    with pytest.raises(ValueError, match="fps must be > 0"):
        load_motion("walk", fps=0)
    with pytest.raises(ValueError, match="zero frames"):
        Motion(np.zeros((0, 17, 3)), 30.0, "x")
    with pytest.raises(ValueError, match=r"\(T, 17, 3\)"):
        Motion(np.zeros((5, 15, 3)), 30.0, "x")


def test_cmu_capture(cmu):
    x = cmu.joints
    assert cmu.fps == 120.0 and x.shape == (2752, 17, 3) and cmu.group is None
    assert max_bone_drift(x) < 1e-6
    height = x[:, J["head"], 2] - x[:, [J["left_ankle"], J["right_ankle"]], 2].min(1)
    assert 1.4 <= np.percentile(height, 95) <= 2.0
    assert 1.4 <= standing_height(x) <= 2.0
    assert abs(x[..., 2].min()) < 0.15  # CMU's floor is y = 0
    knees, size = knee_forward(x)
    bent = size > 0.05
    assert bent.sum() > 200
    assert (left_of_forward(x[bent], knees[bent]) > 0).mean() > 0.95
    resampled = load_motion(cmu_path(cmu), fps=30)
    assert resampled.num_frames == (2752 - 1) // 4 + 1
    assert np.allclose(bone_lengths(resampled.joints), bone_lengths(x)[:1], rtol=1e-6)
    assert np.allclose(resampled.joints, x[::4], atol=1e-6)


def cmu_path(motion):
    return Path(__file__).resolve().parents[2] / "../shared/data/mocap" / f"{motion.name}.bvh"
