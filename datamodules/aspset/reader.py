"""ASPset-510 reader (Nibali et al., IVC 2021): the official release tree.

```
<root>/splits.csv                                      subject,clip,split,camera (no header)
<root>/<trainval|test>/cameras/<subj>/<subj>-<cam>.json    intrinsic_matrix (3×4), extrinsic (4×4)
<root>/<trainval|test>/joints_3d/<subj>/<subj>-<clip>.c3d  (T, 17, 3) mm, aspset_17j, world
```

World = the left camera's frame (y down), millimetres; projection `K(3×4) · E(4×4) · X`, no
distortion; 3840×2160 video at 50 fps. Joints are converted to H36M-17 with SZucchini's
`asp_to_h36m` (pelvis = mid-hip). A clip's views are the cameras `splits.csv` names for it
(`all` = left, mid, right).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from liftbench.datamodules.aspset.c3d import read_c3d
from liftbench.datamodules.real.reader_helpers import check_person_scale, project_views
from liftbench.datamodules.records import SequenceRecord
from liftbench.geometry.skeletons import ASPSET17, convert

FPS = 50.0
IMAGE_SIZE = (3840, 2160)
CAMERAS = ("left", "mid", "right")
_UNIT_TO_M = {"mm": 1e-3, "cm": 1e-2, "m": 1.0}


def read_splits(root: Path) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """`(subject, clip, split, cameras)` of every clip of `splits.csv`.

    Rows of one clip that name single cameras are merged (in left, mid, right order).
    """
    path = root / "splits.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found (ASPset-510 common-splits archive)")
    rows: list[tuple[str, str, str, tuple[str, ...]]] = []
    with path.open(newline="") as f:
        for i, row in enumerate(csv.reader(f)):
            if not row:
                continue
            if len(row) != 4 or row[2] not in ("train", "val", "test"):
                raise ValueError(f"{path}: line {i + 1} must be subject,clip,train|val|test,"
                                 f"camera; got {row}")
            if row[3] not in CAMERAS + ("all",):
                raise ValueError(f"{path}: line {i + 1}: unknown camera {row[3]!r}")
            cams = CAMERAS if row[3] == "all" else (row[3],)
            rows.append((row[0], row[1], row[2], cams))
    merged: dict[tuple[str, str, str], set[str]] = {}
    for subj, clip, split, cams in rows:
        merged.setdefault((subj, clip, split), set()).update(cams)
    return [(*k, tuple(c for c in CAMERAS if c in v)) for k, v in merged.items()]


def load_camera(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`(K 3×3, R 3×3, t (3,) m)` of one `<subj>-<cam>.json`."""
    if not path.is_file():
        raise FileNotFoundError(f"camera file {path} not found")
    data = json.loads(path.read_text())
    try:
        k34 = np.asarray(data["intrinsic_matrix"], float).reshape(3, 4)
        ext = np.asarray(data["extrinsic_matrix"], float).reshape(4, 4)
    except (KeyError, ValueError):
        raise ValueError(f"{path}: needs intrinsic_matrix (12) and extrinsic_matrix (16)") from None
    K = k34[:, :3]
    # A non-zero 4th intrinsic column is a translation in camera space; fold it into t.
    t = ext[:3, 3] + np.linalg.solve(K, k34[:, 3])
    return K, ext[:3, :3], t / 1000.0


def read_clip(root: Path, subject: str, clip: str, split: str,
              cameras: tuple[str, ...]) -> SequenceRecord:
    """One clip as a record of its cameras (H36M-17 world metres, GT 2D projection)."""
    part = "test" if split == "test" else "trainval"
    path = root / part / "joints_3d" / subject / f"{subject}-{clip}.c3d"
    c3d = read_c3d(path)
    pts = c3d["points"]
    if pts.ndim != 3 or pts.shape[1] != ASPSET17.num_joints:
        raise ValueError(f"{path}: expected (T, 17, 3) aspset_17j points, got {pts.shape}")
    skel = c3d["parameters"].get("POINT", {}).get("SKEL")
    skel = skel[0] if isinstance(skel, list) and skel else skel
    if skel and str(skel) != "aspset_17j":
        raise ValueError(f"{path}: skeleton {skel!r} is not aspset_17j (mixed joint sets?)")
    unit = c3d["units"] or "mm"
    if unit not in _UNIT_TO_M:
        raise ValueError(f"{path}: unknown POINT:UNITS {unit!r} (expected mm, cm or m)")
    world = convert(pts * _UNIT_TO_M[unit], "aspset17", "h36m17")
    check_person_scale(world, path)
    n = len(world)
    cams = [load_camera(root / part / "cameras" / subject / f"{subject}-{c}.json")
            for c in cameras]
    K = np.stack([c[0] for c in cams])
    R = np.broadcast_to(np.stack([c[1] for c in cams])[:, None], (len(cams), n, 3, 3))
    t = np.broadcast_to(np.stack([c[2] for c in cams])[:, None], (len(cams), n, 3))
    size = np.array([IMAGE_SIZE] * len(cams))
    pose2d, clean, valid = project_views(world, K, R, t, size)
    return SequenceRecord(
        # ASPset labels no actions; one group keeps per-action metrics meaningful.
        subject=subject, action="all", take=f"{subject}-{clip}", fps=c3d["rate"] or FPS,
        pose2d=pose2d, K=K, R=R, t=t, image_size=size, pose3d_world=world,
        pose2d_clean=clean, valid=valid, view_names=tuple(cameras), labels={"split": split},
    )


def read_aspset(root: str | Path) -> Iterator[SequenceRecord]:
    """Every clip of `splits.csv` whose 3D joints are present."""
    root = Path(root)
    for subject, clip, split, cams in read_splits(root):
        part = "test" if split == "test" else "trainval"
        if (root / part / "joints_3d" / subject / f"{subject}-{clip}.c3d").is_file():
            yield read_clip(root, subject, clip, split, cams)
