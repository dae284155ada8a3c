"""Joint order from body structure when the face is not visible (BODY_25/25B, COCO/H36M-17)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from liftbench.datamodules import keypoint_layouts as kl
from liftbench.datamodules.keypoints import load_keypoints_file
from liftbench.datamodules.synthetic.motion import list_motions
from tests.datamodules.layout_people import FACE, H, W, people_2d

OTHER = {"coco17": "h36m17", "h36m17": "coco17", "body25": "body25b", "body25b": "body25"}


def _noisy(kp: np.ndarray, rng: np.random.Generator, share: float = 0.01) -> np.ndarray:
    """2D noise of `share` of the person's height (px), per coordinate."""
    out = kp.copy()
    out[..., :2] += rng.normal(0.0, share * np.ptp(kp[..., 1]), kp[..., :2].shape)
    return out


def _openpose_folder(folder, kp: np.ndarray) -> None:
    folder.mkdir()
    for t, person in enumerate(kp):
        (folder / f"cam_{t:012d}_keypoints.json").write_text(json.dumps(
            {"version": 1.3, "people": [{"pose_keypoints_2d": person.reshape(-1).tolist()}]}))


@pytest.mark.parametrize("order", ["body25b", "body25"])
def test_openpose_seen_from_behind_is_recognised(order, tmp_path):
    """Face points at confidence 0 (a camera behind the person): four cameras, all told."""
    rng = np.random.default_rng(1)
    for az in (0.0, 90.0, 180.0, 270.0):
        kp = _noisy(people_2d(order, "walk", az, face_conf=0.0), rng)
        folder = tmp_path / f"{order}_{int(az)}"
        _openpose_folder(folder, kp)
        out = load_keypoints_file(folder, image_size=(W, H))
        assert out["source_joint_set"] == order, az
        ev = kl.layout_evidence(list(kp), 25, 0.05)
        assert ev.face is None and ev.structure == order  # the structure decided alone


@pytest.mark.parametrize("order", ["body25b", "coco17"])
def test_weak_scattered_face_points_do_not_vote(order):
    """From behind, detectors report the face weakly (score 0.2) and in the wrong places."""
    rng = np.random.default_rng(3)
    count = 25 if order == "body25b" else 17
    for az in range(0, 360, 45):
        kp = people_2d(order, "walk", float(az), face_conf=0.2)
        kp[:, FACE[order], :2] += rng.normal(0.0, 0.08 * np.ptp(kp[..., 1]),
                                             (len(kp), len(FACE[order]), 2))
        ev = kl.layout_evidence(list(kp), count, 0.05)
        assert ev.face is None and ev.decided == order, az


@pytest.mark.parametrize("order", ["coco17", "h36m17"])
def test_coco_and_h36m_told_apart_by_structure(order, tmp_path):
    rng = np.random.default_rng(2)
    kp = _noisy(people_2d(order, "dance_a", 135.0, face_conf=0.0), rng)
    ev = kl.layout_evidence(list(kp), 17, 0.05)
    assert ev.structure == order and ev.decided == order
    if order == "coco17":
        assert ev.face is None  # no confident face: only the structure can tell
    np.save(tmp_path / "det.npy", kp)
    assert load_keypoints_file(tmp_path / "det.npy", image_size=(W, H))[
        "source_joint_set"] == order


@pytest.mark.slow
def test_structure_gap_over_motions_and_views():
    """Whole clips: the right order is cheaper by more than the margin in every case.

    15 motions x 8 views x 4 orders, 1% noise, face at confidence 0. Prints the smallest gap
    per order (the numbers quoted beside `STRUCTURE_MARGIN`).
    """
    rng = np.random.default_rng(0)
    for order, other in OTHER.items():
        gaps = []
        for motion in list_motions():
            for az in range(0, 360, 45):
                kp = _noisy(people_2d(order, motion, float(az), face_conf=0.0), rng)
                costs, used = kl.structure_costs(list(kp), (order, other), 0.05)
                assert used >= kl.STRUCTURE_MIN_FRAMES
                gaps.append(costs[other] - costs[order])
        print(f"{order}: smallest gap {min(gaps):.3f}, median {np.median(gaps):.3f} over "
              f"{len(gaps)} clips")
        assert min(gaps) > kl.STRUCTURE_MARGIN, order


@pytest.mark.slow
def test_structure_never_picks_the_wrong_order_in_short_windows():
    """Windows of `STRUCTURE_MIN_FRAMES` frames: a wrong order never wins by the margin."""
    rng = np.random.default_rng(0)
    win = kl.STRUCTURE_MIN_FRAMES
    for order, other in OTHER.items():
        gaps = []
        for motion in list_motions():
            for az in range(0, 360, 45):
                kp = people_2d(order, motion, float(az), face_conf=0.0)
                for s in range(0, len(kp) - win, 5):
                    costs, _ = kl.structure_costs(list(_noisy(kp[s : s + win], rng)),
                                                  (order, other), 0.05)
                    gaps.append(costs[other] - costs[order])
        gaps = np.array(gaps)
        print(f"{order}: {len(gaps)} windows, smallest gap {gaps.min():.3f}, undecided "
              f"{(np.abs(gaps) < kl.STRUCTURE_MARGIN).sum()}")
        assert gaps.min() > -kl.STRUCTURE_MARGIN, order


def test_undecidable_data_ask_for_the_joint_set(tmp_path):
    # too few frames and no face: neither cue decides
    kp = people_2d("body25b", "walk", 180.0, frames=kl.STRUCTURE_MIN_FRAMES - 1, face_conf=0.0)
    folder = tmp_path / "short"
    _openpose_folder(folder, kp)
    with pytest.raises(ValueError, match=r"short: cannot tell the joint order of 25 keypoints.*"
                       r"no detection with a confident face.*--joint-set.*body25, body25b"):
        load_keypoints_file(folder, image_size=(W, H))
    assert load_keypoints_file(folder, image_size=(W, H), joint_set="body25b")[
        "source_joint_set"] == "body25b"
    # the two cues disagree: a BODY_25B body whose points 0-4 were moved to span a limb
    odd = people_2d("body25b", "walk", 0.0)
    odd[:, FACE["body25b"], :2] = odd[:, [5, 7, 9, 11, 13], :2]
    ev = kl.layout_evidence(list(odd), 25, 0.05)
    assert ev.face == "body25" and ev.structure == "body25b" and ev.decided is None
    with pytest.raises(ValueError, match="the face says body25, the body structure body25b"):
        kl.infer_layout(list(odd), 25, "odd", 0.05)
