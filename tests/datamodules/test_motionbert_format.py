import pickle

import numpy as np
import pytest

from liftbench.datamodules.clips import build_clips
from liftbench.datamodules.motionbert_format import MEAN_BONE_SUM_MM, virtual_intrinsics
from liftbench.datamodules.registry import create_datamodule
from liftbench.geometry.skeletons import bone_lengths
from tests.datamodules.real_helpers import motion_m, ring


def _video(clip, K, frames=20, lam_scale=1.003):
    world = motion_m(clip, frames)
    R, t = ring(1)[0]
    Xc = (world @ R.T + t) * 1000
    uv = np.stack([K[0, 0] * Xc[..., 0] / Xc[..., 2] + K[0, 2],
                   K[1, 1] * Xc[..., 1] / Xc[..., 2] + K[1, 2]], -1)
    lam = Xc[:, 0, 2] / K[0, 0] * lam_scale
    img = np.concatenate([uv, ((Xc[..., 2] - Xc[:, :1, 2]) / lam[:, None])[..., None]], -1)
    return uv, img, lam


def _split(videos, with_factor):
    out = {k: [] for k in ("joint_2d", "confidence", "joint3d_image", "source", "camera_name",
                           "action", "2.5d_factor")}
    for source, env, action, (uv, img, lam) in videos:
        n = len(uv)
        out["joint_2d"].append(uv + 1.0)
        out["confidence"].append(np.full((n, 17), 0.9))
        out["joint3d_image"].append(img)
        out["source"] += [source] * n
        out["camera_name"] += [env] * n
        out["action"] += [action] * n
        out["2.5d_factor"].append(lam)
    d = {k: (np.concatenate(v) if isinstance(v[0], np.ndarray) else np.array(v))
         for k, v in out.items()}
    if not with_factor:
        del d["2.5d_factor"], d["action"]
    return d


def test_sportspose_kas_pkl(tmp_path):
    w, h = 1216, 1936
    K = virtual_intrinsics(w, h)
    train = [("S01_jump_0001_cam", "indoors", "jump", _video("jump", K))]
    test_v = _video("kick", K)
    test = [("S06_soccer_0002_cam", "indoors", "soccer", test_v)]
    path = tmp_path / "sp_hr_conf_cam_source_1camera.pkl"
    path.write_bytes(pickle.dumps({"train": _split(train, False), "test": _split(test, True)}))
    dm = create_datamodule("sportspose", root=path, frames=20, test_stride=20,
                           cache_dir=tmp_path / "cache")
    recs = dm.load_records()
    assert [r.labels["pkl_split"] for r in recs] == ["train", "test"]
    assert recs[1].action == "soccer" and recs[0].action == "all"
    # the test video: normalised label and mm factor exactly as MotionBERT's evaluation
    uv, img, lam = test_v
    arrays = build_clips([recs[1]], frames=20, stride=20)
    norm = img.copy()
    norm[..., :2] = norm[..., :2] / w * 2 - np.array([1, h / w])
    norm[..., 2] = norm[..., 2] / w * 2
    np.testing.assert_allclose(arrays["target"][0], norm - norm[:, :1], atol=1e-5)
    np.testing.assert_allclose(arrays["factor"][0], lam * w / 2, rtol=1e-5)
    # train frames without a factor: the person gets the mean H36M bone-length sum
    sums = bone_lengths(recs[0].pose3d_camera()[0] * 1000).sum(-1)
    assert abs(np.median(sums) - MEAN_BONE_SUM_MM) < 0.02 * MEAN_BONE_SUM_MM
    dm.setup()
    assert dm.takes == {"train": ["S01_jump_0001_cam"], "test": ["S06_soccer_0002_cam"],
                        "adapt": ["S01_jump_0001_cam"], "val": []}
    det = create_datamodule("sportspose", root=path, source_2d="dataset",
                            cache_dir=tmp_path / "cache").load_records()
    np.testing.assert_allclose(det[1].pose2d[0, ..., :2], uv + 1.0, atol=1e-6)
    np.testing.assert_allclose(det[1].pose2d[0, ..., 2], 0.9)


def test_worldpose_kas_pkl(tmp_path):
    K = virtual_intrinsics(1920, 1080)
    vids = [("ARG_CRO_221657+player3+start_frame0", None, "ARG_CRO_221657", _video("run", K)),
            ("ARG_CRO_221657+player5+start_frame40", None, "ARG_CRO_221657", _video("walk", K))]
    d = _split(vids, True)
    del d["camera_name"]
    path = tmp_path / "wp_no_conf_cam_source_final.pkl"
    path.write_bytes(pickle.dumps({"train": d, "test": d}))
    recs = create_datamodule("worldpose", root=path, cache_dir=tmp_path / "c").load_records()
    assert [(r.subject, r.take) for r in recs[:2]] == [
        ("ARG_CRO_221657", "ARG_CRO_221657+player3+start_frame0"),
        ("ARG_CRO_221657", "ARG_CRO_221657+player5+start_frame40")]
    assert len(recs) == 4 and tuple(recs[0].image_size[0]) == (1920, 1080)


def test_bad_pkl(tmp_path):
    path = tmp_path / "bad.pkl"
    path.write_bytes(pickle.dumps({"train": {"joint_2d": np.zeros((3, 17, 2)),
                                             "joint3d_image": np.zeros((3, 16, 3)),
                                             "source": np.array(["a"] * 3)}}))
    with pytest.raises(ValueError, match=r"bad\.pkl: train joint3d_image must be \(N, 17, 3\)"):
        create_datamodule("sportspose", root=path, cache_dir=tmp_path / "c").load_records()
    path.write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(ValueError, match=r"bad\.pkl: expected a dict"):
        create_datamodule("worldpose", root=path, cache_dir=tmp_path / "c2").load_records()
