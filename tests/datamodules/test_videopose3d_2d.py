"""VideoPose3D 2D archives in every layout: H36M (subject/action/cameras), custom, stacked."""

from __future__ import annotations

import numpy as np
import pytest

from liftbench.datamodules.keypoints import load_keypoints_file
from liftbench.geometry.skeletons import convert
from tests.datamodules.layout_people import (
    COCO_METADATA,
    H36M_METADATA,
    H,
    W,
    long_clip,
    people_2d,
    write_h36m_archive,
)


def _as_read(kp: np.ndarray, order: str) -> np.ndarray:
    """What the loader should return for a 2-channel clip of `order`: H36M-17, confidence 1."""
    ones = kp.copy()
    ones[..., 2] = 1.0
    return convert(ones, order, "h36m17", has_confidence=True)


@pytest.fixture
def coco_h36m_archive(tmp_path):
    """COCO-ordered detections labelled `h36m` (the Detectron trap): 2 subjects, 2 actions,
    cameras with different lengths and missing cameras."""
    clips = {("S1", "Directions", 0): people_2d("coco17", "walk", 0.0),
             ("S1", "Directions", 2): people_2d("coco17", "walk", 90.0)[:30],
             ("S1", "Walking 1", 1): people_2d("coco17", "dance_a", 45.0),
             ("S5", "Directions", 3): people_2d("coco17", "jump", 180.0, face_conf=0.0)}
    path = tmp_path / "data_2d_h36m_detectron_ft_h36m.npz"
    write_h36m_archive(path, {k: v[..., :2] for k, v in clips.items()}, H36M_METADATA)
    return path, clips


def test_h36m_layout_clips_are_listed_and_selected(coco_h36m_archive):
    path, clips = coco_h36m_archive
    with pytest.raises(ValueError, match=r"holds 4 clips \(S1/Directions#0, S1/Directions#2, "
                       r"S1/Walking 1#1, S5/Directions#3\).*--video"):
        load_keypoints_file(path, image_size=(W, H))
    with pytest.raises(ValueError, match=r"'S1/Directions' has 2 cameras.*S1/Directions#0, "
                       r"S1/Directions#2"):
        load_keypoints_file(path, image_size=(W, H), video="S1/Directions")
    with pytest.raises(ValueError, match=r"no clip 'S1/Directions#1'.*S1/Directions#0"):
        load_keypoints_file(path, image_size=(W, H), video="S1/Directions#1")
    for (subject, action, cam), kp in clips.items():
        out = load_keypoints_file(path, image_size=(W, H), video=f"{subject}/{action}#{cam}")
        assert out["keypoints"].shape == (1, len(kp), 17, 3)  # every frame, one view
        np.testing.assert_allclose(out["keypoints"][0], _as_read(kp, "coco17"), atol=1e-3)
    # a video name with a single camera needs no #k
    one = load_keypoints_file(path, image_size=(W, H), video="S5/Directions")
    assert one["keypoints"].shape[1] == len(clips[("S5", "Directions", 3)])


def test_metadata_label_contradicted_by_the_data_is_reported(coco_h36m_archive):
    path, _ = coco_h36m_archive
    out = load_keypoints_file(path, image_size=(W, H), video="S1/Directions#0")
    assert out["source_joint_set"] == "coco17"
    (note,) = out["notes"]
    assert "metadata says h36m17 but the data are coco17" in note and path.name in note
    # without a face (camera behind the person) the body structure alone overrules the label
    back = load_keypoints_file(path, image_size=(W, H), video="S5/Directions#3")
    assert back["source_joint_set"] == "coco17" and "body structure fits coco17" in \
        back["notes"][0]
    # an explicit --joint-set is obeyed, with no note
    told = load_keypoints_file(path, image_size=(W, H), video="S1/Directions#0",
                               joint_set="coco17")
    assert told["notes"] == []


