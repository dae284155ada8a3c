"""`liftbench calibrate`: multi-view 2D keypoints + intrinsics + a lifter → cameras and 3D.

Each view is lifted with the checkpoint's lifter (flip TTA), the cameras' extrinsics are
calibrated from the lifted bone directions (Lee et al., `geometry.calibration`), and every joint
is triangulated with confidence weights. Inputs:

- keypoints: one `.npz` take (`liftbench data synth` format: `pose2d (V, T, J, 3)`, `image_size`,
  and `K (V, 3, 3)`), or one file per view (`.npz`/`.json` as `liftbench predict` reads, each with
  `(T, J, 2|3)` pixels, or any detector format `liftbench predict` reads, with `--joint-set`
  / `--image-size` where the file does not say them), all with the same frame count;
- intrinsics: the take's `K`, or `--intrinsics cams.json` with `{"K": [K_1, …, K_V]}` or
  `{"cameras": [{"K": …, "dist": […]}, …]}` (3×3 pixel matrices, optional OpenCV distortion);
- `--pose3d FILE.npz` (`pose3d (V, T, 17, 3)`, e.g. from `liftbench predict`) instead of a
  checkpoint reuses existing monocular predictions: 2.5D by default (what `predict` writes),
  `--pose-space camera` for camera-frame 3D (any scale).

A depth-mirrored view (the monocular depth ambiguity) is detected and undone (see
`geometry.calibration.calibrate`); results that ran but look unreliable (not a rotation, large
reprojection error, identical views, most joints missing) print a warning on its own line,
naming the views, and are listed under `warnings` in `diagnostics.json`.

Outputs in `--out`: `cameras.json` (K, R, t, centre per camera and the gauge), `points3d.npz`
(triangulated world joints, per-camera 3D and 2.5D, the monocular input) and `diagnostics.json`
(eigen-gap, cheirality counts, rotation orthogonality, reprojection error; errors against the
take's ground-truth cameras when the take has them).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

GAUGE = {
    "world": "camera 1 (R_1 = I, t_1 = 0)",
    "unit": "camera-1 to camera-2 baseline (|t_2| = 1)",
    "convention": "X_cam = R X_world + t, OpenCV axes (x right, y down, z forward), pixels",
}


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register `calibrate`."""
    p = sub.add_parser(
        "calibrate", help="calibrate camera extrinsics from a moving person + triangulate 3D",
        description="Lift every view with a checkpoint, calibrate the cameras' extrinsics from "
        "the lifted bone directions (Lee et al.), triangulate with confidence weights. Writes "
        "OUT/cameras.json, OUT/points3d.npz and OUT/diagnostics.json.",
    )
    p.add_argument("keypoints", type=Path, nargs="+",
                   help="one multi-view .npz take, or one 2D file (.npz/.json) per view")
    p.add_argument("--checkpoint", type=Path, default=None, help="lifter checkpoint (best.ckpt)")
    p.add_argument("--pose3d", type=Path, default=None,
                   help="monocular 3D per view (.npz with pose3d (V, T, 17, 3)) instead of lifting")
    p.add_argument("--pose-space", choices=("2.5d", "camera"), default="2.5d",
                   help="what --pose3d holds: the lifter's 2.5D (default, as `predict` writes) or "
                   "camera-frame 3D")
    p.add_argument("--intrinsics", type=Path, default=None,
                   help="camera JSON: {\"K\": [K_1, ...]} or {\"cameras\": [{\"K\": ..., "
                   "\"dist\": [k1, k2, p1, p2, k3]}, ...]}, 3x3 pixel matrices in view order "
                   "(default: the take's K)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--solver", choices=("schur", "dense"), default="schur")
    p.add_argument("--ransac", action="store_true", help="robust linear fit (RANSAC)")
    p.add_argument("--ransac-iterations", type=int, default=100, help="RANSAC rounds (100)")
    p.add_argument("--ransac-threshold-px", type=float, default=50.0,
                   help="RANSAC point inlier threshold, mean reprojection error in px (50)")
    p.add_argument("--ransac-threshold-deg", type=float, default=10.0,
                   help="RANSAC bone-direction inlier threshold in degrees (10)")
    p.add_argument("--no-mirror-check", action="store_true",
                   help="do not resolve depth-mirrored views (keep the lifter's depth signs)")
    p.add_argument("--bundle-adjust", action="store_true", help="refine with least squares")
    p.add_argument("--orthonormalize", action="store_true", help="project rotations to SO(3)")
    p.add_argument("--min-confidence", type=float, default=0.0,
                   help="joints enter the calibration above this confidence in every view")
    p.add_argument("--no-flip", action="store_true", help="disable test-time flip averaging")
    p.add_argument("--joint-set", default=None,
                   help="joint order of detector files that do not say it (e.g. coco17)")
    p.add_argument("--image-size", type=int, nargs=2, default=None, metavar=("W", "H"),
                   help="image size of detector files that do not say it")
    p.set_defaults(func=_run)
    return p


