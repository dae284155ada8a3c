import json
import pickle

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from liftbench.datamodules.aist.reader import read_aist
from liftbench.datamodules.clips import EVAL_BATCH_FACTOR
from liftbench.datamodules.registry import create_datamodule
from liftbench.geometry.skeletons import convert
from tests.datamodules.real_helpers import intrinsics, motion_m, project_cv, ring

_COCO_FROM_H36M = [9, 10, 10, 10, 10, 11, 14, 12, 15, 13, 16, 4, 1, 5, 2, 6, 3]
SEQS = {"gBR_sBM_cAll_d04_mBR0_ch01": ("walk", "train"),
        "gHO_sBM_cAll_d20_mHO1_ch02": ("dance_a", "val"),
        "gJB_sFM_cAll_d07_mJB3_ch05": ("jump", "test"),
        "gLO_sBM_cAll_d13_mLO2_ch03": ("run", "ignored")}


def _coco_cm(clip, n):
    c = motion_m(clip, n, up="y")[:, _COCO_FROM_H36M] * 100
    c[:, 1:5, 0] += np.array([-3.0, 3.0, -7.0, 7.0])
    return c


def _write(root, unit=100.0):
    for d in ("keypoints3d", "keypoints2d", "cameras", "splits", "motions"):
        (root / d).mkdir(parents=True, exist_ok=True)
    cams = []
    for i, (R, t) in enumerate(ring(9, 4.5, 1.6, (0, 0.9, 0), up="y")):
        cams.append({"name": f"c{i + 1:02d}", "size": [1920, 1080],
                     "matrix": intrinsics(1600, 1920, 1080).tolist(),
                     "distortions": [0.01 * (i % 3), -0.002, 0.0, 0.0001, 0.0],
                     "rotation": Rotation.from_matrix(R).as_rotvec().tolist(),
                     "translation": (t * 100).tolist()})
    (root / "cameras/setting1.json").write_text(json.dumps(cams))
    truth = {}
    for seq, (clip, split) in SEQS.items():
        kp = _coco_cm(clip, 30) * unit / 100
        n = len(kp)
        if split == "train":
            kp[12:14] = np.nan  # triangulation gaps
        (root / "keypoints3d" / f"{seq}.pkl").write_bytes(pickle.dumps(
            {"keypoints3d": kp + 0.5, "keypoints3d_optim": kp}))
        det = np.stack([np.concatenate([project_cv(
            kp / 100, Rotation.from_rotvec(c["rotation"]).as_matrix(),
            np.array(c["translation"]) / 100, np.array(c["matrix"]), c["distortions"]),
            np.full((n, 17, 1), 0.8)], -1) for c in cams])
        det[2, 5, 13] = np.nan
        (root / "keypoints2d" / f"{seq}.pkl").write_bytes(pickle.dumps(
            {"keypoints2d": det, "det_scores": np.ones((9, n)),
             "timestamps": np.arange(n) * 16667}))
        truth[seq] = kp
    (root / "cameras/mapping.txt").write_text("".join(f"{s} setting1\n" for s in SEQS))
    for name in ("train", "val", "test"):
        (root / "splits" / f"pose_{name}.txt").write_text(
            "".join(f"{s}\n" for s, (_, sp) in SEQS.items() if sp == name))
    (root / "ignore_list.txt").write_text("gLO_sBM_cAll_d13_mLO2_ch03\n")
    return cams, truth


