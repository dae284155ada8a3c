import json

import numpy as np
import pytest

from liftbench.datamodules.keypoints import load_keypoints_file
from liftbench.datamodules.main_person import pick_main_person
from liftbench.datamodules.synthetic import load_motion
from liftbench.geometry.skeletons import convert, get_joint_set

W, H = 1920, 1080
# H36M-17 joint feeding each COCO-17 joint (eyes/ears get offsets below).
_COCO_FROM_H36M = [9, 10, 10, 10, 10, 11, 14, 12, 15, 13, 16, 4, 1, 5, 2, 6, 3]


def _person_px(frames=12, scale=1.0, shift=(0.0, 0.0)):
    """Projected walk motion (T, 17, 2) px, H36M-17."""
    j = load_motion("walk").joints[:frames]
    cam = np.stack([j[..., 1], -j[..., 2] + 1.0, 4.0 - j[..., 0]], -1)  # look along world -x
    uv = 1000 * cam[..., :2] / cam[..., 2:] * scale + np.array([W / 2, H / 2]) + shift
    return uv


def _coco(frames=12, **kw):
    h = _person_px(frames, **kw)
    c = h[:, _COCO_FROM_H36M].copy()
    c[:, 1:5, 0] += np.array([-4, 4, -9, 9])  # eyes, ears left/right of the head
    conf = np.linspace(0.5, 1.0, 17)[None].repeat(len(c), 0)
    return np.concatenate([c, conf[..., None]], -1)


def _check_coco_result(out, coco):
    ref = convert(coco, "coco17", "h36m17", has_confidence=True)
    np.testing.assert_allclose(out["keypoints"][0], ref, atol=1e-3)
    # left/right trap: H36M right wrist (16) is COCO right wrist (10)
    np.testing.assert_allclose(out["keypoints"][0, :, 16], coco[:, 10], atol=1e-3)
    np.testing.assert_allclose(out["keypoints"][0, :, 1, :2], coco[:, 12, :2], atol=1e-3)
    assert out["joint_set"] == "h36m17" and out["keypoints"].shape == (1, len(coco), 17, 3)


def _body25(coco):
    """BODY_25 from a COCO-17 person (official BODY_25 order)."""
    js = get_joint_set("body25")
    cj = get_joint_set("coco17")
    out = np.zeros((len(coco), 25, 3))
    for i, name in enumerate(js.joints):
        if name in cj.joints:
            out[:, i] = coco[:, cj.index(name)]
    out[:, js.index("neck")] = (coco[:, 5] + coco[:, 6]) / 2
    out[:, js.index("mid_hip")] = (coco[:, 11] + coco[:, 12]) / 2
    for name in ("left_big_toe", "left_small_toe", "left_heel"):
        out[:, js.index(name)] = coco[:, 15] + [0, 10, 0]
    for name in ("right_big_toe", "right_small_toe", "right_heel"):
        out[:, js.index(name)] = coco[:, 16] + [0, 10, 0]
    return out


def test_openpose_folder_main_person_and_gaps(tmp_path):
    main = _body25(_coco(10))
    small = _body25(_coco(10, scale=0.3, shift=(700.0, -300.0)))
    for t in range(10):
        people = [] if t == 4 else [main[t], small[t]][:: (-1) ** t]  # order changes per frame
        doc = {"version": 1.3, "people": [
            {"person_id": [-1], "pose_keypoints_2d": p.reshape(-1).tolist(),
             "face_keypoints_2d": []} for p in people]}
        (tmp_path / f"clip_{t:012d}_keypoints.json").write_text(json.dumps(doc))
    out = load_keypoints_file(tmp_path, image_size=(W, H))
    ref = convert(main, "body25", "h36m17", has_confidence=True)
    keep = [t for t in range(10) if t != 4]
    np.testing.assert_allclose(out["keypoints"][0, keep], ref[keep], atol=1e-3)
    assert (out["keypoints"][0, 4, :, 2] == 0).all()  # no detection: confidence 0
    np.testing.assert_allclose(out["keypoints"][0, 4, :, :2], ref[3, :, :2], atol=1e-3)
    np.testing.assert_array_equal(out["image_size"], [[W, H]])
    # the right wrist stays right
    np.testing.assert_allclose(out["keypoints"][0, 0, 16, :2], main[0, 4, :2], atol=1e-3)


def test_openpose_body25b_needs_joint_set(tmp_path):
    coco = _coco(3)
    b = np.concatenate([coco, coco[:, :8]], 1)  # 25 points in BODY_25B order
    b[:, 18] = coco[:, 0] + [0, -40, 0]  # head top
    f = tmp_path / "one_keypoints.json"
    f.write_text(json.dumps({"people": [{"pose_keypoints_2d": b[0].reshape(-1).tolist()}]}))
    out = load_keypoints_file(f, joint_set="body25b", image_size=(W, H))
    np.testing.assert_allclose(out["keypoints"][0, 0, 10, :2], b[0, 18, :2], atol=1e-3)
    with pytest.raises(ValueError, match="one_keypoints.json.*17 joints"):
        load_keypoints_file(f, joint_set="coco17", image_size=(W, H))


def test_coco_ground_truth_json(tmp_path):
    coco = _coco(6)
    doc = {"images": [{"id": 100 + t, "file_name": f"{t:06d}.jpg", "width": W, "height": H}
                      for t in range(6)],
           "annotations": [{"id": t, "image_id": 100 + t, "category_id": 1,
                            "keypoints": coco[t].reshape(-1).tolist()} for t in range(6)][::-1],
           "categories": [{"id": 1, "name": "person"}]}
    f = tmp_path / "person_keypoints.json"
    f.write_text(json.dumps(doc))
    out = load_keypoints_file(f)
    _check_coco_result(out, coco)
    np.testing.assert_array_equal(out["image_size"], [[W, H]])


