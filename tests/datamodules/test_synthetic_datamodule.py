import time

import numpy as np
import pytest
import torch

from liftbench.datamodules.registry import create_datamodule
from liftbench.datamodules.synthetic import capture
from liftbench.datamodules.synthetic.capture import capture_take, iter_takes, resolve_motions
from liftbench.datamodules.synthetic.datamodule import SyntheticDataModule

# batch of 8: the walk clip gives 15 training windows
SMALL = dict(motions=["walk", "run"], subjects=2, cameras=3, frames=27, batch_size=8)


def opencv_project(xc, K, d):
    x, y = xc[..., 0] / xc[..., 2], xc[..., 1] / xc[..., 2]
    r2 = x * x + y * y
    radial = 1 + d[0] * r2 + d[1] * r2**2 + d[4] * r2**3
    xd = x * radial + 2 * d[2] * x * y + d[3] * (r2 + 2 * x * x)
    yd = y * radial + d[2] * (r2 + 2 * y * y) + 2 * d[3] * x * y
    return np.stack([K[0, 0] * xd + K[0, 1] * yd + K[0, 2], K[1, 1] * yd + K[1, 2]], -1)


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    dm = SyntheticDataModule(**SMALL, cache_dir=tmp_path_factory.mktemp("cache"))
    dm.setup("fit")
    return dm


def test_resolve_motions():
    assert "walk" in resolve_motions("daily") and "kick" in resolve_motions("sports")
    every = resolve_motions("all")
    assert set(resolve_motions("daily")) | set(resolve_motions("sports")) == set(every)
    assert resolve_motions(["walk", "daily"])[0] == "walk"


def test_clean_capture_matches_projection():
    rec = next(iter_takes(["walk"], subjects=1, cameras=3, noise="clean", distortion=True))
    assert rec.labels["group"] == "daily" and rec.num_views == 3
    xc = rec.pose3d_camera()
    for v in range(3):
        ref = opencv_project(xc[v], rec.K[v], rec.dist[v])
        ok = rec.valid[v]
        assert np.abs(rec.pose2d_clean[v][ok] - ref[ok]).max() < 1e-6
        assert np.abs(rec.pose2d[v, ..., :2][ok] - ref[ok]).max() < 1e-3  # float32 storage
    assert rec.valid.mean() > 0.95


def test_camera_that_never_sees_the_person(monkeypatch):
    rec = next(iter_takes(["walk"], subjects=1, cameras=2, noise="clean"))
    real = capture.make_rig

    def outside(*args, **kwargs):  # camera 1 films next to the person, never at them
        rig = real(*args, **kwargs)
        rig.K[1, 0, 2] += 1e5
        return rig

    def turned(*args, **kwargs):  # camera 1 turned around: the person is behind it
        rig = real(*args, **kwargs)
        flip = np.diag([-1.0, 1.0, -1.0])
        rig.R[1] = flip @ rig.R[1]
        rig.t[1] = rig.t[1] @ flip.T
        return rig

    args = (rec.pose3d_world, 50.0, "walk", "S1", "x")
    monkeypatch.setattr(capture, "make_rig", outside)
    with pytest.raises(ValueError, match=r"camera\(s\) \['ring1'\] never see the person"):
        capture_take(*args, np.random.default_rng(0), cameras=2)
    monkeypatch.setattr(capture, "make_rig", turned)
    with pytest.raises(ValueError, match="behind a camera in every frame"):
        capture_take(*args, np.random.default_rng(0), cameras=2)


def test_frames_behind_a_camera_are_dropped(monkeypatch):
    rec = next(iter_takes(["walk"], subjects=1, cameras=2, noise="clean"))
    real = capture.make_rig

    def behind(*args, **kwargs):
        rig = real(*args, **kwargs)
        rig.t[0, :5, 2] = -100.0  # the person is behind camera 0 in the first 5 frames
        return rig

    monkeypatch.setattr(capture, "make_rig", behind)
    with pytest.warns(UserWarning, match="dropping 5 frames"):
        out = capture_take(rec.pose3d_world, 50.0, "walk", "S1", "x", np.random.default_rng(0),
                           cameras=2)
    assert out.num_frames == rec.num_frames - 5
    assert np.isfinite(out.pose2d).all()


