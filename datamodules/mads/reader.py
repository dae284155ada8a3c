"""MADS multi-view reader (Zhang et al., IVC 2017): `multi_view_data/<Action>/`.

```
<Action>_<Seq>_GT.mat      GTpose2: (1, T) cell of (J, 3) world joints, mm; J = 19 (or 15);
                           all-NaN rows = frames without ground truth
Calib_Cam{0,1,2}.mat       Bouguet calibration: KK (3×3), kc (5, OpenCV order), om_ext
                           (Rodrigues, world→camera), T_ext (mm)
<Action>_<Seq>_C{0,1,2}.avi
```

Joints: PosePile's 19-joint order (`geometry.skeletons.MADS19`; the 15-joint subset for
sequences with J = 15) → H36M-17. Frames without ground truth split a take. Not stated by any
source: the frame rate and the image size (parameters; defaults 30 fps, 1024×768), and the
subjects (MADS file names carry none: the action stands in as the subject).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from liftbench.datamodules.real.reader_helpers import (
    check_person_scale,
    finite_segments,
    project_views,
    slice_record,
)
from liftbench.datamodules.records import SequenceRecord
from liftbench.geometry.skeletons import convert

ACTIONS = ("Taichi", "Kata", "Jazz", "HipHop", "Sports")


def data_root(root: Path) -> Path:
    """The `multi_view_data` folder under (or at) `root`."""
    for cand in (root / "multi_view_data", root / "MADS" / "multi_view_data", root):
        if cand.is_dir() and any((cand / a).is_dir() for a in ACTIONS):
            return cand
    raise FileNotFoundError(f"{root}: no MADS multi_view_data/<Action>/ folders "
                            f"(actions {', '.join(ACTIONS)})")


def load_calib(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`(K, R, t (m), dist)` of one `Calib_Cam<i>.mat`."""
    from scipy.io import loadmat

    if not path.is_file():
        raise FileNotFoundError(f"MADS calibration {path} not found")
    m = loadmat(path)
    try:
        K = np.asarray(m["KK"], float).reshape(3, 3)
        om = np.asarray(m["om_ext"], float).reshape(3)
        T = np.asarray(m["T_ext"], float).reshape(3)
    except KeyError as exc:
        raise ValueError(f"{path}: missing Bouguet key {exc} (need KK, om_ext, T_ext)") from None
    dist = np.zeros(5)
    kc = np.asarray(m.get("kc", np.zeros(5)), float).reshape(-1)[:5]
    dist[: kc.size] = kc
    return K, Rotation.from_rotvec(om).as_matrix(), T / 1000.0, dist


def load_gt(path: Path) -> np.ndarray:
    """`(T, J, 3)` world joints in metres (NaN where a frame has no ground truth)."""
    from scipy.io import loadmat

    if not path.is_file():
        raise FileNotFoundError(f"MADS ground truth {path} not found")
    cells = loadmat(path)["GTpose2"].reshape(-1)
    sizes = {np.asarray(c).shape for c in cells if np.asarray(c).size}
    joints = {s[0] for s in sizes}
    if len(joints) != 1 or joints - {15, 19} or any(s[1:] != (3,) for s in sizes):
        raise ValueError(f"{path}: GTpose2 frames must all be (19, 3) or all (15, 3) mm; found "
                         f"{sorted(sizes)} (mixed joint sets?)")
    (j,) = joints
    out = np.full((len(cells), j, 3), np.nan)
    for i, c in enumerate(cells):
        if np.asarray(c).size:
            out[i] = np.asarray(c, float)
    return out / 1000.0


def read_sequence(action_dir: Path, gt: Path, fps: float,
                  image_size: tuple[int, int]) -> list[SequenceRecord]:
    """One `<Action>_<Seq>` as records of its 3 views (split at frames without ground truth)."""
    pts = load_gt(gt)
    src = "mads" if pts.shape[1] == 19 else "mads15"
    world = convert(pts, src, "h36m17")
    ok = np.isfinite(world).all(axis=(1, 2))
    if not ok.any():
        raise ValueError(f"{gt}: no frame with ground truth")
    check_person_scale(world[ok], gt)
    cams = [load_calib(action_dir / f"Calib_Cam{i}.mat") for i in range(3)]
    n = len(world)
    K = np.stack([c[0] for c in cams])
    R = np.broadcast_to(np.stack([c[1] for c in cams])[:, None], (3, n, 3, 3))
    t = np.broadcast_to(np.stack([c[2] for c in cams])[:, None], (3, n, 3))
    dist, size = np.stack([c[3] for c in cams]), np.array([image_size] * 3)
    safe = np.where(ok[:, None, None], world, 0.0)
    pose2d, clean, valid = project_views(safe, K, R, t, size, dist)
    seq = gt.name[: -len("_GT.mat")]
    rec = SequenceRecord(
        subject=action_dir.name, action=action_dir.name, take=seq, fps=fps, pose2d=pose2d,
        K=K, R=R, t=t, image_size=size, pose3d_world=safe, pose2d_clean=clean, dist=dist,
        valid=valid, view_names=("C0", "C1", "C2"),
    )
    segs = finite_segments(ok)
    return [rec] if segs == [(0, n)] else [slice_record(rec, a, b, f"{seq}#{a}") for a, b in segs]


def read_mads(root: str | Path, fps: float = 30.0,
              image_size: tuple[int, int] = (1024, 768)) -> Iterator[SequenceRecord]:
    """Every sequence of the multi-view package."""
    base = data_root(Path(root))
    for action in ACTIONS:
        for gt in sorted((base / action).glob("*_GT.mat")):
            yield from read_sequence(base / action, gt, fps, tuple(image_size))
