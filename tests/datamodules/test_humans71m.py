import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from liftbench.datamodules.humans71m.universal import (
    REF_JOINTS,
    key_frame,
    merge,
    shoulder_torso,
    universal_references,
    universal_transform,
)
from liftbench.datamodules.real.reader_helpers import project_views
from liftbench.datamodules.records import SequenceRecord
from liftbench.datamodules.registry import create_datamodule
from tests.datamodules.real_helpers import intrinsics, motion_m, ring


def _average_person(world, ratio=0.8):
    """Pelvis moved onto the shoulders' perpendicular bisector at width/ratio below their
    midpoint: every frame then has exactly the dataset-average proportions, the case in which
    the paper's key-frame fit is exact."""
    w = world.copy()
    ls, rs = w[:, 11], w[:, 14]
    mid, u = (ls + rs) / 2, (ls - rs) / np.linalg.norm(ls - rs, axis=-1, keepdims=True)
    d = w[:, 0] - mid
    d -= (d * u).sum(-1, keepdims=True) * u
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    w[:, 0] = mid + d * np.linalg.norm(ls - rs, axis=-1, keepdims=True) / ratio
    return w


def _similarity(rng):
    return (float(rng.uniform(0.5, 2.0)), Rotation.random(random_state=rng).as_matrix(),
            rng.normal(size=3) * 3)


def _record(world, take, cams):
    n = len(world)
    K = np.stack([intrinsics(1000, 1000, 1000)] * len(cams))
    R = np.broadcast_to(np.stack([c[0] for c in cams])[:, None], (len(cams), n, 3, 3))
    t = np.broadcast_to(np.stack([c[1] for c in cams])[:, None], (len(cams), n, 3))
    size = np.array([[1000, 1000]] * len(cams))
    pose2d, clean, valid = project_views(world, K, R, t, size)
    return SequenceRecord(subject="S1", action="walk", take=take, fps=50.0, pose2d=pose2d,
                          K=K, R=R, t=t, image_size=size, pose3d_world=world,
                          pose2d_clean=clean, valid=valid)


def test_key_frame_is_centre_of_largest_cluster():
    rng = np.random.default_rng(0)
    a, b, c = motion_m("walk", 1)[0], motion_m("kick", 40)[39], motion_m("crawl", 1)[0]
    poses = np.concatenate([
        a + rng.normal(scale=0.01, size=(12, 17, 3)), b + rng.normal(scale=0.01, size=(6, 17, 3)),
        c + rng.normal(scale=0.01, size=(4, 17, 3))])
    poses[7] = a  # the cluster centre itself
    assert key_frame(poses) == 7
    s, R, t = _similarity(rng)
    assert key_frame(s * poses @ R.T + t) == 7  # invariant to similarity transforms
    poses[3] = np.nan
    assert key_frame(poses) == 7


def test_references_and_exact_fit():
    refs = universal_references(0.8)
    np.testing.assert_allclose(refs, [[-1, 0, 3], [1, 0, 3], [0, 0, 0.5]])
    key = _average_person(motion_m("walk", 1), ratio=0.7)[0]
    w, d = shoulder_torso(key)
    assert np.isclose(w / d, 0.7)
    refs = universal_references(0.7)
    rng = np.random.default_rng(1)
    s0, R0, t0 = _similarity(rng)
    moved = s0 * key @ R0.T + t0
    s, R, t = universal_transform(moved, refs)
    np.testing.assert_allclose(s * moved[list(REF_JOINTS)] @ R.T + t, refs, atol=1e-6)
    assert np.isclose(np.linalg.det(R), 1.0)


def test_sources_under_random_similarities_land_on_references():
    rng = np.random.default_rng(2)
    world = _average_person(motion_m("walk", 30))
    cams = ring(2, 5.0)
    sources = {}
    for name in ("a", "b", "c"):
        s, R, t = _similarity(rng)
        moved = s * world @ R.T + t
        # the cameras move with the world, so the 2D is the same in every source
        cam_moved = [(Rc @ R.T, s * tc - Rc @ R.T @ t) for Rc, tc in cams]
        sources[name] = [_record(moved, "walk_S1", cam_moved)]
    merged, info = merge(sources)
    assert np.isclose(info["ratio"], 0.8)
    assert [r.take for r in merged] == ["a/walk_S1", "b/walk_S1", "c/walk_S1"]
    assert {r.labels["source"] for r in merged} == {"a", "b", "c"}
    k = key_frame(world)
    refs_m = np.asarray(info["references"]) * info["unit_m"]
    for rec in merged:
        np.testing.assert_allclose(rec.pose3d_world[k][list(REF_JOINTS)], refs_m, atol=1e-6)
        np.testing.assert_allclose(rec.pose3d_world, merged[0].pose3d_world, atol=1e-6)
        # cameras follow: re-projection of the merged world equals the stored 2D
        p2, _, _ = project_views(rec.pose3d_world, rec.K, rec.R, rec.t, rec.image_size)
        np.testing.assert_allclose(p2[..., :2], rec.pose2d[..., :2], atol=1e-6)
    # the unit is half the mean shoulder width over all sources
    w = np.concatenate([shoulder_torso(r[0].pose3d_world)[0] for r in sources.values()])
    assert np.isclose(info["unit_m"], w.mean() / 2)
    assert (merged[0].pose3d_world[:, 11, 2] > merged[0].pose3d_world[:, 0, 2]).all()  # z up


def test_merge_rejects_empty():
    with pytest.raises(ValueError, match="at least one record"):
        merge({"a": []})


def test_humans71m_datamodule_over_registered_sources(tmp_path):
    from tests.datamodules.test_aist import _write as write_aist
    from tests.datamodules.test_aspset import _write_release
    _write_release(tmp_path / "asp", [("1e28", "train"), ("4d9e", "test")])
    write_aist(tmp_path / "aist")
    dm = create_datamodule(
        "humans71m", sources={"aspset": {"root": str(tmp_path / "asp")},
                              "aist": {"root": str(tmp_path / "aist")}},
        frames=9, batch_size=64, cache_dir=tmp_path / "cache")
    dm.setup()
    assert dm.source_names == ["aist", "aspset"]
    assert "aspset/1e28-0001" in dm.takes["train"] and "aist/gHO_sBM_cAll_d20_mHO1_ch02" in \
        dm.takes["val"]
    assert set(dm.takes["test"]) == {"aspset/4d9e-0001", "aspset/4d9e-0002",
                                     "aist/gJB_sFM_cAll_d07_mJB3_ch05"}
    batch = next(iter(dm.test_dataloader()))
    assert set(batch["source"].tolist()) == {0, 1}
    assert "sources" in dm.protocol()
    with pytest.raises(ValueError, match="sources.*is required"):
        create_datamodule("humans71m")
