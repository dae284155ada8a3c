import numpy as np
import pytest

from liftbench.datamodules.registry import create_datamodule
from liftbench.datamodules.skipose.reader import read_split
from tests.datamodules.real_helpers import look_at, motion_m

h5py = pytest.importorskip("h5py")


def _write(path, seqs=(1, 2), frames=12, oriented="camera", unit=1.0):
    rows = {k: [] for k in ("seq", "cam", "frame", "subj", "3D", "2D", "cam_intrinsic",
                            "cam_position", "R_cam_2_world")}
    truth = {}
    for seq in seqs:
        world = motion_m("run", frames) + np.array([2.0 * seq, 0, 0])
        truth[seq] = world
        for cam in range(6):
            a = 2 * np.pi * cam / 6
            pos = np.array([30 * np.cos(a), 30 * np.sin(a), 3.0 + cam])
            for f in range(frames):
                root = world[f, 0]
                R, t = look_at(pos, root + [0.1 * np.sin(f), 0, 0.2])
                zoom = 2500 + 200 * np.sin(0.3 * f + cam)
                K = np.array([[zoom, 0, 128 + 5 * np.sin(f)], [0, zoom, 128 - 3 * np.cos(f)],
                              [0, 0, 1]])
                xc = world[f] @ R.T + t
                uv = xc[:, :2] / xc[:, 2:] * [K[0, 0], K[1, 1]] + K[:2, 2]
                rel = world[f] - root
                if oriented == "camera":
                    rel = rel @ R.T
                kn = K / 256
                kn[2, 2] = 1.0
                for k, v in (("seq", seq), ("cam", cam), ("frame", 10 * f), ("subj", seq + 4),
                             ("3D", rel.ravel() * unit), ("2D", (uv / 256).ravel()),
                             ("cam_intrinsic", kn.ravel()), ("cam_position", pos),
                             ("R_cam_2_world", R.T.ravel())):
                    rows[k].append(v)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        for k, v in rows.items():
            f[k] = np.asarray(v)
    return truth


@pytest.mark.parametrize("oriented", ["camera", "world"])
def test_reader_recovers_ground_truth(tmp_path, oriented):
    truth = _write(tmp_path / "train/labels.h5", oriented=oriented)
    recs = list(read_split(tmp_path / "train/labels.h5", "train"))
    assert [r.take for r in recs] == ["train_seq001_000000", "train_seq002_000000"]
    for rec, seq in zip(recs, (1, 2)):
        assert rec.labels["pose_frame"] == oriented
        assert rec.num_views == 6 and rec.subject == f"subj{seq + 4}"
        np.testing.assert_allclose(rec.pose3d_world, truth[seq], atol=1e-7)
        with h5py.File(tmp_path / "train/labels.h5") as f:
            rows = (np.asarray(f["seq"]) == seq) & (np.asarray(f["cam"]) == 2)
            c2w = np.asarray(f["R_cam_2_world"])[rows].reshape(-1, 3, 3)
            pos = np.asarray(f["cam_position"])[rows]
        np.testing.assert_allclose(rec.R[2], np.swapaxes(c2w, 1, 2), atol=1e-12)
        np.testing.assert_allclose(-np.einsum("tij,tj->ti", c2w, rec.t[2]), pos, atol=1e-9)
        # the 2D in the virtual fixed-K frame is the projection by the per-frame cameras
        np.testing.assert_allclose(rec.pose2d[..., :2], rec.pose2d_clean, atol=1e-6)
        assert rec.valid.all()


def test_datamodule_official_split(tmp_path):
    _write(tmp_path / "train/labels.h5", seqs=(1,))
    _write(tmp_path / "test/labels.h5", seqs=(7,))
    dm = create_datamodule("skipose", root=tmp_path, frames=6, views=2,
                           cache_dir=tmp_path / "cache")
    dm.setup()
    assert dm.takes["train"] == ["train_seq001_000000"]
    assert dm.takes["test"] == ["test_seq007_000000"]
    b = next(iter(dm.test_dataloader()))
    assert b["R"].shape[1:] == (2, 6, 3, 3)


def test_bad_inputs(tmp_path):
    _write(tmp_path / "mm/train/labels.h5", unit=1000.0)
    with pytest.raises(ValueError, match=r"labels\.h5.*factor 1000"):
        list(read_split(tmp_path / "mm/train/labels.h5", "train"))
    with h5py.File(tmp_path / "bad.h5", "w") as f:
        for k in ("seq", "cam", "frame", "subj", "cam_position", "cam_intrinsic",
                  "R_cam_2_world", "2D"):
            f[k] = np.zeros((3, 9))
        f["3D"] = np.zeros((3, 48))
    with pytest.raises(ValueError, match=r"bad\.h5: 3D must be \(N, 51\)"):
        list(read_split(tmp_path / "bad.h5", "train"))
    with pytest.raises(FileNotFoundError, match="no train/labels.h5"):
        create_datamodule("skipose", root=tmp_path / "mm" / "train",
                          cache_dir=tmp_path / "cache").setup()
