"""`liftbench perf calibration`: extrinsic self-calibration speed and accuracy.

1. **Timing** (target: 3 cameras × 10,000 frames in < 5 s): a synthetic person (a
   standing H36M-17 pose deformed per joint and frame, turning and walking about) inside a ring
   of 3 cameras, exact 2D and exact monocular 3D, so the timed run must also come out exact
   (rotation error < 0.01°, centre error < 1e-6 of the rig size). Median of `--repeats`.
2. **Noise-free rigs of 2–8 cameras** on the same generator: the exactness check per camera count.
3. **Errors versus noise** on real motion (DeepMimic sports clips, 4-camera ring): the 2D is
   corrupted by the detector model of `datamodules/synthetic/detector.py` with every magnitude
   and rate multiplied by `k`; the monocular 3D input is the true camera-frame pose plus
   Gaussian joint noise of `k × 30 mm` (a stand-in for a lifter's error). Rows: mean rotation
   error (degrees, cameras 2..C) and camera-centre error (fraction of the rig size) of the linear
   method, and optionally (`--bundle-adjust`) after bundle adjustment.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import statistics
import time
import warnings

import numpy as np

NAME = "calibration"
HELP = "extrinsic self-calibration: 3 cameras x 10,000 frames timing, exactness, error vs noise"

TARGET_S = 5.0
TARGET_DEG = 0.01
TARGET_REL = 1e-6
MONO_NOISE_MM = 30.0

# standing H36M-17 pose, metres, z up
_TEMPLATE = np.array([
    [0, 0, 0], [-0.13, 0, 0], [-0.13, 0.02, -0.45], [-0.13, 0, -0.89], [0.13, 0, 0],
    [0.13, 0.02, -0.45], [0.13, 0, -0.89], [0, 0, 0.23], [0, 0.01, 0.48], [0, 0.06, 0.56],
    [0, 0, 0.68], [0.17, 0, 0.43], [0.18, 0, 0.16], [0.19, 0.02, -0.09], [-0.17, 0, 0.43],
    [-0.18, 0, 0.16], [-0.19, 0.02, -0.09],
])  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the benchmark's options to `parser`."""
    parser.add_argument("--frames", type=int, default=10_000, help="frames timed (default 1e4)")
    parser.add_argument("--cameras", type=int, default=3, help="cameras timed (default 3)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs (median; default 3)")
    parser.add_argument("--levels", type=float, nargs="+", default=[0.0, 0.5, 1.0, 2.0, 4.0],
                        help="noise multipliers k of the error table (default 0 0.5 1 2 4)")
    parser.add_argument("--motions", nargs="+", default=["run", "jump", "kick", "punch"],
                        help="DeepMimic clips of the error table")
    parser.add_argument("--bundle-adjust", action="store_true",
                        help="add bundle-adjusted columns to the error table")
    parser.add_argument("--seed", type=int, default=0)


