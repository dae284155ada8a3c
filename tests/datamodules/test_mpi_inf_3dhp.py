import numpy as np
import pytest
from scipy.io import savemat

from liftbench.datamodules.mpi_inf_3dhp.reader import (
    TEST_CAMERAS,
    read_calibration,
    read_mmpose_npz,
    read_test_sequence,
    read_train_sequence,
)
from liftbench.datamodules.registry import create_datamodule
from liftbench.geometry.conversions import _H36M_FROM_MPI17, _MPI17_FROM_MPI28
from tests.datamodules.real_helpers import intrinsics, motion_m, project_cv, ring

MPI28_OF_H36M = [_MPI17_FROM_MPI28[i] for i in _H36M_FROM_MPI17]


def _calib_text(cams):
    out = ["Skeletool Camera Calibration File V1.0"]
    for i, (K, R, t) in enumerate(cams):
        intr = np.eye(4)
        intr[:3, :3] = K
        ext = np.eye(4)
        ext[:3, :3], ext[:3, 3] = R, t * 1000
        out += [f"name          {i}", "  sensor      10 10", "  size        2048 2048",
                "  animated    0", "  intrinsic   " + " ".join(f"{v:.10g}" for v in intr.ravel()),
                "  extrinsic   " + " ".join(f"{v:.10g}" for v in ext.ravel()), "  radial      0"]
    return "\n".join(out) + "\n"


def _write_train(root, subj="S1", seq="Seq1", frames=30, scale=1000.0):
    d = root / subj / seq
    d.mkdir(parents=True)
    world = motion_m("walk", frames, up="y")
    rng = np.random.default_rng(1)
    w28 = rng.normal(size=(frames, 28, 3)) * 0.1 + world[:, :1]
    w28[:, MPI28_OF_H36M] = world
    cams = [(intrinsics(1500, 2048, 2048), R, t) for R, t in ring(14, 4.0, 1.2,
                                                                   (0, 0.9, 0), up="y")]
    a2 = np.empty((14, 1), object)
    a3 = np.empty((14, 1), object)
    for c, (K, R, t) in enumerate(cams):
        cam = w28 @ R.T + t
        a3[c, 0] = (cam * scale).reshape(frames, 84)
        a2[c, 0] = project_cv(w28, R, t, K).reshape(frames, 56)
    savemat(d / "annot.mat", {"annot2": a2, "annot3": a3, "univ_annot3": a3,
                              "cameras": np.arange(14)[None], "frames": np.arange(frames)[:, None]})
    (d / "camera.calibration").write_text(_calib_text(cams))
    return world, cams


def _write_test(root, name="TS1", frames=25):
    h5py = pytest.importorskip("h5py")
    d = root / "mpi_inf_3dhp_test_set" / name
    d.mkdir(parents=True)
    K = TEST_CAMERAS[name][0]
    cam = motion_m("run", frames, offset=(0, 0, 0), up="-y") + np.array([0.2, 0.0, 4.0])
    mpi = np.empty_like(cam)
    mpi[:, _H36M_FROM_MPI17] = cam
    uv = project_cv(mpi, np.eye(3), np.zeros(3), K)
    valid = np.ones(frames)
    valid[10:13] = 0
    with h5py.File(d / "annot_data.mat", "w", userblock_size=512) as f:
        f["annot3"] = (mpi * 1000)[:, None]
        f["univ_annot3"] = (mpi * 1000)[:, None]
        f["annot2"] = uv[:, None]
        f["valid_frame"] = valid[:, None]
        f["activity_annotation"] = np.full((frames, 1), 6.0)
        f["bb_crop"] = np.zeros((frames, 34))
    return cam


