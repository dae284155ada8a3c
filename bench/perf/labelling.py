"""`liftbench perf labelling`: the geometry of the pseudo-label loop, with a perfect lifter.

1. **Fixed point.** The lifter is replaced by the ground-truth 2.5D at iteration 0 and, after
   that, by its own labels (a lifter that reproduces its labels exactly): the loop calibrates,
   triangulates the *detector* 2D and re-labels, `--iterations` times. Any systematic error of
   the geometry shows up as drift of the rotation error over the iterations. Rows: the 2.5D
   output read as 2.5D (`pose_space="2.5d"`, the default), and read as camera-frame 3D without
   the mirror resolution (the earlier behaviour, which this benchmark guards against).
2. **Depth mirror.** The ground-truth 2.5D with the depth of one view, or of every view,
   negated (the monocular depth ambiguity), calibrated with and without the mirror resolution.

Takes: the synthetic capture's multi-view takes of `--motions` (every set), a `--cameras` ring,
detector-model 2D. Figures: the mean rotation error over cameras 2..C and takes (degrees).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import warnings

import numpy as np

from liftbench.bench.pseudolabels import MultiViewTake

NAME = "labelling"
HELP = "pseudo-label geometry: perfect-lifter loop drift and depth-mirror resolution"
TARGET_DRIFT_DEG = 0.2
TARGET_EXACT_DEG = 0.05
TARGET_MIRROR_DEG = 1.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `liftbench perf labelling`."""
    parser.add_argument("--iterations", type=int, default=5, help="loop passes after the first")
    parser.add_argument("--motions", nargs="+", default=["walk", "run", "jump", "kick"],
                        help="capture motions (default: walk run jump kick)")
    parser.add_argument("--subjects", type=int, default=2)
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--noise", default="detector", choices=["clean", "detector", "hard"])
    parser.add_argument("--seed", type=int, default=0)


def capture_takes(args: argparse.Namespace) -> list[MultiViewTake]:
    """Every multi-view take of the capture (`bench.pseudolabels.MultiViewTake`)."""
    from liftbench.bench.pseudolabels import load_clip_arrays, takes_from_clips
    from liftbench.datamodules.synthetic.datamodule import SyntheticDataModule

    dm = SyntheticDataModule(motions=list(args.motions), subjects=args.subjects,
                             cameras=args.cameras, views=2, noise=args.noise, seed=args.seed,
                             split="random", cache_dir=tempfile.mkdtemp(prefix="labelling-"))
    dm.prepare_data()
    takes = []
    for name in ("train", "val", "adapt", "test"):
        folder = dm.cache_path / name
        if folder.is_dir() and any(folder.glob("*.npy")):
            stride = dm.config["stride" if name in ("train", "adapt") else "test_stride"]
            takes += takes_from_clips(load_clip_arrays(folder), args.cameras, stride)[0]
    return takes


def _rotation(take: MultiViewTake, R: np.ndarray, t: np.ndarray) -> float:
    from liftbench.geometry.calibration import extrinsic_errors

    return float(extrinsic_errors(R, t, take.gt["R"], take.gt["t"])["rotation_deg"][1:].mean())


def run(args: argparse.Namespace) -> dict:
    """Run both checks; print and return the figures."""
    with warnings.catch_warnings():  # close votes etc. are part of what is measured
        warnings.simplefilter("ignore")
        return _run(args)


