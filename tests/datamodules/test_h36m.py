import pickle

import numpy as np
import pytest

from liftbench.datamodules.clips import EVAL_BATCH_FACTOR
from liftbench.datamodules.h36m.reader import (
    CAMERA_IDS,
    INTRINSICS,
    KEEP_32,
    load_cameras,
    read_mmpose_npz,
    read_motionbert_pkl,
    read_vp3d,
)
from liftbench.datamodules.registry import create_datamodule
from tests.datamodules.real_helpers import motion_m, ring

K_COEF = np.array([-0.2, 0.24, -0.003])
P_VP3D = np.array([-0.001, -0.0014])


def _h36m_project(X_world, R_c2w, centre, f, c):
    """H36M's own lens model, written out independently (VideoPose3D project_to_2d)."""
    Xc = (X_world - centre) @ R_c2w  # = R_c2w^T (X - C)
    xy = Xc[..., :2] / Xc[..., 2:]
    r2 = (xy ** 2).sum(-1, keepdims=True)
    radial = 1 + K_COEF[0] * r2 + K_COEF[1] * r2 ** 2 + K_COEF[2] * r2 ** 3
    tan = (P_VP3D * xy).sum(-1, keepdims=True)
    xy = xy * (radial + tan) + P_VP3D * r2
    return f * xy + c


