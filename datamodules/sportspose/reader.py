"""SportsPose reader (Ingwersen et al., CVPRW 2023): the official release's `data/` tree.

```
<root>/data/<indoors|outdoors>/S<nn>/calib.pkl
<root>/data/<indoors|outdoors>/S<nn>/<activity>/<activity><NNNN>.npy         (T, 17, >=3) m
<root>/data/<indoors|outdoors>/S<nn>/<activity>/<activity><NNNN>_timing.pkl
```

The `.npy` holds COCO-17 world joints in metres (converted to H36M-17 with MotionBERT's
`coco2h36m`). `calib.pkl` = `{"calibration": [per camera {f, c, k, R, T, tpr}],
"numtimesrot90clockwise": [...]}`; the projection is OpenCV's with rvec = `tpr` (it overrides
`R`), tvec = `T` (m) and distortion `k`. Camera images are rotated by `np.rot90(img, -n)`; the
records describe the rotated images (`rotate_camera_cw`), so their K/R/t/dist project straight
onto the frames a user extracts. 7 views per take, named as in the paper; which camera file
index is which view depends on the session (`VIEW_CAMERAS`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from liftbench.datamodules.real.reader_helpers import check_person_scale, project_views
from liftbench.datamodules.records import SequenceRecord
from liftbench.datamodules.safe_pickle import load_pickle
from liftbench.geometry.skeletons import convert

FPS = 90.0  # the official loader's constant
VIEWS = ("front-left", "left", "back-left", "back", "back-right", "right", "front-right")
# Camera index of each view (VIEWS order) per session kind (official SPORTSPOSE_CAMERA_INDEX).
VIEW_CAMERAS = {
    "indoors-early": (4, 5, 0, 1, 2, 3, 6),  # indoors S00-S14
    "indoors-late": (3, 4, 0, 5, 1, 2, 6),  # indoors S15-S21
    "outdoors": (4, 5, 6, 2, 1, 3, 0),
}
# Image (W, H) before rotation (KASportsFormer's resolutions after the indoor 90° rotation).
IMAGE_SIZE = {"indoors": (1936, 1216), "outdoors": (1312, 1216)}
_TAKE = re.compile(r"^([a-z_]+?)(\d{4})\.npy$")


def session_kind(env: str, subject: str) -> str:
    """`VIEW_CAMERAS` key of a session."""
    if env == "outdoors":
        return "outdoors"
    return "indoors-early" if int(subject[1:]) <= 14 else "indoors-late"


def rotate_camera_cw(
    K: np.ndarray, R: np.ndarray, t: np.ndarray, dist: np.ndarray, size: tuple[int, int],
    turns: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple[int, int]]:
    """The camera of an image rotated `turns` × 90° clockwise (`np.rot90(img, -turns)`).

    A pixel `(u, v)` of a W×H image goes to `(H − 1 − v, u)`: the same as rolling the camera
    about its optical axis (`R' = Rz R`, `t' = Rz t`, `Rz = [[0,-1,0],[1,0,0],[0,0,1]]`) with
    `fx' = fy`, `fy' = fx`, `cx' = H − 1 − cy`, `cy' = cx`; radial distortion is unchanged and
    the tangential terms become `p1' = p2`, `p2' = −p1`.
    """
    rz = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    K, R, t, dist = K.copy(), R.copy(), t.copy(), dist.copy()
    w, h = size
    for _ in range(turns % 4):
        K = np.array([[K[1, 1], 0.0, h - 1 - K[1, 2]], [0.0, K[0, 0], K[0, 2]], [0, 0, 1.0]])
        R, t = rz @ R, rz @ t
        dist[[2, 3]] = dist[3], -dist[2]
        w, h = h, w
    return K, R, t, dist, (w, h)


def read_calib(path: Path, image_size: tuple[int, int]) -> list[dict[str, np.ndarray]]:
    """Cameras of one session, in camera-index order, for the rotated images."""
    calib = load_pickle(path)
    try:
        cams, turns = calib["calibration"], calib.get("numtimesrot90clockwise", [0] * 7)
    except (TypeError, KeyError):
        raise ValueError(f"{path}: expected a dict with 'calibration' (SportsPose calib)") from None
    out = []
    for i, c in enumerate(cams):
        f, cc = np.asarray(c["f"], float).reshape(2), np.asarray(c["c"], float).reshape(2)
        K = np.array([[f[0], 0, cc[0]], [0, f[1], cc[1]], [0, 0, 1.0]])
        if "tpr" in c:  # the official loader sets R, then tpr, which wins
            R = Rotation.from_rotvec(np.asarray(c["tpr"], float).reshape(3)).as_matrix()
        else:
            R = np.asarray(c["R"], float).reshape(3, 3)
        t = np.asarray(c["T"], float).reshape(3)
        k = np.zeros(8)
        kk = np.asarray(c.get("k", []), float).reshape(-1)[:8]
        k[: kk.size] = kk
        if np.abs(k[5:]).max() > 0:
            raise ValueError(f"{path}: camera {i} uses the rational distortion model (k4-k6), "
                             "which records cannot hold")
        dist = k[[0, 1, 2, 3, 4]]
        out.append(dict(zip(("K", "R", "t", "dist", "size"),
                            rotate_camera_cw(K, R, t, dist, image_size, int(turns[i])))))
    return out


def read_take(npy: Path, cams: list[dict[str, np.ndarray]], env: str, subject: str,
              views: tuple[str, ...] = VIEWS) -> SequenceRecord:
    """One take (all its views) as a record: H36M-17 world metres, GT 2D projection."""
    m = _TAKE.match(npy.name)
    if m is None:
        raise ValueError(f"{npy}: not an <activity><NNNN>.npy take file")
    arr = np.load(npy, allow_pickle=False)
    if arr.ndim != 3 or arr.shape[1] != 17 or arr.shape[2] < 3:
        raise ValueError(f"{npy}: joints must be (T, 17, >=3) COCO-17 metres, got {arr.shape}")
    world = convert(np.asarray(arr[..., :3], np.float64), "coco17", "h36m17")
    check_person_scale(world, npy)
    index = VIEW_CAMERAS[session_kind(env, subject)]
    sel = [cams[index[VIEWS.index(v)]] for v in views]
    n = len(world)
    K = np.stack([c["K"] for c in sel])
    R = np.broadcast_to(np.stack([c["R"] for c in sel])[:, None], (len(sel), n, 3, 3))
    t = np.broadcast_to(np.stack([c["t"] for c in sel])[:, None], (len(sel), n, 3))
    dist = np.stack([c["dist"] for c in sel])
    size = np.array([c["size"] for c in sel])
    pose2d, clean, valid = project_views(world, K, R, t, size, dist)
    activity = m.group(1)
    return SequenceRecord(
        subject=subject, action=activity, take=f"{env}_{subject}_{npy.stem}", fps=FPS,
        pose2d=pose2d, K=K, R=R, t=t, image_size=size, pose3d_world=world,
        pose2d_clean=clean, dist=dist, valid=valid, view_names=tuple(views),
        labels={"env": env},
    )


def list_takes(root: Path) -> list[tuple[str, str, Path]]:
    """`(env, subject, npy path)` of every take under `root/data`."""
    data = root / "data"
    if not data.is_dir():
        raise FileNotFoundError(f"{root}: no data/ folder (expected the SportsPose release root)")
    out = []
    for env_dir in sorted(p for p in data.iterdir() if re.fullmatch(r"(in|out)doors", p.name)):
        for subj in sorted(p for p in env_dir.iterdir() if re.fullmatch(r"S\d{2}", p.name)):
            for npy in sorted(subj.glob("*/*.npy")):
                if _TAKE.match(npy.name) and npy.parent.name == _TAKE.match(npy.name).group(1):
                    out.append((env_dir.name, subj.name, npy))
    return out


def read_sportspose(root: str | Path, views: tuple[str, ...] = VIEWS) -> Iterator[SequenceRecord]:
    """Every take of a SportsPose release (see module docstring)."""
    root = Path(root)
    calibs: dict[Path, list] = {}
    for env, subject, npy in list_takes(root):
        cpath = npy.parent.parent / "calib.pkl"
        if cpath not in calibs:
            if not cpath.is_file():
                raise FileNotFoundError(f"{cpath} not found (calibration of {env}/{subject})")
            calibs[cpath] = read_calib(cpath, IMAGE_SIZE[env])
        yield read_take(npy, calibs[cpath], env, subject, views)
