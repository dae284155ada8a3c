import numpy as np
import pytest
from scipy.io import savemat
from scipy.spatial.transform import Rotation

from liftbench.datamodules.mads.reader import read_mads
from liftbench.datamodules.registry import create_datamodule
from liftbench.geometry.skeletons import convert, get_joint_set
from tests.datamodules.real_helpers import intrinsics, motion_m, project_cv, ring

H36M_FOR_MADS = {"neck": 8, "pelvis": 0, "left_hip": 4, "left_knee": 5, "left_ankle": 6,
                 "right_hip": 1, "right_knee": 2, "right_ankle": 3, "left_shoulder": 11,
                 "left_elbow": 12, "left_wrist": 13, "right_shoulder": 14, "right_elbow": 15,
                 "right_wrist": 16, "head": 9}


def _mads19(world):
    js = get_joint_set("mads")
    out = np.zeros((len(world), 19, 3))
    for i, name in enumerate(js.joints):
        if name in H36M_FOR_MADS:
            out[:, i] = world[:, H36M_FOR_MADS[name]]
    for toe, ank in (("left_toe", 6), ("right_toe", 3)):
        out[:, js.index(toe)] = world[:, ank] + [0.1, 0, 0]
    for hand, wr in (("left_hand", 13), ("right_hand", 16)):
        out[:, js.index(hand)] = world[:, wr] * 1.01
    return out


def _write(root, actions=("Taichi", "Sports"), unit=1000.0, joints=19):
    cams = ring(3, 4.0, 1.4, (0, 0.9, 0), up="y")
    truth = {}
    for ai, action in enumerate(actions):
        d = root / "MADS" / "multi_view_data" / action
        d.mkdir(parents=True)
        for i, (R, t) in enumerate(cams):
            K = intrinsics(900 + 10 * i, 1024, 768)
            savemat(d / f"Calib_Cam{i}.mat", {
                "KK": K, "kc": np.array([[0.05], [-0.01], [0.001], [0.0], [0.0]]),
                "fc": K[[0, 1], [0, 1]][:, None], "cc": K[:2, 2][:, None], "alpha_c": 0.0,
                "om_ext": Rotation.from_matrix(R).as_rotvec()[:, None],
                "T_ext": (t * 1000)[:, None]})
        world = motion_m(("walk", "kick")[ai], 20, up="y")
        mads = _mads19(world)[:, :joints] * unit
        cells = np.empty((1, len(mads)), object)
        for f in range(len(mads)):
            cells[0, f] = np.full((joints, 3), np.nan) if f in (6, 7) else mads[f]
        savemat(d / f"{action}_Seq1_GT.mat", {"GTpose2": cells})
        truth[action] = mads / 1000
    return cams, truth


def test_reader_recovers_ground_truth(tmp_path):
    cams, truth = _write(tmp_path)
    recs = list(read_mads(tmp_path))
    assert [r.take for r in recs] == ["Taichi_Seq1#0", "Taichi_Seq1#8", "Sports_Seq1#0",
                                      "Sports_Seq1#8"]
    rec = recs[1]
    ref = convert(truth["Taichi"][8:], "mads", "h36m17")
    np.testing.assert_allclose(rec.pose3d_world, ref, atol=1e-12)
    np.testing.assert_allclose(rec.pose3d_world[:, 16], truth["Taichi"][8:, 16], atol=1e-12)
    for v, (R, t) in enumerate(cams):
        K = intrinsics(900 + 10 * v, 1024, 768)
        uv = project_cv(ref, R, t, K, [0.05, -0.01, 0.001, 0.0, 0.0])
        np.testing.assert_allclose(rec.pose2d[v, ..., :2], uv, atol=1e-6)
    dm = create_datamodule("mads", root=tmp_path / "MADS", frames=5, views=2,
                           cache_dir=tmp_path / "cache")
    dm.setup()
    assert dm.takes["train"] == ["Taichi_Seq1#0", "Taichi_Seq1#8"]
    assert dm.takes["test"] == ["Sports_Seq1#0", "Sports_Seq1#8"]


def test_bad_inputs(tmp_path):
    _write(tmp_path / "m", unit=1.0)
    with pytest.raises(ValueError, match=r"Taichi_Seq1_GT\.mat.*factor 0.001"):
        list(read_mads(tmp_path / "m"))
    _write(tmp_path / "x")
    gt = tmp_path / "x/MADS/multi_view_data/Taichi/Taichi_Seq1_GT.mat"
    cells = np.empty((1, 3), object)
    cells[0, 0], cells[0, 1], cells[0, 2] = np.ones((19, 3)), np.ones((15, 3)), np.ones((19, 3))
    savemat(gt, {"GTpose2": cells})
    with pytest.raises(ValueError, match=r"Taichi_Seq1_GT\.mat.*mixed joint sets"):
        list(read_mads(tmp_path / "x"))
    with pytest.raises(FileNotFoundError, match="no MADS"):
        list(read_mads(tmp_path / "nothing"))
