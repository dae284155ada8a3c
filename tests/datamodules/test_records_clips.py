import numpy as np
import pytest
import torch

from liftbench.datamodules.clip_dataset import ClipDataset, clip_loader
from liftbench.datamodules.clips import build_clips, normalise_width, view_groups, window_indices
from liftbench.datamodules.flip import flip_batch
from liftbench.datamodules.records import SequenceRecord, group_synchronized
from liftbench.datamodules.synthetic.rigs import make_rig

STAND = np.array([
    [0, 0, 0.95], [0, -0.12, 0.93], [0, -0.12, 0.5], [0, -0.12, 0.08], [0, 0.12, 0.93],
    [0, 0.12, 0.5], [0, 0.12, 0.08], [0, 0, 1.2], [0, 0, 1.45], [0.08, 0, 1.55], [0, 0, 1.7],
    [0, 0.18, 1.42], [0, 0.2, 1.15], [0, 0.2, 0.9], [0, -0.18, 1.42], [0, -0.2, 1.15],
    [0, -0.2, 0.9],
])


def opencv_project(xc, K, d):
    """Independent reference of the OpenCV model: camera points (...,3) → pixels (...,2)."""
    x, y = xc[..., 0] / xc[..., 2], xc[..., 1] / xc[..., 2]
    r2 = x * x + y * y
    radial = 1 + d[0] * r2 + d[1] * r2**2 + d[4] * r2**3
    xd = x * radial + 2 * d[2] * x * y + d[3] * (r2 + 2 * x * x)
    yd = y * radial + d[2] * (r2 + 2 * y * y) + 2 * d[3] * x * y
    return np.stack([K[0, 0] * xd + K[0, 1] * yd + K[0, 2], K[1, 1] * yd + K[1, 2]], -1)


def make_record(frames=50, views=3, seed=0, distortion=False, action="walk", subject="S1"):
    rng = np.random.default_rng(seed)
    f = np.arange(frames)[:, None]
    joints = np.broadcast_to(STAND, (frames, 17, 3)).copy()
    joints[..., 1] += 0.03 * f
    joints[..., 0] += 0.1 * np.sin(f / 4) * (np.arange(17) > 10)
    rig = make_rig("random", joints, views, rng, distortion=distortion)
    xc = np.einsum("vtij,tkj->vtki", rig.R, joints) + rig.t[:, :, None]
    clean = np.stack([opencv_project(xc[v], rig.K[v], rig.dist[v]) for v in range(views)])
    conf = rng.uniform(0.5, 1, clean.shape[:-1] + (1,))
    return SequenceRecord(
        subject=subject, action=action, take=f"{action}_{subject}_{seed}", fps=50.0,
        pose2d=np.concatenate([clean, conf], -1), K=rig.K, R=rig.R, t=rig.t,
        image_size=rig.image_size, pose3d_world=joints, pose2d_clean=clean, dist=rig.dist,
    )


