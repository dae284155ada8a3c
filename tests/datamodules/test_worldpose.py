import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from liftbench.datamodules.registry import create_datamodule
from liftbench.datamodules.worldpose.reader import SMPLJoints, read_worldpose
from liftbench.geometry.skeletons import SMPL24, convert
from tests.datamodules.real_helpers import look_at

SEQ = "ARG_CRO_221657"


def _smpl_model(path, verts=60, betas=10, unit=1.0):
    """A tiny model in the SMPL .npz layout: J_regressor rows average vertices near a
    T-pose skeleton, so the rest joints are human-sized."""
    rng = np.random.default_rng(0)
    offsets = np.array([[0, 0, 0], [.06, -.09, 0], [-.06, -.09, 0], [0, .11, 0], [0, -.38, 0],
                        [0, -.38, 0], [0, .13, 0], [0, -.4, 0], [0, -.4, 0], [0, .05, 0],
                        [0, -.05, .12], [0, -.05, .12], [0, .21, 0], [.08, .12, 0],
                        [-.08, .12, 0], [0, .09, .05], [.09, .03, 0], [-.09, .03, 0],
                        [.26, 0, 0], [-.26, 0, 0], [.25, 0, 0], [-.25, 0, 0], [.08, 0, 0],
                        [-.08, 0, 0]])
    joints = np.zeros((24, 3))
    for j, p in enumerate(SMPL24.parents):
        joints[j] = offsets[j] + (joints[p] if p >= 0 else [0, 0.9, 0])
    owner = np.arange(verts) % 24
    v = joints[owner] + rng.normal(scale=0.01, size=(verts, 3))
    reg = np.zeros((24, verts))
    reg[owner, np.arange(verts)] = 1
    reg /= reg.sum(1, keepdims=True)
    v = v * unit
    np.savez(path, v_template=v, shapedirs=rng.normal(scale=0.005, size=(verts, 3, betas)),
             J_regressor=reg, kintree_table=np.stack([[4294967295] + list(SMPL24.parents[1:]),
                                                      np.arange(24)]), f=np.zeros((1, 3)))
    return v, reg


def _fk(v, reg, dirs, betas, pose, transl):
    """Independent SMPL joint FK with 4x4 homogeneous transforms."""
    rest = reg @ (v + dirs @ betas)
    out = []
    for f in range(len(pose)):
        G = []
        for j, p in enumerate(SMPL24.parents):
            T = np.eye(4)
            T[:3, :3] = Rotation.from_rotvec(pose[f, 3 * j: 3 * j + 3]).as_matrix()
            T[:3, 3] = rest[j] - (rest[p] if p >= 0 else 0)
            G.append(T if p < 0 else G[p] @ T)
        out.append(np.stack([g[:3, 3] for g in G]) + transl[f])
    return np.stack(out)


def _write(root, model, frames=12, players=2, unit=1.0, key="global_orient"):
    rng = np.random.default_rng(3)
    (root / "cameras").mkdir(parents=True)
    (root / "poses").mkdir()
    pos = np.array([0.0, -60.0, 18.0])
    K, R, t = [], [], []
    for f in range(frames):
        Rf, tf = look_at(pos, (5 * np.sin(f / 5), 0, 0), (0, 0, 1))
        zoom = 3000 + 80 * f
        K.append([[zoom, 0, 960 + f], [0, zoom, 540 - f], [0, 0, 1]])
        R.append(Rf)
        t.append(tf)
    k = np.tile([[-0.05, 0.01, 0.0002, -0.0001, 0.0]], (frames, 1))
    np.savez(root / "cameras" / f"{SEQ}.npz", K=np.array(K), R=np.array(R), t=np.array(t), k=k)
    go = np.concatenate([np.tile([[np.pi / 2, 0, 0]], (frames, 1))[None]] * players)
    go = go + rng.normal(scale=0.05, size=go.shape)
    bp = rng.normal(scale=0.2, size=(players, frames, 69))
    tr = np.stack([np.stack([np.linspace(-5, 5, frames) + 3 * p, np.full(frames, 2.0 * p),
                             np.full(frames, 0.95)], -1) for p in range(players)])
    betas = rng.normal(size=(players, 10))
    tr[1, 4:6] = np.nan  # player 1 not visible in frames 4-5
    np.savez(root / "poses" / f"{SEQ}.npz", **{key: go, "body_pose": bp, "transl": tr * unit,
                                               "betas": betas})
    return np.array(K), np.array(R), np.array(t), go, bp, tr, betas


