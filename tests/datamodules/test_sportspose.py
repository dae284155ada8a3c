import pickle

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from liftbench.datamodules.registry import create_datamodule
from liftbench.datamodules.sportspose.reader import IMAGE_SIZE, VIEW_CAMERAS, VIEWS, read_sportspose
from liftbench.geometry.skeletons import convert
from tests.datamodules.real_helpers import intrinsics, motion_m, project_cv, ring

_COCO_FROM_H36M = [9, 10, 10, 10, 10, 11, 14, 12, 15, 13, 16, 4, 1, 5, 2, 6, 3]
TURNS = [0, 1, 0, 3, 0, 2, 1]


def _coco_world(clip, frames, shift):
    h = motion_m(clip, frames) + shift
    c = h[:, _COCO_FROM_H36M].copy()
    c[:, 1:5, 0] += np.array([-0.03, 0.03, -0.07, 0.07])
    return c


def _cams(seed):
    out = []
    for i, (R, t) in enumerate(ring(7, 6.0 + seed)):
        K = intrinsics(1400 + 10 * i, 1936, 1216)
        k = np.array([0.02, -0.01, 0.0005, -0.0003, 0.001])
        out.append({"f": np.array([K[0, 0], K[1, 1]]), "c": K[:2, 2].copy(), "k": k,
                    "R": np.eye(3), "T": t, "tpr": Rotation.from_matrix(R).as_rotvec()})
    return out


def _rotate_px(uv, size, turns):
    """Where np.rot90(img, -turns) moves pixel (u, v): the integer part found on an actual
    image (one quarter turn at a time), the sub-pixel part carried along the rotation."""
    out = []
    for u, v in uv.reshape(-1, 2):
        w, h = size
        for _ in range(turns):
            iu, iv = int(np.floor(u)), int(np.floor(v))
            img = np.zeros((h, w), np.uint8)
            img[iv, iu] = 1
            r, c = np.argwhere(np.rot90(img, -1))[0]
            u, v = c - (v - iv), r + (u - iu)
            w, h = h, w
        out.append([u, v])
    return np.asarray(out)


def _write(root, env, subj, takes, seed=0, scale=1.0):
    d = root / "data" / env / subj
    cams = _cams(seed)
    d.mkdir(parents=True)
    (d / "calib.pkl").write_bytes(pickle.dumps(
        {"calibration": cams, "numtimesrot90clockwise": TURNS}))
    truth = {}
    for act, n, clip in takes:
        (d / act).mkdir(exist_ok=True)
        coco = _coco_world(clip, 20, (0.1 * n, 0.0, 0.0))
        arr = np.concatenate([coco * scale, np.ones(coco.shape[:-1] + (1,))], -1)
        np.save(d / act / f"{act}{n:04d}.npy", arr.astype(np.float32))
        (d / act / f"{act}{n:04d}_timing.pkl").write_bytes(pickle.dumps({
            "video_path": ["2022", env, subj, f"{act}{n:04d}", "20220503_101112_1"],
            "video_index": [np.arange(20)] * 7, "times_ms": [np.arange(20) * 11.1] * 7}))
        truth[f"{env}_{subj}_{act}{n:04d}"] = coco.astype(np.float32).astype(np.float64)
    return cams, truth


def test_reader_recovers_ground_truth(tmp_path):
    cams, truth = _write(tmp_path, "indoors", "S04", [("jump", 1, "jump"), ("soccer", 3, "kick")])
    recs = list(read_sportspose(tmp_path))
    assert [r.take for r in recs] == list(truth)
    kind = VIEW_CAMERAS["indoors-early"]
    for rec in recs:
        coco = truth[rec.take]
        np.testing.assert_allclose(rec.pose3d_world, convert(coco, "coco17", "h36m17"), atol=1e-9)
        np.testing.assert_allclose(rec.pose3d_world[:, 16], coco[:, 10], atol=1e-12)  # R wrist
        assert rec.view_names == VIEWS and rec.fps == 90 and rec.labels["env"] == "indoors"
        for v, view in enumerate(VIEWS):
            ci = kind[VIEWS.index(view)]
            c = cams[ci]
            R = Rotation.from_rotvec(c["tpr"]).as_matrix()
            K = np.array([[c["f"][0], 0, c["c"][0]], [0, c["f"][1], c["c"][1]], [0, 0, 1]])
            uv = project_cv(rec.pose3d_world, R, c["T"], K, c["k"])
            ref = _rotate_px(uv[:2], IMAGE_SIZE["indoors"], TURNS[ci])
            np.testing.assert_allclose(rec.pose2d[v, :2, :, :2].reshape(-1, 2), ref, atol=1e-6)
            w, h = IMAGE_SIZE["indoors"]
            assert tuple(rec.image_size[v]) == ((h, w) if TURNS[ci] % 2 else (w, h))
            # the record's own (rotated) camera reproduces the rotated 2D
            mine = project_cv(rec.pose3d_world, rec.R[v, 0], rec.t[v, 0], rec.K[v], rec.dist[v])
            np.testing.assert_allclose(mine, rec.pose2d[v, ..., :2], atol=1e-6)
            if TURNS[ci] == 0:
                np.testing.assert_allclose(rec.R[v, 0], R, atol=1e-12)
                np.testing.assert_allclose(rec.t[v, 0], c["T"], atol=1e-12)
                np.testing.assert_allclose(rec.K[v], K, atol=1e-12)


def test_datamodule_named_splits(tmp_path):
    for subj in ("S01", "S04", "S06"):
        _write(tmp_path, "indoors", subj, [("jump", 1, "jump")])
    _write(tmp_path, "outdoors", "S22", [("volley", 2, "punch")], seed=1)
    dm = create_datamodule("sportspose", root=tmp_path, frames=9, views=2,
                           cameras=["right", "left", "front-right"], batch_size=4,
                           cache_dir=tmp_path / "cache")
    dm.setup()
    assert dm.takes["train"] == ["indoors_S01_jump0001"]
    assert set(dm.takes["val"]) == {"indoors_S04_jump0001", "outdoors_S22_volley0002"}
    assert dm.takes["test"] == ["indoors_S06_jump0001"]
    b = next(iter(dm.test_dataloader()))
    assert b["input"].shape[1:] == (2, 9, 17, 3)
    kas = create_datamodule("sportspose", root=tmp_path, split="kasportsformer", frames=9,
                            cache_dir=tmp_path / "cache")
    kas.setup()
    assert set(kas.takes["test"]) == {"indoors_S04_jump0001", "outdoors_S22_volley0002"}
    with pytest.raises(ValueError, match="unknown sportspose split 'nope'"):
        create_datamodule("sportspose", root=tmp_path, split="nope")


def test_bad_inputs(tmp_path):
    _write(tmp_path, "indoors", "S01", [("jump", 1, "jump")], scale=1000.0)
    with pytest.raises(ValueError, match=r"jump0001\.npy.*factor 1000"):
        list(read_sportspose(tmp_path))
    (tmp_path / "data/indoors/S01/calib.pkl").unlink()
    with pytest.raises(FileNotFoundError, match="S01/calib.pkl"):
        list(read_sportspose(tmp_path))
    bad = tmp_path / "b"
    _write(bad, "indoors", "S02", [("jump", 1, "jump")])
    np.save(bad / "data/indoors/S02/jump/jump0001.npy", np.zeros((5, 25, 3), np.float32))
    with pytest.raises(ValueError, match=r"jump0001\.npy.*\(T, 17, >=3\)"):
        list(read_sportspose(bad))
    with pytest.raises(FileNotFoundError, match="no data/ folder"):
        list(read_sportspose(tmp_path / "nothing"))