def test_reader_recovers_ground_truth(tmp_path):
    cams, truth = _write(tmp_path)
    recs = list(read_aist(tmp_path))
    assert [r.take for r in recs] == ["gBR_sBM_cAll_d04_mBR0_ch01#0",
                                      "gBR_sBM_cAll_d04_mBR0_ch01#14",
                                      "gHO_sBM_cAll_d20_mHO1_ch02", "gJB_sFM_cAll_d07_mJB3_ch05"]
    rec = recs[2]
    assert (rec.subject, rec.action, rec.fps, rec.num_views) == ("d20", "gHO", 60, 9)
    ref = convert(truth[rec.take] / 100, "coco17", "h36m17")
    np.testing.assert_allclose(rec.pose3d_world, ref, atol=1e-12)
    for v, c in enumerate(cams):
        R = Rotation.from_rotvec(c["rotation"]).as_matrix()
        np.testing.assert_allclose(rec.R[v, 0], R, atol=1e-12)
        np.testing.assert_allclose(rec.t[v, 0], np.array(c["translation"]) / 100, atol=1e-12)
        np.testing.assert_allclose(rec.K[v], c["matrix"])
        np.testing.assert_allclose(rec.dist[v], c["distortions"])
        uv = project_cv(ref, R, np.array(c["translation"]) / 100, np.array(c["matrix"]),
                        c["distortions"])
        np.testing.assert_allclose(rec.pose2d[v, ..., :2], uv, atol=1e-6)
    np.testing.assert_allclose(recs[1].pose3d_world,
                               convert(truth[recs[0].take.split("#")[0]][14:] / 100,
                                       "coco17", "h36m17"), atol=1e-12)
    det = list(read_aist(tmp_path, source_2d="dataset"))[2]
    raw = pickle.loads((tmp_path / "keypoints2d" / f"{rec.take}.pkl").read_bytes())
    ref2d = convert(raw["keypoints2d"], "coco17", "h36m17", has_confidence=True)
    ref2d = np.where(np.isfinite(ref2d).all(-1, keepdims=True), ref2d, 0.0)
    np.testing.assert_allclose(det.pose2d, ref2d, atol=1e-4)
    np.testing.assert_allclose(det.pose2d[:, :, 16, :2], raw["keypoints2d"][:, :, 10, :2],
                               atol=1e-4)  # right wrist stays right
    assert np.allclose(det.pose2d[..., 2][det.valid], 0.8)
    jb = list(read_aist(tmp_path, source_2d="dataset"))[3]
    # a NaN COCO joint (left knee, 13) invalidates exactly the H36M joints built from it
    assert not jb.valid[2, 5, 5] and jb.pose2d[2, 5, 5, 2] == 0 and jb.valid[2, 5, 2]


def test_datamodule_official_split(tmp_path):
    _write(tmp_path)
    dm = create_datamodule("aist", root=tmp_path, frames=9, batch_size=4, views=3,
                           cache_dir=tmp_path / "cache")
    dm.setup()
    assert dm.takes["train"] == ["gBR_sBM_cAll_d04_mBR0_ch01#0", "gBR_sBM_cAll_d04_mBR0_ch01#14"]
    assert dm.takes["val"] == ["gHO_sBM_cAll_d20_mHO1_ch02"]
    assert dm.takes["test"] == ["gJB_sFM_cAll_d07_mJB3_ch05"]
    n = min(4 * EVAL_BATCH_FACTOR, len(dm.datasets["test"]))  # evaluation batches are larger
    assert next(iter(dm.test_dataloader()))["input"].shape == (n, 3, 9, 17, 3)


def test_bad_inputs(tmp_path):
    _write(tmp_path / "m", unit=1.0)  # metres where centimetres are expected
    with pytest.raises(ValueError, match=r"gBR_sBM_cAll_d04_mBR0_ch01\.pkl.*factor 0.01"):
        list(read_aist(tmp_path / "m"))
    _write(tmp_path / "s")
    (tmp_path / "s/keypoints3d/gBR_sBM_cAll_d04_mBR0_ch01.pkl").write_bytes(
        pickle.dumps({"keypoints3d_optim": np.zeros((5, 25, 3))}))
    with pytest.raises(ValueError, match=r"ch01\.pkl.*\(N, 17, 3\)"):
        list(read_aist(tmp_path / "s"))
    with pytest.raises(FileNotFoundError, match="mapping.txt"):
        list(read_aist(tmp_path / "none"))


class _Evil:
    def __reduce__(self):
        import os
        return (os.system, ("echo pwned",))


def test_malicious_pickle_is_refused_naming_the_file(tmp_path):
    from liftbench.datamodules.safe_pickle import UnsafePickleError
    _write(tmp_path)
    path = tmp_path / "keypoints3d/gBR_sBM_cAll_d04_mBR0_ch01.pkl"
    path.write_bytes(pickle.dumps({"keypoints3d_optim": _Evil()}))
    with pytest.raises(UnsafePickleError, match=r"gBR_sBM_cAll_d04_mBR0_ch01\.pkl.*system"):
        list(read_aist(tmp_path))