_INTRINSICS = "a camera JSON {'K': [3x3 per view]} or {'cameras': [{'K': ..., 'dist': [...]}]}"


def _load_intrinsics(path: Path, views: int) -> tuple[np.ndarray, np.ndarray]:
    from liftbench.datamodules.input_errors import InputFileError, read_json, reading

    data = read_json(path, _INTRINSICS)
    with reading(path, _INTRINSICS):
        cams = data.get("cameras") if isinstance(data, dict) else None
        if cams is not None:
            K = [c.get("K") for c in cams]
            dist = [c.get("dist", [0.0] * 5) for c in cams]
        elif isinstance(data, dict) and "K" in data:
            K, dist = data["K"], data.get("dist", [[0.0] * 5] * views)
        else:
            raise InputFileError(f"{path}: expected {_INTRINSICS}")
        K = np.asarray(K, dtype=np.float64)
        dist = np.zeros((views, 5)) if dist is None else np.asarray(dist, dtype=np.float64)
    if K.shape != (views, 3, 3):
        raise InputFileError(f"{path}: K must have shape (V, 3, 3) = ({views}, 3, 3), got "
                             f"{K.shape}")
    if not np.isfinite(K).all():
        raise InputFileError(f"{path}: K holds non-finite values (NaN or inf); expected 3x3 "
                             "pixel matrices")
    if dist.ndim != 2 or dist.shape[0] != views or dist.shape[1] not in (4, 5, 8):
        raise InputFileError(f"{path}: dist must have shape (V, 4|5|8), got {dist.shape}")
    return K, dist


def _load_pose3d(path: Path, views: int, frames: int) -> np.ndarray:
    from liftbench.datamodules.input_errors import InputFileError, reading

    expected = f"an .npz with 'pose3d' ({views}, {frames}, 17, 3)"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found (expected {expected})")
    with reading(path, expected), np.load(path, allow_pickle=False) as f:
        if "pose3d" not in f.files:
            raise InputFileError(f"{path}: needs 'pose3d' (V, T, 17, 3)")
        lifted = np.asarray(f["pose3d"], dtype=np.float64)
    if lifted.shape != (views, frames, 17, 3):
        raise InputFileError(f"{path}: pose3d must have shape (V, T, 17, 3) = ({views}, "
                             f"{frames}, 17, 3), got {lifted.shape}")
    if not np.isfinite(lifted).any():
        raise InputFileError(f"{path}: pose3d holds no finite value")
    return lifted