def test_reader_recovers_ground_truth(tmp_path):
    v, reg = _smpl_model(tmp_path / "SMPL_NEUTRAL.npz")
    dirs = np.load(tmp_path / "SMPL_NEUTRAL.npz")["shapedirs"]
    K, R, t, go, bp, tr, betas = _write(tmp_path / "WorldPose", tmp_path / "SMPL_NEUTRAL.npz")
    recs = list(read_worldpose(tmp_path / "WorldPose", tmp_path / "SMPL_NEUTRAL.npz"))
    assert [r.take for r in recs] == [f"{SEQ}_p00_000000", f"{SEQ}_p01_000000",
                                      f"{SEQ}_p01_000006"]
    rec = recs[2]
    pose = np.concatenate([go[1], bp[1]], -1)[6:]
    smpl = _fk(v, reg, dirs, betas[1], pose, tr[1, 6:])
    np.testing.assert_allclose(rec.pose3d_world, convert(smpl, "smpl24", "h36m17"), atol=1e-9)
    xc = np.einsum("tij,tkj->tki", R[6:], rec.pose3d_world) + t[6:, None]
    K0 = np.median(K[6:], 0)
    uv = xc[..., :2] / xc[..., 2:] * [K0[0, 0], K0[1, 1]] + K0[:2, 2]
    np.testing.assert_allclose(rec.pose2d[0, ..., :2], uv, atol=1e-6)
    assert rec.valid.all() and rec.view_names == ("broadcast",)


def test_readme_key_names_and_datamodule(tmp_path):
    _smpl_model(tmp_path / "m.npz")
    _write(tmp_path / "WP", tmp_path / "m.npz", key="global_orients")
    dm = create_datamodule("worldpose", root=tmp_path / "WP", smpl_model=tmp_path / "m.npz",
                           subjects={"train": [SEQ], "test": [SEQ]}, frames=5,
                           cache_dir=tmp_path / "cache")
    dm.setup()
    assert len(dm.takes["test"]) == 3
    kas = create_datamodule("worldpose", root=tmp_path / "WP", smpl_model=tmp_path / "m.npz",
                            cache_dir=tmp_path / "cache")
    with pytest.raises(ValueError, match="no train takes"):
        kas.setup()  # the only sequence is a KASportsFormer test game


def test_bad_inputs(tmp_path):
    _smpl_model(tmp_path / "m.npz")
    _smpl_model(tmp_path / "smpl_mm.npz", unit=1000.0)  # a model exported in millimetres
    _write(tmp_path / "mm", tmp_path / "m.npz")
    with pytest.raises(ValueError, match=rf"{SEQ}\.npz.*factor 1000"):
        list(read_worldpose(tmp_path / "mm", tmp_path / "smpl_mm.npz"))
    with pytest.raises(ValueError, match=r"\.pkl.*chumpy"):
        SMPLJoints(tmp_path / "SMPL.pkl")
    with pytest.raises(ValueError, match="smpl_model.*is required"):
        create_datamodule("worldpose", root=tmp_path / "mm")
    np.savez(tmp_path / "mm/poses" / f"{SEQ}.npz", transl=np.zeros((2, 12, 3)))
    with pytest.raises(ValueError, match="global_orient / global_orients"):
        list(read_worldpose(tmp_path / "mm", tmp_path / "m.npz"))
