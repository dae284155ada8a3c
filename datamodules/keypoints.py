"""2D keypoint import for users' own videos: detector outputs → H36M-17 pixels + confidence.

Formats (`load_keypoints_file` detects them from the path and the JSON structure):

- OpenPose: a folder of per-frame `*_keypoints.json` (or one such file), `people[i].
  pose_keypoints_2d` = J×(x, y, c); BODY_25 or the experimental BODY_25B model (same count,
  told apart from the data).
- COCO-style: `{"images": [{id, width, height, ...}], "annotations": [{image_id, keypoints,
  ...}]}` (a ground-truth file) or a COCO results list `[{image_id, keypoints, score}]`.
- AlphaPose: a results list like COCO's with 17 (COCO) or 26 (Halpe-26) points, `idx` = track id.
- MMPose / RTMLib JSON: `{"instance_info": [{"frame_id", "instances": [{"keypoints": J×2,
  "keypoint_scores": J}]}]}` (mmpose demo `--save-predictions`), or the same frame list bare,
  or one frame's instance list (inferencer `pred-out-dir`).
- numpy: `.npy` `(T, J, 2|3)` or `(T, P, J, 2|3)` (P persons per frame, NaN-padded, as RTMLib
  batches), or `.npz` with `keypoints`/`pose2d` (+ optional `scores`, `image_size`, `joint_set`).

- VideoPose3D 2D archives: `.npz` with pickled `positions_2d` + `metadata`, Human3.6M layout
  (`subject/action#camera` clips) or custom (`video`) (`videopose3d_2d.py`; read without running
  pickled code). The metadata's `layout_name` is a label checked against the data: when they
  contradict each other the data win and the result carries a note saying so.

Scores are mapped to [0, 1] with one rule per file (`scores.normalise_scores`: percentages,
logits, visibility flags and uncalibrated tiny scores are recognised). The joint set comes
from the point count (26 → Halpe-26; 133 → COCO-WholeBody and 136 → Halpe-136, whose body
points are used); 17 points (COCO-17 or H36M-17) and 25 (BODY_25 or BODY_25B) are told apart
from the data (`keypoint_layouts.py`), or by `joint_set`; a file mixing counts is refused, and
so is a file in which no person has two points above the detection threshold. When several
people are detected, `main_person.pick_main_person` follows one person through the video.
Frames without a detection get confidence 0 and the nearest detected frame's coordinates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from liftbench.datamodules.input_errors import read_json, reading
from liftbench.datamodules.keypoint_layouts import CANDIDATES, choices, decide_layout
from liftbench.datamodules.main_person import Frames, person_box, pick_main_person
from liftbench.datamodules.safe_pickle import load_npz
from liftbench.datamodules.scores import THRESHOLD, normalise_scores
from liftbench.datamodules.videopose3d_2d import read_videopose3d_2d
from liftbench.geometry.skeletons import convert, get_joint_set

_BY_COUNT_DETECTOR = {17: "coco17", 25: "body25", 26: "halpe26"}
# Whole-body skeletons whose first points are a body set: COCO-WholeBody (133) starts with
# COCO-17, Halpe-136 (AlphaPose's full model) with Halpe-26; the face/hand points are dropped.
_WHOLE_BODY = {133: ("coco_wholebody", 17), 136: ("halpe136", 26)}


def _joint_set_for(frames: Frames, path: Path, joint_set: str | None,
                   default: str | None, label: str | None = None) -> tuple[str, str | None]:
    """The file's joint set and a note when the file's own label was overruled.

    `joint_set` when given (checked against the count), else from the point count and, for
    counts two orders share (17, 25), from the data (`keypoint_layouts.decide_layout`), which
    `default` (the format's order) and `label` (an order the file's metadata claims) only
    settle when the data cannot.
    """
    counts = {p.shape[0] for fr in frames for p in fr}
    if len(counts) > 1:
        raise ValueError(
            f"{path}: mixed joint sets, persons have {sorted(counts)} keypoints; one file must "
            "use one skeleton"
        )
    if not counts:
        raise ValueError(f"{path}: no person detected in any frame")
    (count,) = counts
    if joint_set is not None:
        expected = get_joint_set(joint_set).num_joints
        if expected != count:
            raise ValueError(
                f"{path}: joint_set {joint_set!r} has {expected} joints, the file has {count}"
            )
        return joint_set, None
    if label is not None and get_joint_set(label).num_joints != count:
        note = (f"{path}: the file's metadata says {label} ({get_joint_set(label).num_joints} "
                f"points) but persons have {count}; the label is ignored")
        return _joint_set_for(frames, path, None, default)[0], note
    if count in CANDIDATES:
        people = [p for fr in frames for p in fr]
        return decide_layout(people, count, str(path), THRESHOLD,
                             default if default in CANDIDATES[count] else None, label)
    if count not in _BY_COUNT_DETECTOR:
        raise ValueError(
            f"{path}: cannot infer the joint set of {count} keypoints per person; pass "
            f"--joint-set (joint_set=) with one of: {', '.join(choices(count)) or 'none known'}"
        )
    return _BY_COUNT_DETECTOR[count], None


def _flat_person(values: Any, path: Path, where: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if arr.size == 0 or arr.size % 3:
        raise ValueError(
            f"{path}: {where} must be a flat list of J×(x, y, score), got {arr.size} numbers"
        )
    return arr.reshape(-1, 3)


def _read_openpose(files: list[Path]) -> Frames:
    frames: Frames = []
    for f in files:
        data = read_json(f, "an OpenPose frame {'people': [{'pose_keypoints_2d': [...]}]}")
        if not isinstance(data, dict) or "people" not in data:
            raise ValueError(f"{f}: not an OpenPose frame (no 'people' list)")
        with reading(f, "an OpenPose frame {'people': [{'pose_keypoints_2d': [...]}]}"):
            frames.append([
                _flat_person(p["pose_keypoints_2d"], f, "people[].pose_keypoints_2d")
                for p in data["people"] if p.get("pose_keypoints_2d")
            ])
    return frames


def _frame_order(ids: list[Any]) -> list[Any]:
    """Image ids in video order: numerically when they are numbers or numbered file names."""
    def key(i: Any) -> tuple:
        stem = Path(str(i)).stem
        return (0, int(stem), "") if stem.isdigit() else (1, 0, str(i))
    return sorted(set(ids), key=key)


def _read_results_list(items: list[dict], path: Path) -> tuple[Frames, list[list[Any]]]:
    """COCO results / AlphaPose: entries with `image_id`, `keypoints`, optional `idx`."""
    order = _frame_order([it["image_id"] for it in items])
    pos = {img: i for i, img in enumerate(order)}
    frames: Frames = [[] for _ in order]
    tracks: list[list[Any]] = [[] for _ in order]
    for it in items:
        if it.get("category_id", 1) != 1:
            continue
        i = pos[it["image_id"]]
        frames[i].append(_flat_person(it["keypoints"], path, "keypoints"))
        tracks[i].append(it.get("idx"))
    return frames, tracks


def _read_coco(data: dict, path: Path) -> tuple[Frames, tuple[int, int] | None]:
    images = {im["id"]: im for im in data.get("images", [])}
    anns = [a for a in data["annotations"] if a.get("category_id", 1) == 1]
    frames, _ = _read_results_list(
        [{"image_id": a["image_id"], "keypoints": a["keypoints"]} for a in anns], path
    )
    sizes = {(im.get("width"), im.get("height")) for im in images.values()}
    size = next(iter(sizes)) if len(sizes) == 1 and None not in next(iter(sizes)) else None
    return frames, size


def _read_mmpose(frames_in: list[dict], path: Path) -> Frames:
    frames: Frames = []
    for fr in frames_in:
        people = []
        for inst in fr.get("instances", []):
            xy = np.asarray(inst["keypoints"], dtype=np.float64)
            if xy.ndim != 2 or xy.shape[1] != 2:
                raise ValueError(f"{path}: instances[].keypoints must be J×2, got {xy.shape}")
            score = np.asarray(inst.get("keypoint_scores", np.ones(len(xy))), dtype=np.float64)
            people.append(np.concatenate([xy, score.reshape(-1, 1)], axis=1))
        frames.append(people)
    return frames


def _read_numpy(path: Path, video: str | None) -> tuple[np.ndarray, dict[str, Any]]:
    extra: dict[str, Any] = {}
    expected = ("a numpy keypoint file: .npy (T, J, 2|3) / (T, P, J, 2|3), an .npz with "
                "'keypoints' or 'pose2d', or VideoPose3D's 'positions_2d' + 'metadata'")
    with reading(path, expected):
        arrays = load_npz(path)
        if path.suffix == ".npy":
            arr = arrays["arr_0"]
        elif "positions_2d" in arrays:
            arr, extra = read_videopose3d_2d(arrays, path, video)
        else:
            key = next((k for k in ("keypoints", "pose2d") if k in arrays), None)
            if key is None:
                raise ValueError(
                    f"{path}: needs a 'keypoints' or 'pose2d' array, has {sorted(arrays)}")
            arr = arrays[key]
            if "scores" in arrays:
                arr = np.concatenate([arr[..., :2], arrays["scores"][..., None]], axis=-1)
            for k in ("image_size", "joint_set"):
                if k in arrays:
                    extra[k] = arrays[k]
        arr = np.asarray(arr, dtype=np.float64)
    if arr.ndim == 5 and arr.shape[0] == 1:  # a (V=1, T, J, C) file from `liftbench predict`
        arr = arr[0]
    if arr.ndim not in (3, 4) or arr.shape[-1] not in (2, 3) or 0 in arr.shape:
        raise ValueError(
            f"{path}: keypoints must have shape (T, J, 2|3) or (T, P, J, 2|3) pixels "
            f"(+ score) with T, J >= 1, got {arr.shape}"
        )
    if arr.shape[-1] == 2:
        arr = np.concatenate([arr, np.ones(arr.shape[:-1] + (1,))], axis=-1)
    return arr, extra


def load_keypoints_file(
    path: str | Path,
    joint_set: str | None = None,
    image_size: tuple[int, int] | None = None,
    to_h36m: bool = True,
    video: str | None = None,
) -> dict[str, Any]:
    """Read a 2D keypoint file of any supported format (module docstring) as H36M-17.

    Args:
        path: a file, or a folder of OpenPose per-frame JSON files.
        joint_set: the file's skeleton when the point count does not say it (`"body25b"`,
            `"coco17"` for a 17-point numpy file, ...); checked against the count when given.
        image_size: `(W, H)` pixels, required when the file does not store it.
        to_h36m: convert to H36M-17 (confidence averaged as MotionBERT's maps).
        video: which video of a VideoPose3D file holding several (`positions_2d` keys).

    Returns:
        `{"keypoints": (V, T, J, 3) px + confidence in [0, 1], "image_size": (V, 2) int,
        "joint_set": "h36m17" (or the file's set when `to_h36m=False`), "source_joint_set":
        str, "score_scale": str (how the file's scores were read, `scores.normalise_scores`),
        "notes": [str] (e.g. a metadata joint order the data contradict; may be empty)}`;
        V = 1.

    Raises:
        FileNotFoundError: missing path. ValueError (`InputFileError` for unreadable files):
        unknown structure, bad shape, mixed joint sets, a joint order the data cannot decide,
        scores on no known scale, no detections, or no image size — each naming the file.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"2D keypoint file {path} not found")
    tracks, stored_size, default, label = None, None, None, None
    if path.is_dir():
        files = sorted(path.glob("*.json"))
        if not files:
            raise ValueError(f"{path}: folder holds no OpenPose *.json frame files")
        frames = _read_openpose(files)
    elif path.suffix in (".npy", ".npz"):
        arr, extra = _read_numpy(path, video)
        joint_set = joint_set or (str(extra["joint_set"]) if "joint_set" in extra else None)
        label = extra.get("joint_set_label")
        if "image_size" in extra:
            with reading(path, "image_size (W, H) pixels"):
                stored_size = tuple(np.asarray(extra["image_size"]).reshape(-1, 2)[0])
        arr = arr[:, None] if arr.ndim == 3 else arr
        frames = [[p for p in fr if np.isfinite(p[:, :2]).any()] for fr in arr]
    elif path.suffix == ".json":
        data = read_json(path, "a keypoint JSON (OpenPose, COCO, AlphaPose, MMPose or liftbench)")
        with reading(path, "a keypoint JSON (OpenPose, COCO, AlphaPose, MMPose or liftbench)"):
            if isinstance(data, dict) and "people" in data:
                frames = _read_openpose([path])
            elif isinstance(data, dict) and "annotations" in data:
                frames, stored_size = _read_coco(data, path)
                default = "coco17"
            elif isinstance(data, dict) and "instance_info" in data:
                frames = _read_mmpose(data["instance_info"], path)
            elif isinstance(data, dict) and "keypoints" in data:  # liftbench's own JSON
                arr = np.asarray(data["keypoints"], dtype=np.float64)
                return _finish(path, arr[None] if arr.ndim == 3 else arr,
                               data.get("joint_set", "h36m17"), data.get("image_size"),
                               to_h36m)
            elif isinstance(data, list) and data and "instances" in data[0]:
                frames = _read_mmpose(data, path)
            elif isinstance(data, list) and data and "keypoint_scores" in data[0]:
                frames = _read_mmpose([{"instances": data}], path)
            elif isinstance(data, list) and data and "image_id" in data[0]:
                frames, tracks = _read_results_list(data, path)
                default = "coco17"
            else:
                raise ValueError(
                    f"{path}: unrecognised keypoint JSON (expected OpenPose, COCO, AlphaPose, "
                    "MMPose or liftbench structure)"
                )
    else:
        raise ValueError(f"{path}: unsupported keypoint file type {path.suffix!r} (expected "
                         ".npz, .npy, .json or a folder of OpenPose .json frames)")
    if image_size is None and stored_size is None:
        raise ValueError(f"{path}: the file stores no image size; pass image_size=(W, H) "
                         "(--image-size W H)")
    counts = {p.shape[0] for fr in frames for p in fr}
    whole = _WHOLE_BODY.get(next(iter(counts))) if len(counts) == 1 else None
    if whole is not None and joint_set in (None, whole[0]):  # keep the body points only
        frames = [[p[: whole[1]] for p in fr] for fr in frames]
        joint_set = _BY_COUNT_DETECTOR[whole[1]]
    frames, scale = _normalise_frames(frames, path)
    if not any(person_box(p, THRESHOLD) for fr in frames for p in fr):
        raise ValueError(
            f"{path}: no person with two or more keypoints scored above {THRESHOLD} in any "
            f"frame (scores: {scale}); nothing to lift"
        )
    src, note = _joint_set_for(frames, path, joint_set, default, label)
    kp = pick_main_person(frames, tracks, min_conf=THRESHOLD)
    if not (kp[..., 2] > 0).any():
        raise ValueError(
            f"{path}: no person with two or more keypoints scored above {THRESHOLD} in any "
            f"frame (scores: {scale}); nothing to lift"
        )
    out = _finish(path, kp[None], src, image_size or stored_size, to_h36m)
    out["score_scale"] = scale
    out["notes"] = [note] if note else []
    return out