def load_views(paths: list[Path], intrinsics: Path | None, joint_set: str | None = None,
               image_size: tuple[int, int] | None = None) -> dict[str, Any]:
    """Read the 2D of every view, their intrinsics and (from a take) the ground-truth cameras.

    Returns:
        `{"keypoints" (V, T, 17, 3) px + conf, "image_size" (V, 2), "K" (V, 3, 3),
        "dist" (V, 5|…), "gt": {"R", "t"} or {}, "score_scale": per file, how its confidences
        were read}`.
    """
    from liftbench.bench.predict import load_keypoints
    from liftbench.geometry.skeletons import convert

    views, sizes, scales = [], [], []
    for path in paths:
        data = load_keypoints(path, joint_set=joint_set, image_size=image_size)
        scales.append(data.get("score_scale", ""))
        kp = data["keypoints"]
        if data["joint_set"] != "h36m17":
            kp = convert(kp, data["joint_set"], "h36m17", has_confidence=True)
        views.append(kp)
        sizes.append(data["image_size"])
    frames = {v.shape[1] for v in views}
    if len(frames) > 1:
        counts = ", ".join(f"{p.name}: {v.shape[1]}" for p, v in zip(paths, views))
        raise ValueError(f"mismatched frame counts across the view files ({counts}); the views "
                         "must be synchronized and cut to the same frames")
    kp, size = np.concatenate(views), np.concatenate(sizes)
    V = kp.shape[0]
    gt: dict[str, np.ndarray] = {}
    K = dist = None
    if len(paths) == 1 and paths[0].suffix == ".npz":
        with np.load(paths[0], allow_pickle=False) as f:
            if "K" in f.files:
                K = np.asarray(f["K"], dtype=np.float64)
                dist = np.asarray(f["dist"], dtype=np.float64) if "dist" in f.files else None
            if "R" in f.files and "t" in f.files:
                R, t = np.asarray(f["R"]), np.asarray(f["t"])
                static = R.ndim == 4 and np.allclose(R, R[:, :1], atol=1e-6)
                if static:
                    gt = {"R": R[:, 0], "t": t[:, 0]}
    if intrinsics is not None:
        K, dist = _load_intrinsics(intrinsics, V)
    if K is None:
        raise ValueError("no intrinsics: the keypoint files carry no K; pass --intrinsics "
                         "cams.json with {'K': [3x3 per view]}")
    if K.shape != (V, 3, 3):
        raise ValueError(f"K must have shape (V, 3, 3) = ({V}, 3, 3), got {K.shape}")
    if dist is None:
        dist = np.zeros((V, 5))
    return {"keypoints": kp, "image_size": size, "K": K, "dist": dist, "gt": gt,
            "score_scale": scales}


def _view_names(paths: list[Path], views: int) -> str:
    """How messages name the views: `views 1-V of take.npz`, or `view 1 = a.json, ...`."""
    if len(paths) == 1:
        return f"views 1-{views} of {paths[0]}"
    return ", ".join(f"view {i + 1} = {p}" for i, p in enumerate(paths))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return np.round(value, 10).tolist()
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