def _write_h36m(root, subjects=("S1", "S9"), unit=1.0, joints=32):
    """data_3d_h36m.npz + cameras.pkl (mmpose layout) + data_2d_h36m_cpn.npz."""
    root.mkdir(parents=True, exist_ok=True)
    cams, truth, pos3d, pos2d = {}, {}, {}, {}
    rng = np.random.default_rng(0)
    for si, subj in enumerate(subjects):
        pos3d[subj], pos2d[subj] = {}, {}
        for ci, (R, t) in enumerate(ring(4, radius=4.5 + si * 0.2)):
            cid = CAMERA_IDS[ci]
            (w, h), (fx, fy, cx, cy) = INTRINSICS[cid]
            cams[(subj, cid)] = {
                "R": R.T, "T": (-R.T @ t).reshape(3, 1), "f": np.array([[fx], [fy]]),
                "c": np.array([[cx], [cy]]), "k": K_COEF.reshape(3, 1),
                "p": P_VP3D[::-1].reshape(2, 1), "w": w, "h": h, "name": f"camera{ci + 1}",
                "id": cid,
            }
        for key, clip in (("Walking", "walk"), ("Walking 1", "run")):
            world = motion_m(clip, 30 + si)
            full = rng.normal(size=(len(world), 32, 3)).astype(np.float32)
            full[:, KEEP_32] = world
            pos3d[subj][key] = (full if joints == 32 else full[:, :joints]) * unit
            truth[(subj, key)] = full[:, KEEP_32].astype(np.float64)
            pos2d[subj][key] = [
                np.concatenate([
                    _h36m_project(truth[(subj, key)], c["R"], c["T"].ravel(), c["f"].ravel(),
                                  c["c"].ravel()) + 1.5,
                    np.zeros((5, 17, 2))]).astype(np.float32)  # detections run longer
                for c in (cams[(subj, cid)] for cid in CAMERA_IDS)
            ]
    np.savez_compressed(root / "data_3d_h36m.npz", positions_3d=pos3d)
    meta = {"layout_name": "h36m", "num_joints": 17,
            "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]}
    np.savez_compressed(root / "data_2d_h36m_cpn.npz", positions_2d=pos2d, metadata=meta)
    (root / "cameras.pkl").write_bytes(pickle.dumps(cams))
    return cams, truth


def test_vp3d_layout_recovers_ground_truth(tmp_path):
    cams, truth = _write_h36m(tmp_path / "h36m")
    recs = list(read_vp3d(tmp_path / "h36m/data_3d_h36m.npz", tmp_path / "h36m/cameras.pkl"))
    assert len(recs) == 4
    for rec in recs:
        key = rec.take.split("_", 1)[1].replace("_", " ")
        np.testing.assert_allclose(rec.pose3d_world, truth[(rec.subject, key)], atol=1e-6)
        assert rec.view_names == CAMERA_IDS and rec.fps == 50
        for v, cid in enumerate(CAMERA_IDS):
            c = cams[(rec.subject, cid)]
            np.testing.assert_allclose(rec.R[v, 0], c["R"].T, atol=1e-12)
            ref = _h36m_project(rec.pose3d_world, c["R"], c["T"].ravel(), c["f"].ravel(),
                                c["c"].ravel())
            np.testing.assert_allclose(rec.pose2d[v, ..., :2], ref, atol=1e-3)
    assert {r.action for r in recs} == {"Walking"}
    det = list(read_vp3d(tmp_path / "h36m/data_3d_h36m.npz", tmp_path / "h36m/cameras.pkl",
                         tmp_path / "h36m/data_2d_h36m_cpn.npz"))
    np.testing.assert_allclose(det[0].pose2d[..., :2], recs[0].pose2d[..., :2] + 1.5, atol=1e-3)
    # a COCO-layout detection file (by its metadata) is converted, not misread
    d2 = np.load(tmp_path / "h36m/data_2d_h36m_cpn.npz", allow_pickle=True)
    pos = d2["positions_2d"].item()
    coco_meta = {"layout_name": "coco", "num_joints": 17,
                 "keypoints_symmetry": [[1, 3, 5, 7, 9, 11, 13, 15], [2, 4, 6, 8, 10, 12, 14, 16]]}
    np.savez(tmp_path / "h36m/data_2d_h36m_coco.npz", positions_2d=pos, metadata=coco_meta)
    coco = list(read_vp3d(tmp_path / "h36m/data_3d_h36m.npz", tmp_path / "h36m/cameras.pkl",
                          tmp_path / "h36m/data_2d_h36m_coco.npz"))
    from liftbench.geometry.skeletons import convert
    ref = convert(np.stack(pos["S1"]["Walking"])[:, :30], "coco17", "h36m17")
    np.testing.assert_allclose(coco[0].pose2d[..., :2], ref, atol=1e-3)


def test_vp3d_datamodule_splits_and_multiview(tmp_path):
    _write_h36m(tmp_path / "h36m")
    dm = create_datamodule("h36m", root=tmp_path / "h36m", views=2, frames=9, batch_size=4,
                           cache_dir=tmp_path / "cache")
    dm.setup()
    assert set(dm.takes["train"]) == {"S1_Walking", "S1_Walking_1"}
    assert set(dm.takes["test"]) == {"S9_Walking", "S9_Walking_1"}
    batch = next(iter(dm.test_dataloader()))
    n = min(4 * EVAL_BATCH_FACTOR, len(dm.datasets["test"]))  # evaluation batches are larger
    assert batch["input"].shape == (n, 2, 9, 17, 3)
    assert dm.protocol()["val_set"] == "test"
    custom = create_datamodule("h36m", root=tmp_path / "h36m", subjects={"test": ["S1"]},
                               frames=9, cache_dir=tmp_path / "cache", source_2d="cpn")
    custom.setup()
    assert all(t.startswith("S1") for t in custom.takes["test"])
    assert custom.protocol()["source_2d"] == "det:cpn"


def test_motionbert_pkl_rebuilds_exact_25d(tmp_path):
    world = motion_m("kick", 20)
    R, t = ring(1)[0]
    cam_id = CAMERA_IDS[1]
    (w, h), (fx, fy, cx, cy) = INTRINSICS[cam_id]
    Xc = (world @ R.T + t) * 1000  # mm
    uv = np.stack([fx * Xc[..., 0] / Xc[..., 2] + cx, fy * Xc[..., 1] / Xc[..., 2] + cy], -1)
    lam = Xc[:, 0, 2] / fx * 1.004  # LCN's box-based λ differs slightly from Z_root / f
    img = np.concatenate([uv, ((Xc[..., 2] - Xc[:, :1, 2]) / lam[:, None])[..., None]], -1)
    n = len(world)
    src = np.array(["s_09_act_04_subact_01_ca_02"] * 12 + ["s_09_act_05_subact_02_ca_02"] * 8)
    split = {
        "joint_2d": (uv + 2.0).astype(np.float32), "confidence": np.full((n, 17, 1), 0.7),
        "joint3d_image": img.astype(np.float64), "camera_name": np.array([cam_id] * n),
        "source": src, "action": np.array(["Discussion"] * n), "2.5d_factor": lam,
        "joints_2.5d_image": img * lam[:, None, None],
    }
    path = tmp_path / "h36m_sh_conf_cam_source_final.pkl"
    path.write_bytes(pickle.dumps({"train": {k: v[:0] for k, v in split.items()},
                                   "test": split}))
    recs = list(read_motionbert_pkl(path))
    assert len(recs) == 1  # the block-listed sequence is skipped
    rec = recs[0]
    assert (rec.subject, rec.action) == ("S9", "Eating")  # act 02 = Directions
    from liftbench.datamodules.clips import build_clips
    arrays = build_clips([rec], frames=12, stride=12)
    norm = img[:12].copy()
    norm[..., :2] = norm[..., :2] / w * 2 - np.array([1, h / w])
    norm[..., 2] = norm[..., 2] / w * 2
    np.testing.assert_allclose(arrays["target"][0], norm - norm[:, :1], atol=1e-5)
    np.testing.assert_allclose(arrays["factor"][0], lam[:12] * w / 2, rtol=1e-5)
    det = next(read_motionbert_pkl(path, source_2d="dataset"))
    np.testing.assert_allclose(det.pose2d[0, ..., :2], uv[:12] + 2.0, atol=1e-4)
    np.testing.assert_allclose(det.pose2d[0, ..., 2], 0.7)


def test_bad_inputs(tmp_path):
    with pytest.raises(FileNotFoundError, match="cameras.pkl"):
        load_cameras(tmp_path / "cameras.pkl")
    _write_h36m(tmp_path / "mm", subjects=("S1",), unit=1000.0)
    with pytest.raises(ValueError, match=r"data_3d_h36m\.npz.*factor 1000"):
        list(read_vp3d(tmp_path / "mm/data_3d_h36m.npz", tmp_path / "mm/cameras.pkl"))
    _write_h36m(tmp_path / "j25", subjects=("S1",), joints=25)
    with pytest.raises(ValueError, match=r"data_3d_h36m\.npz.*\(T, 32\|17, 3\)"):
        list(read_vp3d(tmp_path / "j25/data_3d_h36m.npz", tmp_path / "j25/cameras.pkl"))
    with pytest.raises(ValueError, match="root.*is required.*liftbench data prepare h36m"):
        create_datamodule("h36m", root="???")
    with pytest.raises(FileNotFoundError, match="no Human3.6M files"):
        create_datamodule("h36m", root=tmp_path)


def test_real_fixture_reproduces_stored_2d(shared_data):
    fx = shared_data / "fixtures" / "h36m"
    recs = list(read_mmpose_npz(fx / "test_h36m_body3d.npz", fx / "cameras.pkl"))
    from liftbench.datamodules.safe_pickle import load_npz
    d = load_npz(fx / "test_h36m_body3d.npz")
    assert len(recs) == 4
    for rec in recs:
        i = [k for k, n in enumerate(d["imgname"]) if rec.take.split("_", 1)[1].split("_0")[0]
             in str(n) and rec.subject in str(n)][0]
        err = np.linalg.norm(rec.pose2d[0, 0, :, :2] - d["part"][i, :, :2], axis=-1)
        assert err.max() <= 3.0, err
        # 3D back in the camera frame equals the file's S
        np.testing.assert_allclose(rec.pose3d_camera()[0, 0], d["S"][i, :, :3], atol=1e-9)
        # geometric left/right: the nose is in front of the body (DATASETS.md §1.2)
        X = rec.pose3d_world[0]
        fwd = np.cross(X[4] - X[1], X[8] - X[0])
        assert np.dot(X[9] - X[8], fwd) > 0
    det = list(read_mmpose_npz(fx / "test_h36m_body3d.npz", fx / "cameras.pkl", "dataset"))
    np.testing.assert_allclose(det[0].pose2d[0, 0], d["part"][0])


def test_real_fixture_through_prepare(shared_data, tmp_path, capsys):
    from liftbench.bench.cli import main
    fx = shared_data / "fixtures" / "h36m"
    root = tmp_path / "h36m"
    (root / "annotation_body3d/fps50").mkdir(parents=True)
    (root / "annotation_body3d/fps50/h36m_test.npz").symlink_to(fx / "test_h36m_body3d.npz")
    (root / "cameras.pkl").symlink_to(fx / "cameras.pkl")
    assert main(["data", "prepare", "h36m", "--root", str(root), "--cache-dir",
                 str(tmp_path / "cache")]) == 0
    out = capsys.readouterr().out
    assert "h36m: 4 takes, 4 frames" in out and "subjects (4): S1, S5, S7, S8" in out