def _normalise_frames(frames: Frames, path: Path) -> tuple[Frames, str]:
    """Every person's scores mapped to [0, 1] with one rule for the file (`scores.py`)."""
    people = [p for fr in frames for p in fr]
    if not people:
        return frames, "no detections"
    sizes = [len(p) for p in people]
    flat, scale = normalise_scores(np.concatenate([p[:, 2] for p in people]), str(path))
    parts = np.split(flat, np.cumsum(sizes)[:-1])
    out: Frames = []
    k = 0
    for fr in frames:
        row = []
        for p in fr:
            q = p.copy()
            q[:, 2] = parts[k]
            k += 1
            row.append(q)
        out.append(row)
    return out, scale


def _finish(
    path: Path, kp: np.ndarray, src: str, size: Any, to_h36m: bool
) -> dict[str, Any]:
    if size is None:
        raise ValueError(f"{path}: the file stores no image size; pass image_size=(W, H)")
    if kp.ndim != 4 or kp.shape[-1] not in (2, 3):
        raise ValueError(f"{path}: keypoints must be (V, T, J, 2|3), got {kp.shape}")
    if kp.shape[-1] == 2:
        kp = np.concatenate([kp, np.ones(kp.shape[:-1] + (1,))], axis=-1)
    if kp.shape[-2] != get_joint_set(src).num_joints:
        raise ValueError(f"{path}: joint_set {src!r} does not fit {kp.shape[-2]} joints")
    size_arr = np.asarray(size, dtype=np.int64).reshape(-1, 2)
    if (size_arr <= 0).any():
        raise ValueError(f"{path}: image_size must be positive (W, H), got {size_arr.tolist()}")
    size_arr = np.repeat(size_arr, kp.shape[0], 0) if len(size_arr) == 1 else size_arr
    out = convert(kp, src, "h36m17", has_confidence=True) if to_h36m else kp
    return {
        "keypoints": out.astype(np.float32), "image_size": size_arr,
        "joint_set": "h36m17" if to_h36m else src, "source_joint_set": src,
    }
