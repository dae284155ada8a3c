import numpy as np
import pytest

from liftbench.datamodules.real.reader_helpers import (
    check_person_scale,
    finite_segments,
    slice_record,
)
from liftbench.datamodules.real.record_cache import load_record, save_record
from liftbench.datamodules.records import SequenceRecord
from liftbench.datamodules.registry import create_datamodule
from tests.datamodules.real_helpers import motion_m


def _rec(n=10, moving=False):
    rng = np.random.default_rng(0)
    R = np.broadcast_to(np.eye(3), (2, n, 3, 3)).copy()
    if moving:
        R[1] = np.linalg.qr(rng.normal(size=(n, 3, 3)))[0]
    return SequenceRecord(
        subject="S1", action="walk", take="walk_S1", fps=50.0,
        pose2d=rng.random((2, n, 17, 3)), K=np.stack([np.eye(3)] * 2), R=R,
        t=np.zeros((2, n, 3)) + [0, 0, 5], image_size=[[100, 80], [100, 80]],
        pose3d_world=motion_m("walk", n), pose2d_clean=rng.random((2, n, 17, 2)),
        view_names=("a", "b"), labels={"env": "x"})


@pytest.mark.parametrize("moving", [False, True])
def test_record_roundtrip(tmp_path, moving):
    rec = _rec(moving=moving)
    save_record(rec, tmp_path / "r.npz")
    got = load_record(tmp_path / "r.npz")
    for key in ("pose2d", "K", "R", "t", "image_size", "pose3d_world", "pose2d_clean", "dist",
                "valid"):
        np.testing.assert_array_equal(getattr(got, key), getattr(rec, key))
    assert (got.take, got.view_names, got.labels, got.fps) == (rec.take, ("a", "b"),
                                                                {"env": "x"}, 50.0)
    with np.load(tmp_path / "r.npz") as f:
        assert ("R_static" in f.files) != moving  # static cameras are stored once


def test_units_check_and_segments():
    world = motion_m("walk", 5)
    assert 1.0 < check_person_scale(world, "w.npy") < 2.5
    with pytest.raises(ValueError, match=r"w\.npy.*factor 1000"):
        check_person_scale(world * 1000, "w.npy")
    with pytest.raises(ValueError, match=r"w\.npy.*factor 0.01"):
        check_person_scale(world / 100, "w.npy")
    assert finite_segments(np.array([1, 1, 0, 0, 1, 1, 1, 0, 1], bool)) == [(0, 2), (4, 7),
                                                                          (8, 9)]
    assert finite_segments(np.array([1, 1, 0, 1], bool), min_len=2) == [(0, 2)]
    part = slice_record(slice_record(_rec(), 2, 9, "a"), 3, 6, "b")
    assert part.labels["start_frame"] == "5" and part.num_frames == 3


def test_user_detections_replace_the_2d(tmp_path):
    from tests.datamodules.test_aist import SEQS, _write
    _write(tmp_path / "aist")
    det = tmp_path / "det"
    det.mkdir()
    dm = create_datamodule("aist", root=tmp_path / "aist", frames=5, views=1,
                           cache_dir=tmp_path / "cache")
    recs = {r.take: r for r in dm.load_records()}
    for seq in SEQS:
        if seq in recs or f"{seq}#0" in recs:
            full = recs.get(seq) or recs[f"{seq}#0"]
            n = 30 if seq not in recs else full.num_frames
            for v, view in enumerate(full.view_names):
                kp = np.zeros((n, 17, 3))
                kp[..., 0] = np.arange(n)[:, None] + 100 * v  # frame number encodes the source
                kp[..., 1], kp[..., 2] = 7.0, 0.5
                # all joints on one point: the data cannot show the order, the file says it
                np.savez(det / f"{seq}.{view}.npz", keypoints=kp, joint_set="h36m17")
    dm2 = create_datamodule("aist", root=tmp_path / "aist", frames=5, views=1,
                            cache_dir=tmp_path / "cache", detections=det)
    recs2 = [dm2._usable(r) for r in dm2.load_records()]
    seg = next(r for r in recs2 if r.take.endswith("#14"))
    np.testing.assert_allclose(seg.pose2d[3, :, 0, 0], np.arange(14, 14 + seg.num_frames) + 300)
    assert np.allclose(seg.pose2d[..., 2], 0.5)
    assert dm2.protocol()["source_2d"] == "det:user"
    (det / "gJB_sFM_cAll_d07_mJB3_ch05.c05.npz").unlink()
    with pytest.raises(FileNotFoundError, match="gJB_sFM_cAll_d07_mJB3_ch05.*c05"):
        dm2.prepare_data()
