"""AIST++ reader (Li et al., ICCV 2021): the `aist_plusplus_final/` annotation tree.

```
keypoints3d/<seq>.pkl   {"keypoints3d", "keypoints3d_optim"}: (N, 17, 3) COCO-17, cm, world y-up
keypoints2d/<seq>.pkl   {"keypoints2d": (9, N, 17, 3) px + score, "det_scores", "timestamps"}
cameras/mapping.txt     "<seq> <env>" lines;  cameras/<env>.json: 9 × {name, size, matrix,
                        distortions, rotation (Rodrigues, world→camera), translation (cm)}
splits/pose_{train,val,test}.txt, ignore_list.txt
```

Sequence `g{genre}_s{situation}_cAll_d{dancer}_m{music}_ch{choreo}`: subject = dancer,
action = genre. 3D = `keypoints3d_optim` (cm → m, COCO → H36M-17, MotionBERT map); frames with
NaN 3D split a take. 2D from the GT projection or `keypoints2d` (`source_2d="dataset"`; NaN
detections become invalid joints with confidence 0). 60 fps.
"""

from __future__ import annotations

import json
import re
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
from liftbench.datamodules.safe_pickle import load_pickle
from liftbench.geometry.skeletons import convert

FPS = 60.0
_SEQ = re.compile(r"^g(\w\w)_s(\w\w)_cAll_d(\d\d)_m(\w+)_ch(\d\d)$")


def read_lines(path: Path) -> list[str]:
    """Non-empty stripped lines of a text file (empty list when absent)."""
    return [s.strip() for s in path.read_text().splitlines() if s.strip()] if path.is_file() \
        else []


def load_env_cameras(path: Path) -> list[dict[str, np.ndarray]]:
    """The 9 cameras of one `cameras/<env>.json` (K, R, t in metres, dist, size)."""
    if not path.is_file():
        raise FileNotFoundError(f"AIST++ camera file {path} not found")
    out = []
    for c in json.loads(path.read_text()):
        d = np.zeros(5)
        dd = np.asarray(c.get("distortions", []), float).reshape(-1)
        if dd.size > 5 and np.abs(dd[5:]).max() > 0:
            raise ValueError(f"{path}: camera {c.get('name')} has more than 5 distortion terms")
        d[: min(5, dd.size)] = dd[:5]
        out.append({
            "name": str(c["name"]), "K": np.asarray(c["matrix"], float).reshape(3, 3),
            "R": Rotation.from_rotvec(np.asarray(c["rotation"], float).reshape(3)).as_matrix(),
            "t": np.asarray(c["translation"], float).reshape(3) / 100.0, "dist": d,
            "size": tuple(int(v) for v in c["size"]),
        })
    return out


def read_sequence(root: Path, seq: str, env: str, source_2d: str = "gt",
                  split: str = "") -> list[SequenceRecord]:
    """One sequence as records (one per run of frames with finite 3D)."""
    m = _SEQ.match(seq)
    if m is None:
        raise ValueError(f"{root}: sequence name {seq!r} is not g.._s.._cAll_d.._m.._ch..")
    path = root / "keypoints3d" / f"{seq}.pkl"
    data = load_pickle(path)
    key = "keypoints3d_optim" if "keypoints3d_optim" in data else "keypoints3d"
    kp = np.asarray(data.get(key), dtype=np.float64)
    if kp.ndim != 3 or kp.shape[1:] != (17, 3):
        raise ValueError(f"{path}: {key} must be (N, 17, 3) COCO-17 cm, got {kp.shape}")
    world = convert(kp / 100.0, "coco17", "h36m17")
    cams = load_env_cameras(root / "cameras" / f"{env}.json")
    n, v = len(world), len(cams)
    K = np.stack([c["K"] for c in cams])
    R = np.broadcast_to(np.stack([c["R"] for c in cams])[:, None], (v, n, 3, 3))
    t = np.broadcast_to(np.stack([c["t"] for c in cams])[:, None], (v, n, 3))
    dist, size = np.stack([c["dist"] for c in cams]), np.array([c["size"] for c in cams])
    ok = np.isfinite(world).all(axis=(1, 2))
    if not ok.any():
        raise ValueError(f"{path}: no frame with finite 3D")
    check_person_scale(world[ok], path)
    safe = np.where(ok[:, None, None], world, 0.0)
    pose2d, clean, valid = project_views(safe, K, R, t, size, dist)
    if source_2d == "dataset":
        p2 = root / "keypoints2d" / f"{seq}.pkl"
        det = np.asarray(load_pickle(p2)["keypoints2d"], dtype=np.float64)
        if det.shape != (v, n, 17, 3):
            raise ValueError(f"{p2}: keypoints2d must be ({v}, {n}, 17, 3), got {det.shape}")
        h = convert(det, "coco17", "h36m17", has_confidence=True)
        found = np.isfinite(h).all(-1)
        pose2d = np.where(found[..., None], h, 0.0)
        valid = valid & found
    rec = SequenceRecord(
        subject=f"d{m.group(3)}", action=f"g{m.group(1)}", take=seq, fps=FPS, pose2d=pose2d,
        K=K, R=R, t=t, image_size=size, pose3d_world=safe, pose2d_clean=clean, dist=dist,
        valid=valid, view_names=tuple(c["name"] for c in cams),
        labels={"split": split, "env": env},
    )
    segs = finite_segments(ok)
    if segs == [(0, n)]:
        return [rec]
    return [slice_record(rec, a, b, f"{seq}#{a}") for a, b in segs]


def read_aist(root: str | Path, source_2d: str = "gt") -> Iterator[SequenceRecord]:
    """Every sequence with 3D keypoints that is not in `ignore_list.txt`."""
    root = Path(root)
    mapping_path = root / "cameras" / "mapping.txt"
    if not mapping_path.is_file():
        raise FileNotFoundError(f"{mapping_path} not found (expected aist_plusplus_final/)")
    mapping = dict(line.split()[:2] for line in read_lines(mapping_path))
    ignore = set(read_lines(root / "ignore_list.txt"))
    split_of = {s: name for name in ("train", "val", "test")
                for s in read_lines(root / "splits" / f"pose_{name}.txt")}
    for path in sorted((root / "keypoints3d").glob("*.pkl")):
        seq = path.stem
        if seq in ignore:
            continue
        if seq not in mapping:
            raise ValueError(f"{mapping_path}: no camera setting for {seq}")
        yield from read_sequence(root, seq, mapping[seq], source_2d, split_of.get(seq, ""))