def test_window_indices():
    w = window_indices(100, 27, 9)
    assert w.shape == ((100 - 27) // 9 + 1, 27)
    assert (w[:, 0] == np.arange(0, 74, 9)).all() and (np.diff(w, axis=1) == 1).all()
    tail = window_indices(100, 27, 9, cover_tail=True)
    assert tail[-1, -1] == 99 and len(tail) == len(w) + 1
    short = window_indices(10, 27, 9)
    assert short.shape == (1, 27) and short.min() == 0 and short.max() == 9
    assert (np.diff(short[0]) >= 0).all() and set(short[0]) == set(range(10))
    assert window_indices(27, 27, 5).shape == (1, 27)
    with pytest.raises(ValueError, match="stride"):
        window_indices(10, 5, 0)


def test_record_validation_and_views():
    rec = make_record()
    assert (rec.num_views, rec.num_frames, rec.num_joints) == (3, 50, 17)
    xc = rec.pose3d_camera()
    assert np.allclose(opencv_project(xc[1], rec.K[1], rec.dist[1]), rec.pose2d_clean[1])
    sub = rec.select_views([2, 0])
    assert np.array_equal(sub.K[0], rec.K[2]) and sub.view_names == ("cam2", "cam0")
    with pytest.raises(ValueError, match=r"R must have shape \(3, 50, 3, 3\)"):
        SequenceRecord("S1", "a", "x", 50.0, rec.pose2d, rec.K, rec.R[:, :5], rec.t, rec.image_size)
    bad = rec.pose2d.copy()
    bad[0, 3, 2, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        SequenceRecord("S1", "a", "x", 50.0, bad, rec.K, rec.R, rec.t, rec.image_size)
    with pytest.raises(ValueError, match="views must index"):
        rec.select_views([3])


def test_group_synchronized_roundtrip():
    rec = make_record()
    singles = [rec.select_views([v]) for v in range(3)]
    (merged,) = group_synchronized(singles)
    assert np.array_equal(merged.pose2d, rec.pose2d) and np.array_equal(merged.R, rec.R)
    other = make_record(frames=40).select_views([0])
    with pytest.raises(ValueError, match="disagree"):
        group_synchronized([singles[0], other])


def test_single_view_clips_match_geometry():
    rec = make_record(frames=60, views=2)
    arr = build_clips([rec], frames=27, stride=9)
    windows = window_indices(60, 27, 9)
    n = len(windows)
    assert arr["input"].shape == (2 * n, 27, 17, 3) and arr["factor"].shape == (2 * n, 27)
    # sample order: window-major, then camera
    inp = normalise_width(rec.pose2d[1][windows[2]], rec.image_size[1])
    assert np.allclose(arr["input"][2 * 2 + 1], inp, atol=1e-5)
    xc = rec.pose3d_camera()[1][windows[2]] * 1000
    mm = arr["target"][5].astype(np.float64) * arr["factor"][5][:, None, None]
    rel = xc - xc[:, :1]
    assert np.allclose(arr["target_mm"][5], rel, atol=1e-2)
    assert np.allclose(mm[..., 2], rel[..., 2], atol=1e-2)  # depth: exact
    # x, y: the documented weak-perspective error X·(Z_root − Z)/Z (per joint)
    expected = xc[..., :2] * (xc[:, :1, 2:] - xc[..., 2:]) / xc[..., 2:]
    assert np.allclose(mm[..., :2] - rel[..., :2], expected, atol=0.05)
    assert (arr["target"][:, :, 0] == 0).all()
    assert arr["valid"].all() and arr["image_size"].dtype == np.int64


def test_crop_normalisation_is_the_same_geometry():
    rec = make_record(frames=30, views=2)
    a = build_clips([rec], 27, 27)
    b = build_clips([rec], 27, 27, normalisation="crop")
    assert np.allclose(a["target"] * a["factor"][..., None, None],
                       b["target"] * b["factor"][..., None, None], rtol=1e-4, atol=1e-2)
    xy = b["input"][..., :2]
    assert xy.min() >= -1.0 and xy.max() <= 1.0 and xy.max() > 0.7
    assert np.allclose(b["input"][..., 2], a["input"][..., 2])
    with pytest.raises(ValueError, match="normalisation"):
        build_clips([rec], 27, 27, normalisation="height")


def test_multi_view_clips_and_groups():
    rec = make_record(frames=40, views=4)
    assert view_groups(4, 2) == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    arr = build_clips([rec], 27, 13, views=2)
    n = len(window_indices(40, 27, 13)) * 6
    assert arr["input"].shape == (n, 2, 27, 17, 3) and arr["R"].shape == (n, 2, 27, 3, 3)
    assert arr["pose3d_world"].shape == (n, 27, 17, 3) and arr["K"].shape == (n, 2, 3, 3)
    single = build_clips([rec], 27, 13)
    # sample (window 0, group (1, 3)) view 1 is camera 3 of window 0
    assert np.allclose(arr["input"][4, 1], single["input"][3])
    with pytest.raises(ValueError, match="views must be in"):
        build_clips([rec], 27, 13, views=5)


def _batch(views, distortion=False):
    recs = [make_record(frames=30, views=3, seed=s, distortion=distortion) for s in range(2)]
    ds = ClipDataset(build_clips(recs, 27, 3, views=views))
    return ds.__getitems__(list(range(len(ds))))


@pytest.mark.parametrize("views", [1, 2])
def test_flip_twice_is_identity(views):
    batch = _batch(views, distortion=True)
    mask = torch.arange(len(batch["index"])) % 3 != 0
    once = flip_batch(batch, mask)
    twice = flip_batch(once, mask)
    assert not torch.allclose(once["input"], batch["input"])
    for k in batch:
        assert torch.allclose(twice[k].double(), batch[k].double(), atol=1e-4), k
    assert torch.equal(once["input"][~mask], batch["input"][~mask])


def test_flipped_multi_view_sample_is_consistent():
    batch = _batch(3, distortion=True)
    flipped = flip_batch(batch, torch.ones(len(batch["index"]), dtype=torch.bool))
    fb = {k: v.double().numpy() for k, v in flipped.items()}
    for b in (0, 3):
        for v in range(3):
            xc = np.einsum("tij,tkj->tki", fb["R"][b, v], fb["pose3d_world"][b])
            xc = xc + fb["t"][b, v][:, None]
            px = opencv_project(xc, fb["K"][b, v], fb["dist"][b, v])
            assert np.allclose(px, fb["pose2d_px"][b, v, ..., :2], atol=1e-2)
            # the flipped target is the 2.5D of the flipped camera-frame pose
            rel = (xc - xc[:, :1]) * 1000
            assert np.allclose(fb["target_mm"][b, v], rel, atol=0.05)
            w = fb["image_size"][b, v]
            norm = normalise_width(fb["pose2d_px"][b, v], w)
            assert np.allclose(norm, fb["input"][b, v], atol=1e-5)
    assert np.allclose(np.linalg.det(fb["R"]), 1.0, atol=1e-5)


def test_dataset_batches_and_loader():
    recs = [make_record(frames=40, seed=s, action=a) for s, a in enumerate(["walk", "run"])]
    arr = build_clips(recs, 27, 4, action_names=["run", "walk"])
    ds = ClipDataset(arr, flip=True, seed=3)
    loader = clip_loader(ds, batch_size=8, shuffle=True, seed=1)
    seen, flips = [], 0
    for batch in loader:
        assert batch["input"].shape[1:] == (27, 17, 3) and batch["input"].dtype == torch.float32
        assert batch["index"].dtype == torch.int64 and batch["valid"].dtype == torch.bool
        ref = torch.from_numpy(arr["input"][batch["index"].numpy()])
        flips += int((~torch.isclose(batch["input"], ref).all(dim=(1, 2, 3))).sum())
        seen.append(batch["index"])
        assert set(batch["action"].tolist()) <= {0, 1}
    idx = torch.cat(seen)
    assert sorted(idx.tolist()) == list(range(len(ds)))
    assert 0 < flips < len(ds)
    again = torch.cat([b["index"] for b in clip_loader(ds, 8, shuffle=True, seed=1)])
    assert torch.equal(idx, again)
    assert ds[3]["input"].shape == (27, 17, 3)


def test_root_behind_a_camera_is_an_error():
    rec = make_record(frames=30, views=2)
    rec.t[1, 10, 2] = -50.0
    with pytest.raises(ValueError, match="behind camera"):
        build_clips([rec], 27, 9)
