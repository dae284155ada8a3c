"""VideoPose3D's 2D keypoint archives (`data_2d_custom_*.npz`, `data_2d_h36m_*.npz`).

Layout (as VideoPose3D's `data/prepare_data_2d_custom.py` writes it): two pickled 0-d object
arrays, `positions_2d = {video: {"custom": [(T, J, 2) float32 px]}}` (H36M files:
`{subject: {action: [one (T, J, 2|3) array per camera]}}`) and `metadata = {"layout_name":
"coco" | "h36m" | ..., "num_joints": J, "keypoints_symmetry": [...], "video_metadata":
{video: {"w": W, "h": H}}}`. The pickles are read with the restricted unpickler
(`safe_pickle`), never `allow_pickle=True`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

_LAYOUTS = {"coco": "coco17", "h36m": "h36m17"}


def _item(arrays: dict[str, np.ndarray], key: str, path: Path) -> Any:
    value = arrays[key]
    if not (isinstance(value, np.ndarray) and value.dtype == object and value.ndim == 0):
        raise ValueError(f"{path}: '{key}' must be a pickled dict (VideoPose3D layout)")
    return value.item()


def read_videopose3d_2d(
    arrays: dict[str, np.ndarray], path: Path, video: str | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """One video of a VideoPose3D 2D archive.

    Args:
        arrays: the archive's arrays (`safe_pickle.load_npz`).
        path: the file, for messages.
        video: the `positions_2d` key to read (`"S9/Walking"` selects an H36M subject and
            action); `None` when the file holds exactly one video.

    Returns:
        `(keypoints (T, J, 2|3) px, extra)` with `extra` holding `joint_set` (from the
        metadata's `layout_name`) and `image_size` (W, H) when the metadata has them. A video
        with several cameras gives camera 0; select another camera by naming it `NAME#k`.

    Raises:
        ValueError: not the layout above, an unknown video (the message lists them), or
            several videos without `video`.
    """
    positions = _item(arrays, "positions_2d", path)
    meta = _item(arrays, "metadata", path) if "metadata" in arrays else {}
    if not isinstance(positions, dict) or not positions:
        raise ValueError(f"{path}: 'positions_2d' must be a non-empty dict of videos")
    leaves: dict[str, list] = {}
    for name, entry in positions.items():
        if isinstance(entry, dict):
            for sub, cams in entry.items():
                leaves[str(name) if sub == "custom" else f"{name}/{sub}"] = cams
        else:
            leaves[str(name)] = entry
    name, _, cam = (video or "").partition("#")
    if not name:
        if len(leaves) != 1:
            listed = ", ".join(sorted(leaves)[:8]) + (" ..." if len(leaves) > 8 else "")
            raise ValueError(f"{path}: holds {len(leaves)} videos ({listed}); choose one with "
                             "--video NAME (video=)")
        name = next(iter(leaves))
    if name not in leaves:
        raise ValueError(f"{path}: no video {name!r}; it has {', '.join(sorted(leaves)[:8])}")
    cams = leaves[name]
    cams = list(cams) if isinstance(cams, (list, tuple)) else [cams]
    k = int(cam) if cam else 0
    if not 0 <= k < len(cams):
        raise ValueError(f"{path}: video {name!r} has {len(cams)} camera(s), asked for #{k}")
    extra: dict[str, Any] = {}
    layout = meta.get("layout_name") if isinstance(meta, dict) else None
    if layout is not None:
        if layout not in _LAYOUTS:
            raise ValueError(f"{path}: VideoPose3D layout {layout!r} is not supported "
                             f"(known: {', '.join(sorted(_LAYOUTS))})")
        extra["joint_set"] = _LAYOUTS[layout]
    size = (meta.get("video_metadata") or {}).get(name.split("/")[0]) \
        if isinstance(meta, dict) else None
    if isinstance(size, dict) and "w" in size and "h" in size:
        extra["image_size"] = np.array([size["w"], size["h"]])
    return np.asarray(cams[k], dtype=np.float64), extra
