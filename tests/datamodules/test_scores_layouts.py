"""Detector score scales, joint orders told apart from the data, VideoPose3D 2D archives."""

import json

import numpy as np
import pytest

from liftbench.bench.cli import main
from liftbench.datamodules.keypoints import load_keypoints_file
from liftbench.datamodules.scores import normalise_scores
from liftbench.geometry.skeletons import convert
from tests.datamodules.test_keypoints import H, W, _body25, _coco


def test_score_scales():
    p = np.array([0.2, 0.9, 0.0, np.nan])
    assert np.allclose(normalise_scores(p, "f")[0], p, equal_nan=True)
    out, how = normalise_scores(p * 100, "f")
    assert "percent" in how and np.allclose(out, p, equal_nan=True)
    logits = np.log(np.array([0.2, 0.9, 0.5]) / (1 - np.array([0.2, 0.9, 0.5])))
    out, how = normalise_scores(logits, "f")
    assert "logits" in how and np.allclose(out, [0.2, 0.9, 0.5])
    out, how = normalise_scores(np.array([0, 1, 2, 2]), "f")
    assert "visibility" in how and out.tolist() == [0, 1, 1, 1]
    out, how = normalise_scores(np.array([-1, 0.5, 0.8]), "f")
    assert out.tolist() == [0, 0.5, 0.8] and "missing" in how
    out, how = normalise_scores(np.array([0.01, 0.02, 0.04, 0.0]), "f")
    assert "uncalibrated" in how and out.max() == 1.0 and out[0] == pytest.approx(0.25, rel=0.02)
    with pytest.raises(ValueError, match="f: keypoint scores reach 500"):
        normalise_scores(np.array([0.5, 500.0]), "f")


def test_tiny_scores_lift_to_the_same_moving_pose(tmp_path, capsys):
    """A clip whose scores are all below the detection threshold still lifts (as rescaled)."""
    from tests.bench.test_predict import _checkpoint

    _checkpoint(tmp_path / "m.ckpt")
    coco = _coco(30)
    np.save(tmp_path / "ok.npy", coco)
    tiny = coco.copy()
    tiny[..., 2] *= 0.03  # all scores below 0.05
    np.save(tmp_path / "tiny.npy", tiny)
    for name in ("ok", "tiny"):
        assert main(["predict", str(tmp_path / "m.ckpt"), str(tmp_path / f"{name}.npy"),
                     "--image-size", str(W), str(H), "--out", str(tmp_path / name)]) == 0
    out = capsys.readouterr().out
    assert "uncalibrated" in out
    res = {n: json.loads((tmp_path / f"{n}.json").read_text()) for n in ("ok", "tiny")}
    with np.load(tmp_path / "tiny.npz") as f:
        pose2d = f["pose2d"][0]
    assert np.ptp(pose2d[..., :2], axis=0).max() > 20  # the 2D input moves: not one pose
    assert (pose2d[..., 2] > 0.05).all()
    np.testing.assert_allclose(res["tiny"]["pose3d"], res["ok"]["pose3d"], atol=5e-3)
    conf = res["tiny"]["confidence"]
    assert conf["below_threshold"] == 0 and conf["joints"] == 30 * 17
    assert "uncalibrated" in conf["scale"] and len(conf["below_threshold_per_joint"]) == 17
    zero = coco.copy()
    zero[:, :, 2] = 0.0
    zero[:, 9, 2] = 0.5  # one joint seen: a person needs two
    np.save(tmp_path / "zero.npy", zero)
    with pytest.raises(ValueError, match="zero.npy: no person with two or more keypoints"):
        load_keypoints_file(tmp_path / "zero.npy", image_size=(W, H))


def test_17_and_25_point_orders_from_the_data(tmp_path):
    coco = _coco(12)
    h36m = convert(coco, "coco17", "h36m17", has_confidence=True)
    np.save(tmp_path / "coco.npy", coco)
    np.save(tmp_path / "h36m.npy", h36m)
    assert load_keypoints_file(tmp_path / "coco.npy", image_size=(W, H))[
        "source_joint_set"] == "coco17"
    assert load_keypoints_file(tmp_path / "h36m.npy", image_size=(W, H))[
        "source_joint_set"] == "h36m17"
    b25 = _body25(coco)
    b25b = np.concatenate([coco, coco[:, :8]], 1)
    for name, arr, want in (("b25", b25, "body25"), ("b25b", b25b, "body25b")):
        folder = tmp_path / name
        folder.mkdir()
        for t, person in enumerate(arr):
            (folder / f"f{t:03d}_keypoints.json").write_text(
                json.dumps({"people": [{"pose_keypoints_2d": person.reshape(-1).tolist()}]}))
        assert load_keypoints_file(folder, image_size=(W, H))["source_joint_set"] == want
    one = np.repeat(coco[:1], 2, 0)  # too few detections to tell: ask, listing the choices
    np.save(tmp_path / "short.npy", one)
    with pytest.raises(ValueError, match="short.npy: cannot tell.*--joint-set.*coco17, h36m17"):
        load_keypoints_file(tmp_path / "short.npy", image_size=(W, H))
    assert load_keypoints_file(tmp_path / "short.npy", joint_set="coco17",
                               image_size=(W, H))["source_joint_set"] == "coco17"


def test_videopose3d_custom_archive(tmp_path):
    coco = _coco(10)
    meta = {"layout_name": "coco", "num_joints": 17,
            "keypoints_symmetry": [[1, 3, 5, 7, 9, 11, 13, 15], [2, 4, 6, 8, 10, 12, 14, 16]],
            "video_metadata": {"clip": {"w": W, "h": H}}}
    f = tmp_path / "data_2d_custom_det.npz"
    np.savez_compressed(f, positions_2d={"clip": {"custom": [coco[..., :2].astype("float32")]}},
                        metadata=meta)
    out = load_keypoints_file(f)
    ones = coco.copy()
    ones[..., 2] = 1.0
    np.testing.assert_allclose(out["keypoints"][0],
                               convert(ones, "coco17", "h36m17", has_confidence=True), atol=1e-3)
    assert out["image_size"].tolist() == [[W, H]] and out["source_joint_set"] == "coco17"
    two = tmp_path / "two.npz"
    np.savez_compressed(two, positions_2d={"a": {"custom": [coco[..., :2]]},
                                           "b": {"custom": [coco[::-1, :, :2]]}}, metadata=meta)
    with pytest.raises(ValueError, match="holds 2 clips \\(a#0, b#0\\).*--video"):
        load_keypoints_file(two, image_size=(W, H))
    b = load_keypoints_file(two, image_size=(W, H), video="b")
    np.testing.assert_allclose(b["keypoints"][0, 0, :, :2], out["keypoints"][0, -1, :, :2])