def test_alphapose_halpe26_tracks(tmp_path):
    coco = _coco(5)
    halpe = np.concatenate([coco, np.zeros((5, 9, 3))], 1)
    halpe[:, 17] = coco[:, 0] + [0, -50, 0]  # head
    halpe[:, 18] = (coco[:, 5] + coco[:, 6]) / 2  # neck
    halpe[:, 19] = (coco[:, 11] + coco[:, 12]) / 2  # hip
    halpe[:, 20:, :2] = 1.0
    other = halpe.copy()
    other[..., :2] = other[..., :2] * 0.2 + 30  # a small second track
    items = []
    for t in range(5):
        for idx, p in ((1, other), (2, halpe)):
            items.append({"image_id": f"{t}.jpg", "category_id": 1, "idx": idx, "score": 2.0,
                          "keypoints": p[t].reshape(-1).tolist(), "box": [0, 0, 10, 10]})
    f = tmp_path / "alphapose-results.json"
    f.write_text(json.dumps(items))
    out = load_keypoints_file(f, image_size=(W, H))
    ref = convert(halpe, "halpe26", "h36m17", has_confidence=True)
    np.testing.assert_allclose(out["keypoints"][0], ref, atol=1e-3)
    assert out["source_joint_set"] == "halpe26"


def test_alphapose_coco_and_mixed_sets_refused(tmp_path):
    coco = _coco(4)
    items = [{"image_id": f"{t}.jpg", "category_id": 1, "keypoints": coco[t].ravel().tolist()}
             for t in range(4)]
    f = tmp_path / "res.json"
    f.write_text(json.dumps(items))
    _check_coco_result(load_keypoints_file(f, image_size=(W, H)), coco)
    items[2]["keypoints"] = np.zeros(26 * 3).tolist()
    f.write_text(json.dumps(items))
    with pytest.raises(ValueError, match=r"res\.json: mixed joint sets"):
        load_keypoints_file(f, image_size=(W, H))


def test_whole_body_sets_use_their_body_points(tmp_path):
    coco = _coco(3)
    wb = np.concatenate([coco, np.full((3, 116, 3), 5.0)], 1)  # COCO-WholeBody: 133 points
    info = [{"frame_id": t, "instances": [{"keypoints": wb[t, :, :2].tolist(),
                                           "keypoint_scores": wb[t, :, 2].tolist()}]}
            for t in range(3)]
    f = tmp_path / "wholebody.json"
    f.write_text(json.dumps({"instance_info": info}))
    out = load_keypoints_file(f, image_size=(W, H))
    _check_coco_result(out, coco)
    assert out["source_joint_set"] == "coco17"


def test_mmpose_instance_info(tmp_path):
    coco = _coco(4)
    info = [{"frame_id": t, "instances": [{
        "keypoints": coco[t, :, :2].tolist(), "keypoint_scores": coco[t, :, 2].tolist(),
        "bbox": [[0, 0, 1, 1]], "bbox_score": 0.9}]} for t in range(4)]
    f = tmp_path / "results_video.json"
    f.write_text(json.dumps({"meta_info": {"dataset_name": "coco"}, "instance_info": info}))
    _check_coco_result(load_keypoints_file(f, image_size=(W, H)), coco)
    g = tmp_path / "frames.json"
    g.write_text(json.dumps(info))
    _check_coco_result(load_keypoints_file(g, image_size=(W, H)), coco)


def test_numpy_arrays(tmp_path):
    coco = _coco(5)
    persons = np.full((5, 2, 17, 3), np.nan)
    persons[:, 0] = coco
    persons[::2, 1] = _coco(5, scale=0.2)[::2]
    f = tmp_path / "rtmlib.npz"
    np.savez(f, keypoints=persons[..., :2], scores=persons[..., 2], image_size=[W, H],
             joint_set="coco17")
    _check_coco_result(load_keypoints_file(f), coco)
    h36m = convert(coco, "coco17", "h36m17", has_confidence=True)
    g = tmp_path / "h36m.npy"
    np.save(g, h36m)
    out = load_keypoints_file(g, image_size=(W, H))
    np.testing.assert_allclose(out["keypoints"][0], h36m, atol=1e-4)


def test_bad_inputs(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.json"):
        load_keypoints_file(tmp_path / "nothere.json")
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((4, 17)))
    with pytest.raises(ValueError, match=r"bad\.npy.*\(T, J, 2\|3\)"):
        load_keypoints_file(bad, image_size=(W, H))
    f = tmp_path / "noimg.npy"
    np.save(f, np.zeros((4, 17, 3)))
    with pytest.raises(ValueError, match="noimg.npy.*image_size"):
        load_keypoints_file(f)
    odd = tmp_path / "odd.json"
    odd.write_text(json.dumps({"hello": 1}))
    with pytest.raises(ValueError, match="odd.json: unrecognised"):
        load_keypoints_file(odd, image_size=(W, H))


def test_pick_main_person_ignores_brief_larger_passerby():
    main = _coco(8)
    big = _coco(8, scale=1.4, shift=(600.0, 0.0))
    frames = [[main[t]] + ([big[t]] if t in (5,) else []) for t in range(8)]
    out = pick_main_person(frames)
    np.testing.assert_allclose(out, main)