def test_train_sequence_recovers_ground_truth(tmp_path):
    world, cams = _write_train(tmp_path)
    rec = read_train_sequence(tmp_path / "S1/Seq1", cameras=(0, 3, 5))
    np.testing.assert_allclose(rec.pose3d_world, world, atol=1e-9)
    assert rec.fps == 25 and rec.view_names == ("cam0", "cam3", "cam5")
    for v, c in enumerate((0, 3, 5)):
        K, R, t = cams[c]
        np.testing.assert_allclose(rec.R[v, 0], R, atol=1e-9)
        np.testing.assert_allclose(rec.t[v, 0], t, atol=1e-9)
        np.testing.assert_allclose(rec.pose2d[v, ..., :2], project_cv(world, R, t, K), atol=1e-6)
    ds = read_train_sequence(tmp_path / "S1/Seq1", cameras=(2,), source_2d="dataset")
    K, R, t = cams[2]
    np.testing.assert_allclose(ds.pose2d[0, ..., :2], project_cv(world, R, t, K), atol=1e-6)


def test_test_sequence_and_datamodule(tmp_path):
    cam = _write_test(tmp_path)
    recs = list(read_test_sequence(tmp_path / "mpi_inf_3dhp_test_set/TS1"))
    assert [r.num_frames for r in recs] == [10, 12]  # split at the invalid frames
    np.testing.assert_allclose(recs[1].pose3d_world, cam[13:], atol=1e-9)
    assert recs[0].action == "Sports"
    _write_train(tmp_path)
    dm = create_datamodule("mpi_inf_3dhp", root=tmp_path, frames=9, batch_size=4,
                           train_cameras=[0, 1], cache_dir=tmp_path / "cache")
    dm.setup()
    assert dm.takes["train"] == ["S1_Seq1"]
    assert dm.takes["test"] == ["TS1_000000", "TS1_000013"]
    b = next(iter(dm.train_dataloader()))
    assert b["input"].shape == (4, 9, 17, 3)


def test_bad_inputs(tmp_path):
    _write_train(tmp_path)
    (tmp_path / "S1/Seq1/camera.calibration").unlink()
    with pytest.raises(FileNotFoundError, match="camera.calibration"):
        read_train_sequence(tmp_path / "S1/Seq1")
    _write_train(tmp_path, "S2", scale=1.0)  # metres where millimetres are expected
    with pytest.raises(ValueError, match=r"S2/Seq1/annot\.mat.*factor 0.001"):
        read_train_sequence(tmp_path / "S2/Seq1")
    bad = tmp_path / "bad.calibration"
    bad.write_text("hello\n")
    with pytest.raises(ValueError, match="bad.calibration"):
        read_calibration(bad)


def test_real_fixture_reproduces_stored_2d(shared_data):
    fx = shared_data / "fixtures" / "mpi_inf_3dhp"
    from liftbench.datamodules.safe_pickle import load_npz, load_pickle
    from liftbench.geometry.skeletons import convert
    for npz, cams in (("test_3dhp_train.npz", "cameras_train.pkl"),
                      ("test_3dhp_test.npz", "cameras_test.pkl")):
        d = load_npz(fx / npz)
        recs = list(read_mmpose_npz(fx / npz, fx / cams))
        assert len(recs) == 2
        for i, rec in enumerate(recs):
            part = convert(d["part"][i, :, :2], "mpi3dhp17", "h36m17")
            err = np.linalg.norm(rec.pose2d[0, 0, :, :2] - part, axis=-1)
            assert err.max() <= 3.0, err
            X = rec.pose3d_world[0]
            fwd = np.cross(X[4] - X[1], X[8] - X[0])
            assert np.dot(X[9] - X[8], fwd) > 0  # geometric left/right check
    # the built-in test-camera intrinsics agree with mmpose's estimated ones
    est = load_pickle(fx / "cameras_test.pkl")
    for ts in ("TS1", "TS5"):
        K = TEST_CAMERAS[ts][0]
        np.testing.assert_allclose([K[0, 0], K[1, 1]], est[ts]["f"].ravel(), rtol=2e-3)
        np.testing.assert_allclose([K[0, 2], K[1, 2]], est[ts]["c"].ravel(), atol=2.0)
