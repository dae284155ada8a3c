"""`liftbench predict`: a trained checkpoint + a 2D keypoint file → 3D poses.

Input files (pixels; confidence optional, 1.0 when absent):
- `.npz` as `liftbench data synth` writes (`pose2d (V, T, J, 3)`, `image_size (V, 2)`), or any
  npz with `pose2d`/`keypoints` `(T, J, 2|3)` or `(V, T, J, 2|3)` and `image_size` `(2,)` (W, H)
  or `(V, 2)`; an optional `joint_set` entry names the joint order (default `h36m17`).
- `.json`: `{"image_size": [W, H], "joint_set": "h36m17", "keypoints": T×J×(2|3)}` (or V×T×J×…),
  as `save_prediction` / this module's `save_keypoints_json` write.

Outputs: `pose3d (V, T, 17, 3)` in the normalised 2.5D units of README "Conventions" (root-relative,
x and y in width-normalised image units, z on the same scale: multiply by a per-frame mm factor for
metric poses, which needs the camera and the root depth), as `.npz` and `.json`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from liftbench.bench.checkpoints import load_regime
from liftbench.bench.outputs import Staging, staged, with_extension
from liftbench.datamodules.input_errors import read_json, reading
from liftbench.datamodules.keypoint_layouts import CANDIDATES, infer_layout
from liftbench.datamodules.scores import THRESHOLD, confidence_report, normalise_scores
from liftbench.geometry.cameras import normalize_screen
from liftbench.geometry.skeletons import convert, get_joint_set


def _as_views(kp: np.ndarray, argument: str) -> np.ndarray:
    kp = np.asarray(kp, dtype=np.float64)
    if kp.ndim == 3:
        kp = kp[None]
    if kp.ndim != 4 or kp.shape[-1] not in (2, 3) or kp.shape[1] == 0:
        raise ValueError(
            f"{argument} must have shape (T, J, 2|3) or (V, T, J, 2|3) with T >= 1 (pixels, "
            f"optional confidence), got {kp.shape}"
        )
    if kp.shape[-1] == 2:
        kp = np.concatenate([kp, np.ones(kp.shape[:-1] + (1,))], -1)
    return kp


_OWN = "liftbench keypoints: .npz with 'pose2d' (or 'keypoints') + 'image_size', or JSON " \
    "{'image_size': [W, H], 'keypoints': T x J x (2|3)}"


def _is_own_format(path: Path) -> bool:
    """Whether `path` has liftbench's own npz (`pose2d` + `image_size`) or JSON layout."""
    if path.suffix == ".npz":
        with reading(path, "a keypoint .npz"), np.load(path, allow_pickle=False) as f:
            return "image_size" in f.files and ("pose2d" in f.files or "keypoints" in f.files)
    if path.suffix == ".json":
        data = read_json(path, "a keypoint JSON file")
        return isinstance(data, dict) and "keypoints" in data and "image_size" in data
    return False


