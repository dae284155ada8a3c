"""`liftbench perf datasets`: the dataset readers' acceptance figures.

- Real fixtures (`--fixtures DIR`, skipped when absent): the ground-truth 2D that the
  H36M and MPI-INF-3DHP readers compute from the fixture's 3D and cameras, against the 2D the
  fixture stores (max / mean pixel error per file).
- Humans7.1M: one synthetic take with the average body proportions, moved by N random
  similarity transforms (scale 0.5-2, any rotation, metres of translation) into N sources and
  merged: max distance of the key frame's reference joints from the universal references, and
  max difference between the merged copies (both should be ~1e-9 of a unit).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

NAME = "datasets"
HELP = "dataset readers: fixture 2D reprojection error, Humans7.1M alignment residuals"
# Real dataset fixtures are not shipped with liftbench: point `--fixtures` (or the environment
# variable) at a folder holding h36m/ and mpi_inf_3dhp/ fixtures.
_DEFAULT_FIXTURES = os.environ.get("LIFTBENCH_FIXTURES")


def add_arguments(q: argparse.ArgumentParser) -> None:
    """Options of the benchmark."""
    q.add_argument("--fixtures", type=Path, default=_DEFAULT_FIXTURES,
                   help="folder with h36m/ and mpi_inf_3dhp/ fixtures (default: "
                   "$LIFTBENCH_FIXTURES; skipped when unset or absent)")
    q.add_argument("--transforms", type=int, default=20,
                   help="random similarity transforms for the Humans7.1M check (default 20)")


def _fixture_errors(root: Path) -> dict:
    from liftbench.datamodules.h36m.reader import read_mmpose_npz as read_h36m
    from liftbench.datamodules.mpi_inf_3dhp.reader import read_mmpose_npz as read_3dhp
    from liftbench.datamodules.safe_pickle import load_npz
    from liftbench.geometry.skeletons import convert

    out = {}
    jobs = [("h36m", "test_h36m_body3d.npz", "cameras.pkl", read_h36m, "h36m17"),
            ("mpi_inf_3dhp", "test_3dhp_train.npz", "cameras_train.pkl", read_3dhp, "mpi3dhp17"),
            ("mpi_inf_3dhp", "test_3dhp_test.npz", "cameras_test.pkl", read_3dhp, "mpi3dhp17")]
    for ds, npz, cams, reader, joint_set in jobs:
        path = root / ds / npz
        if not path.is_file():
            continue
        data = load_npz(path)
        part = convert(data["part"][..., :2], joint_set, "h36m17")
        cam3d = convert(data["S"][..., :3], joint_set, "h36m17")
        recs = list(reader(path, root / ds / cams))
        errs = []
        for rec in recs:
            # the fixture row of this record: the one whose camera-frame 3D it carries
            i = int(np.argmin(np.abs(cam3d - rec.pose3d_camera()[0, 0]).sum((1, 2))))
            ref = part[i]
            errs.append(np.linalg.norm(rec.pose2d[0, 0, :, :2] - ref, axis=-1))
        e = np.concatenate(errs)
        out[f"{ds}/{npz}"] = {"frames": len(recs), "max_px": float(e.max()),
                              "mean_px": float(e.mean())}
    return out


def _average_person(world: np.ndarray, ratio: float) -> np.ndarray:
    w = world.copy()
    ls, rs = w[:, 11], w[:, 14]
    mid = (ls + rs) / 2
    u = (ls - rs) / np.linalg.norm(ls - rs, axis=-1, keepdims=True)
    d = w[:, 0] - mid
    d -= (d * u).sum(-1, keepdims=True) * u
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    w[:, 0] = mid + d * np.linalg.norm(ls - rs, axis=-1, keepdims=True) / ratio
    return w


def _humans71m(n: int) -> dict:
    from scipy.spatial.transform import Rotation

    from liftbench.datamodules.humans71m.universal import REF_JOINTS, key_frame, merge
    from liftbench.datamodules.records import SequenceRecord
    from liftbench.datamodules.synthetic import load_motion

    rng = np.random.default_rng(0)
    world = _average_person(load_motion("kick").joints[:60].astype(np.float64), 0.8)
    sources = {}
    for i in range(n):
        s, R, t = rng.uniform(0.5, 2.0), Rotation.random(random_state=rng).as_matrix(), \
            rng.normal(size=3) * 5
        moved = s * world @ R.T + t
        m = len(moved)
        sources[f"src{i}"] = [SequenceRecord(
            subject="S1", action="kick", take="kick", fps=50.0, pose2d=np.zeros((1, m, 17, 3)),
            K=np.eye(3)[None], R=np.broadcast_to(np.eye(3), (1, m, 3, 3)),
            t=np.zeros((1, m, 3)), image_size=[[1000, 1000]], pose3d_world=moved)]
    merged, info = merge(sources)
    k = key_frame(world)
    refs = np.asarray(info["references"])
    ref_err = max(float(np.abs(r.pose3d_world[k][list(REF_JOINTS)] / info["unit_m"] - refs).max())
                  for r in merged)
    copy_err = max(float(np.abs(r.pose3d_world - merged[0].pose3d_world).max() / info["unit_m"])
                   for r in merged)
    return {"sources": n, "ratio": info["ratio"], "max_ref_error_units": ref_err,
            "max_copy_difference_units": copy_err}


def run(args: argparse.Namespace) -> dict:
    """Measure and print the figures (module docstring)."""
    out: dict = {}
    if args.fixtures is not None and Path(args.fixtures).is_dir():
        out["fixtures"] = _fixture_errors(args.fixtures)
        for name, r in out["fixtures"].items():
            print(f"{name}: {r['frames']} frames, reprojection max {r['max_px']:.3g} px, "
                  f"mean {r['mean_px']:.3g} px")
    else:
        print(f"fixtures not found at {args.fixtures}: skipped")
    out["humans71m"] = h = _humans71m(args.transforms)
    print(f"humans71m: {h['sources']} similarity-transformed sources, key-frame references off "
          f"by <= {h['max_ref_error_units']:.2e} units, copies differ by <= "
          f"{h['max_copy_difference_units']:.2e} units")
    return out
