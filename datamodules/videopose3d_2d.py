"""VideoPose3D's 2D keypoint archives (`data_2d_custom_*.npz`, `data_2d_h36m_*.npz`).

Two pickled 0-d object arrays, read with the restricted unpickler (`safe_pickle`), never
`allow_pickle=True`:

- `positions_2d`, in one of the layouts VideoPose3D and the lifters built on it write:
  - Human3.6M (`prepare_data_2d_h36m_generic.py` / `_sh.py`; the CPN, SH and Detectron files):
    `{subject: {action: [camera 0, camera 1, ...]}}`, each camera a `(T_c, J, 2|3)` pixel array
    or `None` where that camera was not processed;
  - custom videos (`prepare_data_2d_custom.py`): `{video: {"custom": [(T, J, 2)]}}`;
  - and, from other writers, a bare `(T, J, 2|3)` array or a stacked `(C, T, J, 2|3)` array in
    place of the camera list, or `{video: [cameras]}` one level up.
- `metadata`: `{"layout_name": "coco" | "h36m" | ..., "num_joints": J, "keypoints_symmetry":
  [left, right], "video_metadata": {video: {"w": W, "h": H}}}` (custom files). The `gt` file
  has no `layout_name`; its `keypoints_symmetry` names the order instead.

Each camera of each video is one clip, named `subject/action#k` (H36M) or `video#k` (custom,
where `#0` may be left out when it is the only camera). The metadata's order is a label only:
`keypoints.load_keypoints_file` checks it against the data (a Detectron file labelled `h36m`
can hold COCO-ordered points).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

_LAYOUTS = {"coco": "coco17", "h36m": "h36m17"}
# VideoPose3D's `keypoints_symmetry` (left, right) of each order (data/data_utils.py)
_SYMMETRY = {
    "coco17": ([1, 3, 5, 7, 9, 11, 13, 15], [2, 4, 6, 8, 10, 12, 14, 16]),
    "h36m17": ([4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]),
}
_SHOWN = 12


def _item(arrays: dict[str, np.ndarray], key: str, path: Path) -> Any:
    value = arrays[key]
    if not (isinstance(value, np.ndarray) and value.dtype == object and value.ndim == 0):
        raise ValueError(f"{path}: '{key}' must be a pickled dict (VideoPose3D layout)")
    return value.item()


def _cameras(value: Any, path: Path, name: str) -> list[np.ndarray | None]:
    """The camera clips of one video: a list (None = camera absent) or a float array."""
    if isinstance(value, np.ndarray) and value.dtype != object:
        if value.ndim == 3:
            return [value]
        if value.ndim == 4:  # cameras stacked on a leading axis
            return list(value)
        raise ValueError(f"{path}: video {name!r} must be a (T, J, 2|3) array or a list of "
                         f"them (one per camera), got an array of shape {value.shape}")
    if isinstance(value, np.ndarray):  # object array of per-camera arrays
        value = list(value.reshape(-1))
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{path}: video {name!r} must be a list of (T, J, 2|3) arrays (one per "
                         f"camera), got {type(value).__name__}")
    return [None if v is None else v for v in value]


def _videos(positions: dict, path: Path) -> dict[str, list[np.ndarray | None]]:
    """`name → camera clips` over both layouts (module docstring)."""
    videos: dict[str, list[np.ndarray | None]] = {}
    for top, entry in positions.items():
        if isinstance(entry, dict):
            for sub, cams in entry.items():
                name = str(top) if sub == "custom" else f"{top}/{sub}"
                videos[name] = _cameras(cams, path, name)
        else:
            videos[str(top)] = _cameras(entry, path, str(top))
    return videos


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:_SHOWN])
    return shown + (f", ... ({len(names) - _SHOWN} more)" if len(names) > _SHOWN else "")


def clip_names(arrays: dict[str, np.ndarray], path: Path) -> list[str]:
    """Every clip of the archive as `video#k` (`subject/action#k` for H36M layouts)."""
    positions = _item(arrays, "positions_2d", path)
    if not isinstance(positions, dict) or not positions:
        raise ValueError(f"{path}: 'positions_2d' must be a non-empty dict of videos")
    return [f"{name}#{k}" for name, cams in _videos(positions, path).items()
            for k, c in enumerate(cams) if c is not None]


def layout_label(meta: Any) -> str | None:
    """The joint order the metadata claims: `layout_name`, else `keypoints_symmetry`."""
    if not isinstance(meta, dict):
        return None
    name = meta.get("layout_name")
    if name is not None:
        return _LAYOUTS.get(str(name))
    sym = meta.get("keypoints_symmetry")
    try:
        pair = tuple([int(i) for i in side] for side in sym)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        return None
    return next((js for js, s in _SYMMETRY.items() if pair == s), None)


def read_videopose3d_2d(
    arrays: dict[str, np.ndarray], path: Path, video: str | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """One clip (one camera of one video) of a VideoPose3D 2D archive.

    Args:
        arrays: the archive's arrays (`safe_pickle.load_npz`).
        path: the file, for messages.
        video: the clip, `NAME#k` (`"S9/Walking#2"`: subject S9, action Walking, camera 2;
            `"clip"` for a custom video's only camera); `None` when the file holds one clip.

    Returns:
        `(keypoints (T, J, 2|3) px, extra)`; `extra` may hold `joint_set_label` (the order the
        metadata claims, to be checked against the data), `layout_name` (the metadata's own
        name, also when no joint set of ours matches it), `image_size` (W, H) from
        `video_metadata`, and `clip` (the clip's `NAME#k`).

    Raises:
        ValueError: not the layout above, an unknown clip, or several clips without `video`
            (both messages list the clips), or a clip that is not `(T, J, 2|3)` with T >= 1.
    """
    names = clip_names(arrays, path)
    positions = _item(arrays, "positions_2d", path)
    meta = _item(arrays, "metadata", path) if "metadata" in arrays else {}
    videos = _videos(positions, path)
    if not names:
        raise ValueError(f"{path}: 'positions_2d' holds no keypoints (every camera is None)")
    if video is None:
        if len(names) != 1:
            raise ValueError(f"{path}: holds {len(names)} clips ({_listing(names)}); choose one "
                             "with --video NAME#camera (video=)")
        chosen = names[0]
    elif video in names:
        chosen = video
    else:
        own = [n for n in names if n.rpartition("#")[0] == video]
        if len(own) == 1:  # a video name without #k: its only camera
            chosen = own[0]
        elif own:
            raise ValueError(f"{path}: video {video!r} has {len(own)} cameras; choose one of "
                             f"{_listing(own)}")
        else:
            raise ValueError(f"{path}: no clip {video!r}; it holds {len(names)}: "
                             f"{_listing(names)}")
    name, _, k = chosen.rpartition("#")
    clip = np.asarray(videos[name][int(k)], dtype=np.float64)
    if clip.ndim != 3 or clip.shape[-1] not in (2, 3) or 0 in clip.shape:
        raise ValueError(f"{path}: clip {chosen!r} must have shape (T, J, 2|3) pixels with "
                         f"T, J >= 1, got {clip.shape}")
    extra: dict[str, Any] = {"clip": chosen}
    label = layout_label(meta)
    if label is not None:
        extra["joint_set_label"] = label
    if isinstance(meta, dict) and meta.get("layout_name") is not None:
        extra["layout_name"] = str(meta["layout_name"])
    sizes = meta.get("video_metadata") if isinstance(meta, dict) else None
    size = (sizes.get(name) or sizes.get(name.split("/")[0])) if isinstance(sizes, dict) \
        else None
    if isinstance(size, dict) and "w" in size and "h" in size:
        extra["image_size"] = np.array([size["w"], size["h"]])
    return clip, extra