def _run(args: argparse.Namespace) -> dict:
    from liftbench.bench.pseudolabel_metrics import label_loop
    from liftbench.bench.pseudolabels import pseudo_labels

    if args.iterations < 1 or args.cameras < 2:
        raise ValueError("--iterations >= 1 and --cameras >= 2 are required")
    takes = [t for t in capture_takes(args) if t.gt.get("static")]
    if not takes:
        raise ValueError("the capture has no static-rig takes to evaluate rotations on")
    loop = {}
    for space in ("2.5d", "camera"):
        # "camera" is the reading this guards against, run as it was (no mirror resolution)
        cal = {"pose_space": space, "resolve_mirror": space == "2.5d"}
        per_take = [[r["rotation_deg"] for r in label_loop(t, t.gt["target"], args.iterations,
                                                            cal)] for t in takes]
        loop[space] = [statistics.mean(col) for col in zip(*per_take)]
    drift = {s: max(abs(v - rows[0]) for v in rows) for s, rows in loop.items()}
    print(f"perfect-lifter loop ({len(takes)} takes, {args.cameras} cameras, {args.noise} 2D): "
          "mean rotation error (deg) per iteration")
    print("| lifter output read as | " + " | ".join(f"it {k}" for k in range(
        args.iterations + 1)) + " | max drift |")
    print("|---" * (args.iterations + 3) + "|")
    for space, rows in loop.items():
        print(f"| {space} | " + " | ".join(f"{v:.3f}" for v in rows) + f" | {drift[space]:.3f} |")

    exact = statistics.mean(
        _rotation(t, *pseudo_labels_clean(t)) for t in takes)
    print(f"exact 2.5D + clean 2D, pose_space='2.5d': rotation error {exact:.2e} deg")

    mirror = {}
    C = args.cameras
    for label, views in (("one view", [C // 2]), ("every view", list(range(C)))):
        for resolve in (True, False):
            errs, found = [], 0
            for t in takes:
                p = t.gt["target"].copy()
                p[views, ..., 2] *= -1
                res = pseudo_labels(t, p, {"resolve_mirror": resolve})
                errs.append(_rotation(t, res["R"], res["t"]))
                found += res["diagnostics"]["mirrored_views"] == views
            mirror[f"{label}, {'resolved' if resolve else 'not resolved'}"] = {
                "rotation_deg_mean": statistics.mean(errs), "rotation_deg_max": max(errs),
                "detected": found / len(takes) if resolve else None}
    print("depth-mirrored ground-truth 2.5D + detector 2D: rotation error (deg)")
    print("| mirrored | mean | max | mirrored views reported |\n|---|---|---|---|")
    for name, r in mirror.items():
        det = "-" if r["detected"] is None else f"{100 * r['detected']:.0f}% of takes"
        print(f"| {name} | {r['rotation_deg_mean']:.3f} | {r['rotation_deg_max']:.3f} | {det} |")
    ok = (drift["2.5d"] <= TARGET_DRIFT_DEG and exact <= TARGET_EXACT_DEG and all(
        r["rotation_deg_max"] < TARGET_MIRROR_DEG for k, r in mirror.items() if "not" not in k))
    print(f"targets: drift <= {TARGET_DRIFT_DEG} deg, exact <= {TARGET_EXACT_DEG} deg, mirrored "
          f"< {TARGET_MIRROR_DEG} deg: {'PASS' if ok else 'FAIL'}")
    return {"takes": len(takes), "loop_rotation_deg": loop, "loop_drift_deg": drift,
            "exact_rotation_deg": exact, "mirror": mirror, "pass": bool(ok)}


def pseudo_labels_clean(take: MultiViewTake) -> tuple[np.ndarray, np.ndarray]:
    """Calibrate a take from its exact 2.5D and its noise-free projected 2D."""
    from liftbench.geometry.calibration import calibrate
    from liftbench.geometry.cameras import projection_matrix

    P = projection_matrix(take.K, take.gt["R"], take.gt["t"])  # (C, 3, 4)
    X = np.concatenate([take.gt["pose3d_world"], np.ones(take.gt["pose3d_world"].shape[:-1]
                                                          + (1,))], -1)
    h = np.einsum("cij,nkj->cnki", P, X)
    uv = h[..., :2] / h[..., 2:]
    R, t, _ = calibrate(take.gt["target"], uv, np.ones(uv.shape[:-1]), take.K,
                        pose_space="2.5d", image_size=take.image_size)
    return R, t