def load_keypoints(path: str | Path, joint_set: str | None = None,
                   image_size: tuple[int, int] | None = None,
                   video: str | None = None) -> dict[str, Any]:
    """Read a 2D keypoint file in liftbench's own npz/JSON layout or any detector format.

    Other formats go through `datamodules.keypoints.load_keypoints_file` (OpenPose,
    COCO/MMPose/RTMLib, AlphaPose, Halpe, numpy arrays, VideoPose3D archives; `joint_set`,
    `image_size` and `video` where the file does not say them). Scores are mapped to [0, 1]
    (`datamodules.scores.normalise_scores`); a 17-point file without a stored `joint_set` is
    checked against the data (`datamodules.keypoint_layouts`).

    Returns:
        `{"keypoints": (V, T, J, 3) px + confidence, "image_size": (V, 2), "joint_set": str,
        "score_scale": str}`.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"2D keypoint file {path} not found")
    if path.is_dir() or not _is_own_format(path):
        from liftbench.datamodules.keypoints import load_keypoints_file

        return load_keypoints_file(path, joint_set=joint_set, image_size=image_size,
                                   video=video)
    stored = None
    with reading(path, _OWN):
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as f:
                key = "pose2d" if "pose2d" in f.files else "keypoints"
                kp, size = f[key], f["image_size"]
                stored = str(f["joint_set"]) if "joint_set" in f.files else None
            argument = f"{path.name}:{key}"
        else:
            data = read_json(path, _OWN)
            kp, size = np.asarray(data["keypoints"], dtype=np.float64), data["image_size"]
            stored = data.get("joint_set")
            argument = f"{path.name}:keypoints"
        kp = _as_views(kp, argument)
        size = np.asarray(size, dtype=np.float64).reshape(-1, 2)
    if size.shape[0] == 1:
        size = np.repeat(size, kp.shape[0], 0)
    if size.shape[0] != kp.shape[0] or not (size > 0).all():
        raise ValueError(
            f"{path}: image_size must be (2,) or (V, 2) positive (W, H) with V = {kp.shape[0]}, "
            f"got {size.tolist()}"
        )
    kp[..., 2], scale = normalise_scores(kp[..., 2], str(path))
    name = stored or joint_set
    if name is None and kp.shape[2] in CANDIDATES:
        people = [kp[v, t] for v in range(kp.shape[0]) for t in range(kp.shape[1])]
        name = infer_layout(people, kp.shape[2], str(path), THRESHOLD, default="h36m17")
    js = get_joint_set(name or "h36m17")
    if kp.shape[2] != js.num_joints:
        raise ValueError(
            f"{argument}: {kp.shape[2]} joints per frame, but joint set {js.name!r} has "
            f"{js.num_joints} (set 'joint_set' in the file to the detector's order)"
        )
    return {"keypoints": kp, "image_size": size, "joint_set": js.name, "score_scale": scale}


def fill_missing(kp: np.ndarray) -> np.ndarray:
    """Replace NaN/inf 2D joints by interpolation over time (confidence set to 0).

    Args:
        kp: `(T, J, 3)` pixels + confidence.

    Returns:
        `(T, J, 3)` finite keypoints; a joint never seen takes the frame's mean of seen joints.
    """
    kp = kp.copy()
    bad = ~np.isfinite(kp[..., :2]).all(-1)
    if bad.all():
        raise ValueError("every keypoint of the sequence is missing (NaN): nothing to lift")
    if not (np.nan_to_num(kp[..., 2], nan=0.0)[~bad] > 0).any():
        raise ValueError("every keypoint of the sequence has confidence 0: nothing to lift")
    frames = np.arange(kp.shape[0])
    for j in range(kp.shape[1]):
        ok = ~bad[:, j]
        if ok.any() and not ok.all():
            for c in range(2):
                kp[~ok, j, c] = np.interp(frames[~ok], frames[ok], kp[ok, j, c])
    # a joint never seen at all: the frame's mean of the others (every frame has one by now,
    # since some joint was seen somewhere and was interpolated over all frames)
    never = bad.all(0)
    if never.any():
        kp[:, never, :2] = kp[:, ~never, :2].mean(1, keepdims=True)
    kp[..., 2] = np.where(bad, 0.0, np.nan_to_num(kp[..., 2], nan=0.0))
    return kp


def predict_file(ckpt_path: str | Path, keypoints_path: str | Path, flip: bool | None = None,
                 joint_set: str | None = None,
                 image_size: tuple[int, int] | None = None, model: str | None = None,
                 config: str | Path | None = None, video: str | None = None,
                 precision: str = "32-true", compile: object = False) -> dict[str, Any]:
    """Checkpoint + 2D file → `{"pose3d": (V, T, 17, 3) 2.5D, "pose2d": (V, T, 17, 3) px, …}`.

    The checkpoint's regime predicts (`bench.checkpoints.load_regime` and its
    `predict_sequence`), so a checkpoint of any regime predicts what its `test` scored.
    `model` / `config` name the lifter of an official checkpoint; `video` picks one video of a
    VideoPose3D archive. `precision` (`32-true`, `bf16-mixed`, or `auto` as
    `bench.precision.resolve_precision` decides it) and `compile` (a `trainer.compile` value)
    are those of `fit` / `test`.
    `result["confidence"]` reports the file's score scale and how many lifter-input joints
    are at or below the detection threshold (`datamodules.scores.confidence_report`).
    """
    from liftbench.bench.compiling import compile_lifter
    from liftbench.bench.precision import autocast, resolve_precision

    regime = load_regime(ckpt_path, model=model, config=config)
    precision, reason = resolve_precision(precision, "cpu", regime.hparams["lifter"])
    amp = autocast(precision)  # checked before the (long) compile
    compile_lifter(regime.lifter, compile)
    data = load_keypoints(keypoints_path, joint_set=joint_set, image_size=image_size,
                          video=video)
    kp = data["keypoints"]
    if data["joint_set"] != "h36m17":
        kp = convert(kp, data["joint_set"], "h36m17", has_confidence=True)
    filled_views = []
    for v in range(kp.shape[0]):
        try:
            filled_views.append(fill_missing(kp[v]))
        except ValueError as exc:
            raise ValueError(f"{keypoints_path}: {exc}") from None
    flip = bool(regime.flip_tta) if flip is None else flip
    views, inputs = [], []
    for v, filled in enumerate(filled_views):
        x = filled.copy()
        x[..., :2] = normalize_screen(filled[..., :2], data["image_size"][v])
        inputs.append(filled)
        # the regime's own prediction, as its `test` scored it (head, normaliser, flip, root)
        with amp:
            views.append(regime.predict_sequence(x, flip=flip))
    pose2d = np.stack(inputs)
    return {
        "pose3d": np.stack(views), "pose2d": pose2d, "image_size": data["image_size"],
        "lifter": regime.hparams["lifter"], "regime": regime.regime_name, "flip_tta": flip,
        "precision": precision, "precision_reason": reason,
        "units": "normalised 2.5D (root-relative, image-width units; README Conventions)",
        "source_joint_set": data.get("source_joint_set", data["joint_set"]),
        "notes": list(data.get("notes", [])),  # e.g. a metadata joint order the data contradict
        "confidence": confidence_report(pose2d[..., 2], data.get("score_scale", "")),
    }


def prediction_paths(out: str | Path) -> tuple[Path, Path]:
    """`(<out>.npz, <out>.json)`.

    An `.npz`/`.json` suffix of `out` is replaced, any other kept (`take.v1` → `take.v1.npz`).
    """
    return (with_extension(out, ".npz", (".npz", ".json")),
            with_extension(out, ".json", (".npz", ".json")))


def save_prediction(result: dict[str, Any], out: str | Path,
                    staging: Staging | None = None) -> list[Path]:
    """Write `<out>.npz` and `<out>.json` (the same 3D poses) and return their paths.

    Both files are written to temporary names and renamed at the end (`bench.outputs.staged`;
    pass `staging` to commit them together with other outputs), so a failure leaves neither.
    The JSON also reports the input's confidence scale and how many joints were below the
    detection threshold (`result["confidence"]`, when the reader measured it).
    """
    npz, js = prediction_paths(out)
    with staged() as own:
        stage = staging or own
        np.savez_compressed(stage.path(npz), pose3d=result["pose3d"], pose2d=result["pose2d"],
                            image_size=result["image_size"], lifter=result["lifter"],
                            units=result["units"])
        meta = {"lifter": result["lifter"], "regime": result.get("regime", "supervised"),
                "flip_tta": result["flip_tta"],
                "units": result["units"], "joint_set": "h36m17"}
        if result.get("source_joint_set"):
            meta["source_joint_set"] = result["source_joint_set"]
        if result.get("notes"):
            meta["notes"] = result["notes"]
        if result.get("confidence") is not None:
            meta["confidence"] = result["confidence"]
        if result.get("precision"):
            meta["precision"] = result["precision"]
        meta["pose3d"] = np.round(result["pose3d"], 6).tolist()
        stage.path(js).write_text(json.dumps(meta))
    return [npz, js]