def test_h36m_data_with_h36m_label_and_gt_style_metadata(tmp_path):
    h36m = people_2d("h36m17", "walk", 30.0)
    for meta in (H36M_METADATA, {k: v for k, v in H36M_METADATA.items() if k != "layout_name"}):
        path = tmp_path / "data_2d_h36m_gt.npz"
        write_h36m_archive(path, {("S9", "Walking", 1): h36m[..., :2]}, meta)
        out = load_keypoints_file(path, image_size=(1000, 1000))
        assert out["source_joint_set"] == "h36m17" and out["notes"] == []
        np.testing.assert_allclose(out["keypoints"][0], _as_read(h36m, "h36m17"), atol=1e-3)
    # 2 frames cannot tell the order: the label (here only the symmetry lists) settles it
    write_h36m_archive(path, {("S9", "Walking", 1): h36m[:2, :, :2]},
                       {"num_joints": 17, "keypoints_symmetry": COCO_METADATA[
                           "keypoints_symmetry"]})
    assert load_keypoints_file(path, image_size=(1000, 1000))["source_joint_set"] == "coco17"


def test_one_clip_archives_in_every_container(tmp_path):
    """591 frames, one subject, one action, one camera: every frame comes back.

    Stacked `(C, T, J, 2)` arrays used to be read as one frame of T people.
    """
    kp = long_clip("coco17", 591, azimuth=20.0)
    xy = kp[..., :2].astype("float32")
    containers = {
        "list_cam0": [xy, None, None, None], "list_cam2": [None, None, xy, None],
        "bare": xy, "stacked": xy[None], "tuple": (xy,),
        "object_array": np.array([xy, None], dtype=object),
    }
    for name, value in containers.items():
        path = tmp_path / f"{name}.npz"
        np.savez_compressed(path, positions_2d={"S1": {"Directions": value}},
                            metadata=H36M_METADATA)
        out = load_keypoints_file(path, image_size=(W, H))
        assert out["keypoints"].shape == (1, 591, 17, 3), name
        np.testing.assert_allclose(out["keypoints"][0], _as_read(kp, "coco17"), atol=1e-3)
    bad = tmp_path / "bad.npz"
    np.savez_compressed(bad, positions_2d={"S1": {"Directions": [xy[..., 0]]}},
                        metadata=H36M_METADATA)
    with pytest.raises(ValueError, match=r"bad.npz: clip 'S1/Directions#0' must have shape "
                       r"\(T, J, 2\|3\)"):
        load_keypoints_file(bad, image_size=(W, H))
    empty = tmp_path / "empty.npz"
    np.savez_compressed(empty, positions_2d={"S1": {"Directions": [None] * 4}},
                        metadata=H36M_METADATA)
    with pytest.raises(ValueError, match="empty.npz: 'positions_2d' holds no keypoints"):
        load_keypoints_file(empty, image_size=(W, H))


def test_custom_layout_several_videos(tmp_path):
    a, b = people_2d("coco17", "walk", 0.0), people_2d("coco17", "kick", 270.0)
    meta = dict(COCO_METADATA, video_metadata={"a.mp4": {"w": W, "h": H},
                                               "b.mp4": {"w": 1280, "h": 720}})
    path = tmp_path / "data_2d_custom_myvideos.npz"
    np.savez_compressed(path, positions_2d={"a.mp4": {"custom": [a[..., :2]]},
                                            "b.mp4": {"custom": [b[..., :2]]}}, metadata=meta)
    with pytest.raises(ValueError, match=r"holds 2 clips \(a.mp4#0, b.mp4#0\)"):
        load_keypoints_file(path)
    for video, kp, size in (("a.mp4", a, [W, H]), ("b.mp4#0", b, [1280, 720])):
        out = load_keypoints_file(path, video=video)
        assert out["image_size"].tolist() == [size] and out["notes"] == []
        np.testing.assert_allclose(out["keypoints"][0], _as_read(kp, "coco17"), atol=1e-3)