def test_single_view_batches(single):
    batch = next(iter(single.train_dataloader()))
    b = SMALL["batch_size"]
    shapes = {k: tuple(v.shape) for k, v in batch.items()}
    assert shapes["input"] == (b, 27, 17, 3) and shapes["target"] == (b, 27, 17, 3)
    assert shapes["factor"] == (b, 27) and shapes["target_mm"] == (b, 27, 17, 3)
    assert shapes["valid"] == (b, 27, 17) and shapes["image_size"] == (b, 2)
    for key in ("action", "subject", "index"):
        assert shapes[key] == (b,) and batch[key].dtype == torch.int64
    assert batch["valid"].dtype == torch.bool
    for key in ("input", "target", "factor", "target_mm"):
        assert batch[key].dtype == torch.float32 and torch.isfinite(batch[key]).all()
    assert single.action_names == ["run", "walk"] and single.subject_names == ["S1", "S2"]
    assert (batch["factor"] > 0).all()
    # daily -> sports: train/val hold walk takes only, adapt/test run takes only
    assert all(t.startswith("walk") for t in single.takes["train"] + single.takes["val"])
    assert all(t.startswith("run") for t in single.takes["adapt"] + single.takes["test"])
    test_idx = torch.cat([b["index"] for b in single.test_dataloader()])
    assert sorted(test_idx.tolist()) == list(range(len(single.datasets["test"])))
    assert len(single.adapt_dataloader()) > 0 and len(single.val_dataloader()) > 0


def test_cache_and_determinism(single, tmp_path, monkeypatch):
    import liftbench.datamodules.synthetic.datamodule as dmod

    monkeypatch.setattr(dmod, "synthesize", lambda *a, **k: pytest.fail("cache not used"))
    t0 = time.perf_counter()
    again = SyntheticDataModule(**SMALL, cache_dir=single.cache_root)
    again.setup("fit")
    assert time.perf_counter() - t0 < 1.0
    assert again.cache_key == single.cache_key
    a, b = single.datasets["train"].arrays, again.datasets["train"].arrays
    assert all(np.array_equal(a[k], b[k]) for k in a)
    monkeypatch.undo()
    other = SyntheticDataModule(**{**SMALL, "seed": 1}, cache_dir=tmp_path)
    assert other.cache_key != single.cache_key
    other.setup()
    assert not np.array_equal(other.datasets["train"].arrays["input"][:5], a["input"][:5])


def test_multi_view_batches_are_consistent(tmp_path):
    dm = SyntheticDataModule(**{**SMALL, "views": 2, "noise": "clean"}, rig="panning",
                             cache_dir=tmp_path)
    batch = next(iter(dm.train_dataloader()))
    b = SMALL["batch_size"]
    assert batch["input"].shape == (b, 2, 27, 17, 3) and batch["factor"].shape == (b, 2, 27)
    assert batch["K"].shape == (b, 2, 3, 3) and batch["R"].shape == (b, 2, 27, 3, 3)
    assert batch["t"].shape == (b, 2, 27, 3) and batch["pose2d_px"].shape == (b, 2, 27, 17, 3)
    assert batch["pose3d_world"].shape == (b, 27, 17, 3) and batch["image_size"].shape == (b, 2, 2)
    assert batch["index"].shape == (b,)
    d = {k: v.double().numpy() for k, v in batch.items()}
    for i in range(b):  # includes flipped samples: still multi-view consistent
        for v in range(2):
            xc = np.einsum("tij,tkj->tki", d["R"][i, v], d["pose3d_world"][i])
            xc = xc + d["t"][i, v][:, None]
            px = opencv_project(xc, d["K"][i, v], d["dist"][i, v])
            ok = batch["valid"][i, v].numpy()
            assert np.abs(px - d["pose2d_px"][i, v, ..., :2])[ok].max() < 0.05


def test_random_split_registry_and_errors(tmp_path):
    dm = create_datamodule("synthetic", **{**SMALL, "split": "random"}, cache_dir=tmp_path)
    dm.setup()
    takes = dm.takes
    assert not set(takes["train"]) & set(takes["test"])
    assert not set(takes["val"]) & set(takes["test"])
    with pytest.raises(ValueError, match="split must be"):
        SyntheticDataModule(split="daily")
    with pytest.raises(ValueError, match="views <= cameras"):
        SyntheticDataModule(views=5, cameras=4)
    only_daily = SyntheticDataModule(motions=["walk"], subjects=1, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="no test takes"):
        only_daily.setup()


def test_loaders_shard_and_reshuffle(single):
    from liftbench.datamodules.sampling import ShardedBatchSampler

    train = single.train_dataloader()
    assert isinstance(train.sampler, ShardedBatchSampler) and train.sampler.shuffle
    assert isinstance(single.test_dataloader().sampler, ShardedBatchSampler)
    first = torch.cat([b["index"] for b in train])
    train.sampler.set_epoch(1)
    second = torch.cat([b["index"] for b in train])
    assert sorted(first.tolist()) == sorted(second.tolist()) and not torch.equal(first, second)