def _run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from liftbench.bench.checkpoints import load_regime
    from liftbench.bench.outputs import staged
    from liftbench.bench.predict import fill_missing
    from liftbench.bench.pseudolabels import MultiViewTake, pseudo_labels
    from liftbench.geometry.calibration import CalibrationWarning, extrinsic_errors
    from liftbench.geometry.cameras import camera_center, normalize_screen

    if (args.checkpoint is None) == (args.pose3d is None):
        raise ValueError("give exactly one of --checkpoint (lift the views) or --pose3d")
    size = tuple(args.image_size) if args.image_size else None
    data = load_views(list(args.keypoints), args.intrinsics, args.joint_set, size)
    kp = data["keypoints"]
    V, T = kp.shape[:2]
    if V < 2:
        raise ValueError(f"calibration needs at least 2 cameras, the keypoint files hold V={V}")
    # every input is read before the progress bar starts (errors then print on their own line)
    lifted = None if args.pose3d is None else _load_pose3d(args.pose3d, V, T)
    regime = None if args.checkpoint is None else load_regime(args.checkpoint)
    out: Path = args.out
    bar = tqdm(total=V + 2, desc="calibrate", unit="step")
    filled = np.stack([fill_missing(kp[v]) for v in range(V)])
    inputs = filled.copy()
    inputs[..., :2] = normalize_screen(filled[..., :2], data["image_size"][:, None, None])
    if regime is not None:
        views_3d = []
        for v in range(V):
            bar.set_postfix_str(f"lift view {v + 1}/{V}")
            # the checkpoint's regime predicts, as in its `test` and in `liftbench predict`
            views_3d.append(regime.predict_sequence(inputs[v], flip=not args.no_flip))
            bar.update()
        lifted = np.stack(views_3d)
    else:
        bar.update(V)
    bar.set_postfix_str("calibrate + triangulate")
    take = MultiViewTake(take=0, inputs=inputs, pose2d_px=filled, K=data["K"],
                         image_size=data["image_size"], dist=data["dist"], action=0)
    calib = {"solver": args.solver, "ransac": args.ransac, "bundle_adjust": args.bundle_adjust,
             "orthonormalize": args.orthonormalize, "min_confidence": args.min_confidence,
             "ransac_iterations": args.ransac_iterations,
             "ransac_threshold_px": args.ransac_threshold_px,
             "ransac_threshold_deg": args.ransac_threshold_deg,
             "resolve_mirror": not args.no_mirror_check,
             "pose_space": args.pose_space if args.pose3d is not None else "2.5d"}
    views = _view_names(list(args.keypoints), V)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", CalibrationWarning)
            result = pseudo_labels(take, lifted, calib)
        bar.update(2)
    except ValueError as err:
        raise ValueError(f"calibration of {views} failed: {err}") from err
    finally:
        bar.close()  # errors and warnings go on their own lines, not the bar's
    for w in caught:
        if issubclass(w.category, CalibrationWarning):
            print(f"warning: {w.message} [{views}]", file=sys.stderr)
    R, t, diag = result["R"], result["t"], result["diagnostics"]
    centres = camera_center(R, t) if args.orthonormalize else -np.linalg.solve(R, t[..., None])[
        ..., 0]
    cams = [{"name": f"cam{c + 1}", "K": data["K"][c], "R": R[c], "t": t[c], "centre": centres[c],
             "image_size": data["image_size"][c], "dist": data["dist"][c]} for c in range(V)]
    summary = {k: v for k, v in diag.items() if k not in ("points_3d", "visible")}
    if data["gt"]:
        summary["ground_truth"] = extrinsic_errors(R, t, data["gt"]["R"], data["gt"]["t"])
    summary["score_scale"] = data["score_scale"]
    cam3d = np.einsum("cij,tkj->ctki", R, result["world"]) + t[:, None, None]
    with staged() as stage:  # the three files appear together, or none after an error
        stage.path(out / "cameras.json").write_text(json.dumps(_jsonable(
            {"gauge": GAUGE, "cameras": cams, "diagnostics": {
                "eigen_gap": diag["eigen_gap"], "cheirality": diag["cheirality"],
                "reprojection_px": diag["reprojection_px"]}}), indent=1))
        np.savez_compressed(stage.path(out / "points3d.npz"), world=result["world"],
                            pose3d_camera=cam3d, pose25d=result["labels"], valid=result["valid"],
                            lifted=lifted, R=R, t=t, K=data["K"],
                            units="calibration units: the camera-1 to camera-2 baseline")
        stage.path(out / "diagnostics.json").write_text(json.dumps(_jsonable(summary), indent=1))
    print(f"calibrated {V} cameras from {T} frames ({diag['num_directions']} bone directions, "
          f"{diag['num_points']} points): eigen-gap {diag['eigen_gap']:.2e}, cheirality "
          f"{diag['cheirality']['positive']}/{diag['cheirality']['negative']}, reprojection "
          f"{diag['reprojection_px']:.2f} px")
    if data["gt"]:
        gt = summary["ground_truth"]
        print(f"vs ground truth: rotation {gt['rotation_deg_mean']:.3f} deg, centres "
              f"{gt['centre_error_rel_mean']:.4f} of the rig size")
    for name in ("cameras.json", "points3d.npz", "diagnostics.json"):
        print(f"wrote {out / name}")
    return 0
