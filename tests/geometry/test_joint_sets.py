"""Joint sets as data (geometry/joint_sets.py): trees, flips, official orders, real sides."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from liftbench.geometry.skeletons import (
    H36M17,
    JOINT_SETS,
    JointSet,
    convert,
    flip_keypoints,
    get_joint_set,
    get_map,
)

ALL_SETS = sorted(JOINT_SETS)
EXPECTED_SETS = {
    "h36m17", "coco17", "halpe26", "body25", "body25b", "mpi3dhp28", "mpi3dhp17", "aspset17",
    "smpl24", "mads", "mads15", "skipose", "deepmimic15",
}


# ---------------------------------------------------------------- joint sets as data


def test_registry_has_every_set_and_every_set_maps_to_h36m() -> None:
    assert set(JOINT_SETS) == EXPECTED_SETS
    for name in EXPECTED_SETS - {"h36m17"}:
        assert get_map(name, "h36m17").dst == "h36m17"


@pytest.mark.parametrize("name", ALL_SETS)
def test_parents_form_one_tree(name: str) -> None:
    js = get_joint_set(name)
    assert js.parents.count(-1) == 1
    assert all(-1 <= p < js.num_joints and p != c for c, p in enumerate(js.parents))
    for joint in range(js.num_joints):  # every joint reaches the root without a cycle
        seen = set()
        while joint != js.root:
            assert joint not in seen
            seen.add(joint)
            joint = js.parents[joint]
    assert len(js.bones) == js.num_joints - 1
    assert {c for _, c in js.bones} == set(range(js.num_joints)) - {js.root}
    assert all(js.parents[c] == p for p, c in js.bones)


@pytest.mark.parametrize("name", ALL_SETS)
def test_flip_is_an_involution_swapping_matching_body_parts(name: str) -> None:
    js = get_joint_set(name)
    flip = js.flip_array
    assert np.array_equal(flip[flip], np.arange(js.num_joints))
    assert len(js.left) == len(js.right) > 0
    for i in js.left:
        assert flip[i] in js.right
        assert js.joints[flip[i]].removeprefix("right_") == js.joints[i].removeprefix("left_")
    assert all(flip[i] == i for i in js.centre)
    assert set(js.left) | set(js.right) | set(js.centre) == set(range(js.num_joints))


@pytest.mark.parametrize("name", ALL_SETS)
def test_flip_maps_bones_to_bones(name: str) -> None:
    js = get_joint_set(name)
    bones = {frozenset(b) for b in js.bones}
    assert {frozenset(js.flip[j] for j in b) for b in bones} == bones


def test_h36m17_matches_the_design_conventions() -> None:
    assert H36M17.parents == (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
    assert H36M17.left == (4, 5, 6, 11, 12, 13)
    assert H36M17.right == (1, 2, 3, 14, 15, 16)
    assert H36M17.flip == (0, 4, 5, 6, 1, 2, 3, 7, 8, 9, 10, 14, 15, 16, 11, 12, 13)
    assert get_joint_set("mpi3dhp17").left == (5, 6, 7, 11, 12, 13)  # MotionAGFormer's lists
    assert get_joint_set("mpi3dhp17").right == (2, 3, 4, 8, 9, 10)
    assert get_joint_set("mpi3dhp17").root == 14


def test_openpose_orders_match_the_official_definitions() -> None:
    body25, body25b = get_joint_set("body25"), get_joint_set("body25b")
    names = ("neck", "mid_hip", "right_eye", "left_big_toe", "right_heel")
    assert [body25.index(n) for n in names] == [1, 8, 15, 19, 24]
    assert body25b.joints[:17] == get_joint_set("coco17").joints
    names = ("upper_neck", "head_top", "left_heel", "right_big_toe")
    assert [body25b.index(n) for n in names] == [17, 18, 21, 22]


def test_joint_set_rejects_inconsistent_data() -> None:
    with pytest.raises(ValueError, match="permutation"):
        JointSet("bad", ("a", "b"), (-1, 0), (0, 0))
    with pytest.raises(ValueError, match="one entry per joint"):
        JointSet("bad", ("a", "b"), (-1,), (0, 1))


def test_deepmimic15_parents_match_the_pybullet_urdf() -> None:
    pybullet_data = pytest.importorskip("pybullet_data")
    urdf = Path(pybullet_data.getDataPath()) / "humanoid" / "humanoid.urdf"
    root = ET.fromstring(urdf.read_bytes().rstrip(b"\x00"))
    parent_of = {
        j.find("child").get("link"): j.find("parent").get("link") for j in root.iter("joint")
    }
    js = get_joint_set("deepmimic15")
    assert set(js.joints) == set(parent_of)
    for joint, parent in zip(js.joints, js.parents):
        expected = parent_of[joint]
        assert (parent == -1) if expected == "base" else js.joints[parent] == expected


# ---------------------------------------------------------------- left/right on real data


def _forward_cosine(pose: np.ndarray) -> np.ndarray:
    """cos(angle) between (L_hip − R_hip) × (thorax − pelvis) and (nose − thorax), H36M order."""
    forward = np.cross(pose[:, 4] - pose[:, 1], pose[:, 8] - pose[:, 0])
    face = pose[:, 9] - pose[:, 8]
    norms = np.linalg.norm(forward, axis=-1) * np.linalg.norm(face, axis=-1)
    return (forward * face).sum(-1) / norms


def _arms_agree_with_legs(pose: np.ndarray, js: JointSet) -> np.ndarray:
    across_hips = pose[:, js.index("left_hip")] - pose[:, js.index("right_hip")]
    across_shoulders = pose[:, js.index("left_shoulder")] - pose[:, js.index("right_shoulder")]
    return (across_hips * across_shoulders).sum(-1)


def test_h36m_fixture_left_right_is_geometric(shared_data: Path) -> None:
    pose = np.load(shared_data / "fixtures" / "h36m" / "test_h36m_body3d.npz")["S"][..., :3]
    assert (_forward_cosine(pose) > 0.1).all()
    assert (_arms_agree_with_legs(pose, H36M17) > 0).all()
    # a mirrored pose (flip the camera x axis) still passes: the flip keeps sides anatomical
    assert (_forward_cosine(flip_keypoints(pose)) > 0.1).all()
    # while relabelling without mirroring breaks it
    assert (_forward_cosine(pose[:, H36M17.flip_array]) < -0.1).all()


@pytest.mark.parametrize("split", ["train", "test"])
def test_mpi3dhp_fixture_left_right_is_geometric(shared_data: Path, split: str) -> None:
    path = shared_data / "fixtures" / "mpi_inf_3dhp" / f"test_3dhp_{split}.npz"
    pose = np.load(path)["S"][..., :3]
    mpi = get_joint_set("mpi3dhp17")
    idx = [mpi.index(n) for n in ("pelvis", "right_hip", "left_hip", "neck", "head")]
    pelvis, r_hip, l_hip, neck, head = (pose[:, i] for i in idx)
    forward = np.cross(l_hip - r_hip, neck - pelvis)
    assert ((forward * (head - neck)).sum(-1) > 0).all()
    assert (_arms_agree_with_legs(pose, mpi) > 0).all()
    h36m = convert(pose, "mpi3dhp17", "h36m17")
    assert (_forward_cosine(h36m) > 0.1).all()
    assert (_arms_agree_with_legs(h36m, H36M17) > 0).all()
