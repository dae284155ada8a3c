"""WorldPose reader (Jiang et al., ECCV 2024): `cameras/<SEQ>.npz` + `poses/<SEQ>.npz` + SMPL.

- `cameras/<SEQ>.npz`: per frame `K (T, 3, 3)`, `R (T, 3, 3)`, `t (T, 3)` (world→camera, m),
  `k (T, 5)` (k1, k2, p1, p2, k3) of the moving broadcast camera; images 1920×1080, 50 fps.
- `poses/<SEQ>.npz`: per player SMPL parameters `global_orient (N, T, 3)`, `body_pose
  (N, T, 69)` (the README's `global_orients` / `body_poses` also accepted), `transl (N, T, 3)`
  m, `betas (N, 10)` or `(N, T, 10)`; NaN where a player is not visible.

Joints come from the user's SMPL model file (neutral `.npz` with `v_template`, `shapedirs`,
`J_regressor`, `kintree_table`, as distributed for smplx; the licence forbids shipping it):
rest joints `J = J_regressor · (v_template + shapedirs · betas)`, then forward kinematics of
the 24 joint rotations plus `transl` (what `smplx` returns as `joints[:24]`), then WorldPose's
SMPL-24 → H36M-17 map. A player's visible runs become takes.

The camera zooms (per-frame K) and has per-frame distortion, which a record cannot hold; the
records use, per take, a virtual camera with the same centre and orientation, the median K and
no distortion: `pose2d` is the undistorted 2D in that frame (exact for the 3D↔2D relation).
Joints are valid where their real (distorted) projection lies in the 1920×1080 image.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from liftbench.datamodules.real.reader_helpers import check_person_scale, finite_segments
from liftbench.datamodules.records import SequenceRecord
from liftbench.datamodules.safe_pickle import load_npz
from liftbench.geometry.cameras import distort_normalized
from liftbench.geometry.skeletons import SMPL24, convert

FPS = 50.0
IMAGE_SIZE = (1920, 1080)


class SMPLJoints:
    """The 24 SMPL joints from shape and pose (no mesh skinning needed for joints).

    Args:
        path: SMPL model `.npz` (`v_template (V, 3)`, `shapedirs (V, 3, B)`, `J_regressor
            (24, V)`, `kintree_table (2, 24)`).
    """

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        self.path = path
        if path.suffix != ".npz":
            raise ValueError(f"{path}: give the SMPL model as .npz (the .pkl release holds "
                             "chumpy objects, which are not loaded)")
        m = load_npz(path)
        try:
            v, dirs, reg = m["v_template"], m["shapedirs"], m["J_regressor"]
        except KeyError as exc:
            raise ValueError(f"{path}: SMPL model lacks {exc}") from None
        if reg.shape != (24, len(v)) or dirs.shape[:2] != v.shape:
            raise ValueError(f"{path}: J_regressor must be (24, V) and shapedirs (V, 3, B) for "
                             f"v_template {v.shape}; got {reg.shape}, {dirs.shape}")
        self.j_template = reg @ v  # (24, 3)
        self.j_dirs = np.einsum("jv,vcb->jcb", reg, dirs)  # (24, 3, B)
        if "kintree_table" in m:
            parents = np.asarray(m["kintree_table"])[0].astype(np.int64)
            parents[0] = -1
            if tuple(parents) != SMPL24.parents:
                raise ValueError(f"{path}: kintree_table is not the SMPL-24 tree")

    def __call__(self, betas: np.ndarray, pose: np.ndarray, transl: np.ndarray) -> np.ndarray:
        """Joints `(T, 24, 3)` in metres (the model's unit) plus `transl`.

        Args:
            betas: `(T, B')` shape coefficients (the first min(B', B) are used).
            pose: `(T, 72)` axis-angle rotations (global orient + 23 body joints), radians.
            transl: `(T, 3)` root translation, metres.
        """
        b = min(betas.shape[-1], self.j_dirs.shape[-1])
        rest = self.j_template + np.einsum("jcb,tb->tjc", self.j_dirs[..., :b], betas[..., :b])
        rot = Rotation.from_rotvec(pose.reshape(-1, 3)).as_matrix().reshape(len(pose), 24, 3, 3)
        glob_r = np.empty_like(rot)
        glob_p = np.empty_like(rest)
        for j, p in enumerate(SMPL24.parents):
            if p < 0:
                glob_r[:, j], glob_p[:, j] = rot[:, j], rest[:, j]
            else:
                glob_r[:, j] = glob_r[:, p] @ rot[:, j]
                glob_p[:, j] = glob_p[:, p] + np.einsum(
                    "tij,tj->ti", glob_r[:, p], rest[:, j] - rest[:, p])
        return glob_p + transl[:, None]


def _pick(d: dict, names: tuple[str, ...], path: Path) -> np.ndarray:
    for n in names:
        if n in d:
            return np.asarray(d[n], dtype=np.float64)
    raise ValueError(f"{path}: missing {' / '.join(names)} (keys: {sorted(d)})")


def read_sequence(root: Path, seq: str, smpl: SMPLJoints,
                  min_frames: int = 1) -> Iterator[SequenceRecord]:
    """Every visible run of every player of one sequence."""
    cpath, ppath = root / "cameras" / f"{seq}.npz", root / "poses" / f"{seq}.npz"
    cam, pose = load_npz(cpath), load_npz(ppath)
    K, R, t = (_pick(cam, (k,), cpath) for k in ("K", "R", "t"))
    dist = _pick(cam, ("k",), cpath) if "k" in cam else np.zeros((len(K), 5))
    n_frames = len(K)
    if R.shape != (n_frames, 3, 3) or t.shape != (n_frames, 3) or dist.shape != (n_frames, 5):
        raise ValueError(f"{cpath}: K, R must be (T, 3, 3), t (T, 3), k (T, 5); got "
                         f"{K.shape}, {R.shape}, {t.shape}, {dist.shape}")
    go = _pick(pose, ("global_orient", "global_orients"), ppath)
    bp = _pick(pose, ("body_pose", "body_poses"), ppath)
    tr = _pick(pose, ("transl",), ppath)
    betas = _pick(pose, ("betas",), ppath)
    players = len(tr)
    if go.shape != (players, n_frames, 3) or bp.shape != (players, n_frames, 69) \
            or tr.shape != (players, n_frames, 3):
        raise ValueError(f"{ppath}: global_orient (N, T, 3), body_pose (N, T, 69), transl "
                         f"(N, T, 3) with T = {n_frames} camera frames; got {go.shape}, "
                         f"{bp.shape}, {tr.shape}")
    if betas.ndim == 2:
        betas = np.repeat(betas[:, None], n_frames, 1)
    for p in range(players):
        full = np.concatenate([go[p], bp[p]], -1)
        ok = np.isfinite(full).all(-1) & np.isfinite(tr[p]).all(-1)
        for a, b in finite_segments(ok, min_frames):
            s = slice(a, b)
            smpl24 = smpl(betas[p, s], full[s], tr[p, s])
            world = convert(smpl24, "smpl24", "h36m17")
            check_person_scale(world, f"{ppath} (SMPL model {smpl.path})")
            yield _record(seq, p, a, world, K[s], R[s], t[s], dist[s])


def _record(seq: str, player: int, start: int, world: np.ndarray, K: np.ndarray,
            R: np.ndarray, t: np.ndarray, dist: np.ndarray) -> SequenceRecord:
    x_cam = np.einsum("tij,tkj->tki", R, world) + t[:, None]
    front = x_cam[..., 2] > 0
    xy = x_cam[..., :2] / np.where(front, x_cam[..., 2], 1.0)[..., None]
    K0 = np.median(K, axis=0)
    uv0 = xy @ K0[:2, :2].T + K0[:2, 2]
    real = np.asarray(distort_normalized(xy, dist[:, None])) @ np.swapaxes(K[:, :2, :2], 1, 2) \
        + K[:, None, :2, 2]
    inside = front & (real >= 0).all(-1) & (real <= np.array(IMAGE_SIZE)).all(-1)
    pose2d = np.concatenate([uv0, np.ones(uv0.shape[:-1] + (1,))], -1)
    return SequenceRecord(
        subject=seq, action=seq, take=f"{seq}_p{player:02d}_{start:06d}", fps=FPS,
        pose2d=pose2d[None], K=K0[None], R=R[None], t=t[None],
        image_size=np.array([IMAGE_SIZE]), pose3d_world=world, pose2d_clean=uv0[None],
        valid=inside[None], view_names=("broadcast",), labels={"player": str(player)},
    )


def list_sequences(root: Path) -> list[str]:
    """Sequence names that have both a camera and a pose file."""
    if not (root / "poses").is_dir():
        raise FileNotFoundError(f"{root}: no poses/ folder (expected the WorldPose release)")
    return sorted(p.stem for p in (root / "poses").glob("*.npz")
                  if (root / "cameras" / p.name).is_file())


def read_worldpose(root: str | Path, smpl_model: str | Path,
                   min_frames: int = 1) -> Iterator[SequenceRecord]:
    """Every player run of every sequence."""
    root = Path(root)
    smpl = SMPLJoints(smpl_model)
    for seq in list_sequences(root):
        yield from read_sequence(root, seq, smpl, min_frames)