def _look_at(eye: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = (target - eye) / np.linalg.norm(target - eye)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    R = np.stack([x, np.cross(z, x), z])
    return R, -R @ eye


def synthetic_scene(frames: int, cameras: int, seed: int = 0) -> dict[str, np.ndarray]:
    """A person moving inside a camera ring, exact observations.

    Returns:
        `{"Xc" (C, T, 17, 3) camera-frame joints (m), "uv" (C, T, 17, 2) px, "conf" (C, T, 17),
        "K" (C, 3, 3), "R" (C, 3, 3), "t" (C, 3)}`.
    """
    rng = np.random.default_rng(seed)
    yaw = rng.uniform(-np.pi, np.pi, frames)
    c, s = np.cos(yaw), np.sin(yaw)
    turn = np.zeros((frames, 3, 3))
    turn[:, 0, 0], turn[:, 0, 1], turn[:, 1, 0], turn[:, 1, 1], turn[:, 2, 2] = c, -s, s, c, 1
    pose = _TEMPLATE + rng.normal(0, 0.08, (frames, 17, 3))
    X = np.einsum("tij,tkj->tki", turn, pose)
    X += np.stack([rng.uniform(-1, 1, frames), rng.uniform(-1, 1, frames),
                   np.ones(frames)], -1)[:, None]
    R, t, K = [], [], []
    for i in range(cameras):
        a = 2 * np.pi * i / cameras + rng.uniform(-0.3, 0.3)
        d = rng.uniform(4.0, 6.0)
        Ri, ti = _look_at(np.array([d * np.cos(a), d * np.sin(a), rng.uniform(0.5, 2.5)]),
                          np.array([0.0, 0.0, 1.0]))
        f = rng.uniform(900, 1500)
        R.append(Ri)
        t.append(ti)
        K.append(np.array([[f, 0, 960], [0, f, 540], [0, 0, 1.0]]))
    R, t, K = np.array(R), np.array(t), np.array(K)
    Xc = np.stack([X @ R[i].T + t[i] for i in range(cameras)])
    h = np.einsum("cij,ctkj->ctki", K, Xc)
    uv = h[..., :2] / h[..., 2:]
    return {"Xc": Xc, "uv": uv, "conf": np.ones(uv.shape[:-1]), "K": K, "R": R, "t": t}


def _scaled_noise(k: float) -> object:
    from liftbench.datamodules.synthetic.detector import NOISE_PRESETS

    base = NOISE_PRESETS["detector"]
    if k == 0:
        return NOISE_PRESETS["clean"]
    fields = ("jitter", "outlier_rate", "outlier_scale", "swap_rate", "miss_rate", "miss_scale")
    return dataclasses.replace(base, **{f: getattr(base, f) * k for f in fields})


def error_table(levels: list[float], motions: list[str], bundle: bool, seed: int) -> list[dict]:
    """Rotation / centre errors of the calibration versus the noise multiplier `k`."""
    from liftbench.datamodules.synthetic.capture import iter_takes
    from liftbench.datamodules.synthetic.detector import apply_detector
    from liftbench.geometry.calibration import calibrate, extrinsic_errors

    takes = list(iter_takes(motions, subjects=1, rig="ring", cameras=4, noise="clean",
                            seed=seed))
    rows = []
    for k in levels:
        rng = np.random.default_rng([seed, int(k * 1000)])
        errs: dict[str, list[float]] = {"rot": [], "cen": [], "rot_ba": [], "cen_ba": []}
        for rec in takes:
            px = apply_detector(rec.pose2d_clean, _scaled_noise(k), rng)
            px[..., 2] = np.where(rec.valid, px[..., 2], 0.0)
            X = rec.pose3d_camera()
            mono = X + rng.normal(0, k * MONO_NOISE_MM / 1000.0, X.shape)
            variants = [("", False)] + ([("_ba", True)] if bundle else [])
            for suffix, ba in variants:
                with warnings.catch_warnings():  # close cheirality votes at high noise
                    warnings.simplefilter("ignore")
                    R, t, _ = calibrate(mono, px[..., :2], px[..., 2], rec.K, bundle_adjust=ba)
                e = extrinsic_errors(R, t, rec.R[:, 0], rec.t[:, 0])
                errs["rot" + suffix].append(float(e["rotation_deg"][1:].mean()))
                errs["cen" + suffix].append(e["centre_error_rel_mean"])
        row = {"k": k, "jitter_px_frac": _scaled_noise(k).jitter if k else 0.0,
               "mono_noise_mm": k * MONO_NOISE_MM, "takes": len(takes),
               "rotation_deg": statistics.mean(errs["rot"]),
               "centre_error_rel": statistics.mean(errs["cen"])}
        if bundle:
            row["rotation_deg_ba"] = statistics.mean(errs["rot_ba"])
            row["centre_error_rel_ba"] = statistics.mean(errs["cen_ba"])
        rows.append(row)
    return rows


def run(args: argparse.Namespace) -> dict:
    """Time, check exactness, tabulate errors versus noise; print and return the figures."""
    from liftbench.geometry.calibration import calibrate, extrinsic_errors

    if args.frames < 2 or args.repeats < 1 or not 2 <= args.cameras <= 8:
        raise ValueError("--frames >= 2, --repeats >= 1 and --cameras in 2..8 are required")
    scene = synthetic_scene(args.frames, args.cameras, args.seed)
    load_before = os.getloadavg()[0]
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        R, t, diag = calibrate(scene["Xc"], scene["uv"], scene["conf"], scene["K"])
        times.append(time.perf_counter() - start)
    load_after = os.getloadavg()[0]
    err = extrinsic_errors(R, t, scene["R"], scene["t"])
    seconds = statistics.median(times)
    timing = {"cameras": args.cameras, "frames": args.frames, "points": diag["num_points"],
              "directions": diag["num_directions"], "seconds": seconds,
              "rotation_deg_max": float(err["rotation_deg"].max()),
              "centre_error_rel_max": float(err["centre_error_rel"].max()),
              "pass": bool(seconds < TARGET_S), "load_average": [load_before, load_after]}
    print(f"calibrate {args.cameras} cameras x {args.frames:,} frames ({diag['num_points']:,} "
          f"points, {diag['num_directions']:,} bone directions): {seconds:.3f} s (median of "
          f"{args.repeats}; target < {TARGET_S} s: {'PASS' if timing['pass'] else 'FAIL'}), "
          f"1-min load {load_before:.2f} -> {load_after:.2f}")
    print(f"  exact data: rotation error {timing['rotation_deg_max']:.2e} deg, centre error "
          f"{timing['centre_error_rel_max']:.2e} of the rig size")

    exact = []
    for C in range(2, 9):
        s = synthetic_scene(300, C, args.seed + C)
        R, t, _ = calibrate(s["Xc"], s["uv"], s["conf"], s["K"])
        e = extrinsic_errors(R, t, s["R"], s["t"])
        ok = e["rotation_deg"].max() < TARGET_DEG and e["centre_error_rel"].max() < TARGET_REL
        exact.append({"cameras": C, "rotation_deg_max": float(e["rotation_deg"].max()),
                      "centre_error_rel_max": float(e["centre_error_rel"].max()), "pass": bool(ok)})
    print("noise-free rigs (300 frames): " + ", ".join(
        f"C={r['cameras']}: {r['rotation_deg_max']:.1e} deg / {r['centre_error_rel_max']:.1e}"
        f" {'PASS' if r['pass'] else 'FAIL'}" for r in exact))

    rows = error_table(list(args.levels), list(args.motions), args.bundle_adjust, args.seed)
    head = "| k | detector jitter (box frac.) | mono 3D noise (mm) | rotation (deg) | centre (rel.)"
    head += " | rotation BA (deg) | centre BA (rel.) |" if args.bundle_adjust else " |"
    print(f"\nerrors vs noise ({rows[0]['takes'] if rows else 0} takes of {args.motions}, "
          "4-camera ring; detector model x k, monocular 3D + k x 30 mm):")
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for r in rows:
        line = (f"| {r['k']:g} | {r['jitter_px_frac']:.3f} | {r['mono_noise_mm']:.0f} | "
                f"{r['rotation_deg']:.3f} | {r['centre_error_rel']:.4f} |")
        if args.bundle_adjust:
            line += f" {r['rotation_deg_ba']:.3f} | {r['centre_error_rel_ba']:.4f} |"
        print(line)
    ok = timing["pass"] and all(r["pass"] for r in exact) and all(
        math.isfinite(r["rotation_deg"]) for r in rows)
    return {"timing": timing, "noise_free": exact, "noise_table": rows, "pass": bool(ok)}
