"""`liftbench perf metrics`: PA-MPJPE throughput of ours vs numpy SVD implementations.

Three implementations of the same number (per-frame similarity Procrustes, mean joint error, mm):

- ours: `bench.metrics.functional.pa_mpjpe` (SVD-free Horn quartic closed form, torch, float64);
- a per-frame python loop with `np.linalg.svd` (timed on a subset, extrapolated linearly — its
  cost is exactly per-frame, and a million iterations would take minutes);
- a batched `np.linalg.svd` over chunks of frames (all vectorised numpy; the chunk size that
  was fastest on the project's CPU, so the comparison does not flatter ours).

Targets: ours ≥ 10× the loop and ≥ 2× the batched SVD; all three agree to 1e-6 mm.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

NAME = "metrics"
HELP = "PA-MPJPE over a million poses: ours vs per-frame and batched numpy SVD (targets 10x/2x)"

TARGET_VS_LOOP = 10.0
TARGET_VS_BATCHED = 2.0
AGREEMENT_MM = 1e-6
BATCHED_CHUNK = 8192

# A standing H36M-17 pose in mm (root at the origin, y up), order as in README "Conventions".
_TEMPLATE_MM = np.array([
    [0, 0, 0], [-130, 0, 0], [-130, -450, 20], [-130, -890, 0], [130, 0, 0], [130, -450, 20],
    [130, -890, 0], [0, 230, 0], [0, 480, 10], [0, 560, 60], [0, 680, 0], [170, 430, 0],
    [180, 160, 0], [190, -90, 20], [-170, 430, 0], [-180, 160, 0], [-190, -90, 20],
], dtype=np.float64)  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the benchmark's options to `parser`."""
    parser.add_argument("--poses", type=int, default=1_000_000, help="poses N (default 1e6)")
    parser.add_argument(
        "--loop-poses", type=int, default=20_000,
        help="poses the per-frame loop is timed on, then extrapolated to N (default 20,000)",
    )  # fmt: skip
    parser.add_argument("--repeats", type=int, default=3, help="timed runs (median; default 3)")
    parser.add_argument("--seed", type=int, default=0)


def _random_rotations(rng: np.random.Generator, n: int) -> np.ndarray:
    """`(n, 3, 3)` uniformly random rotations (normalised Gaussian quaternions)."""
    q = rng.normal(size=(n, 4))
    w, x, y, z = (q / np.linalg.norm(q, axis=1, keepdims=True)).T
    return np.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], axis=-1).reshape(n, 3, 3)  # fmt: skip


def realistic_poses(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Target and predicted H36M-17 poses, `(n, 17, 3)` float64 mm each.

    Targets: the standing template deformed per joint (σ 80 mm) and turned about the vertical
    axis; predictions: the target rotated by a random small-to-large rotation, scaled 0.8–1.2,
    shifted up to 1 m, plus 40 mm joint noise; every 50th prediction is mirrored (left/right
    confusion — the Procrustes reflection case).
    """
    rng = np.random.default_rng(seed)
    target = np.empty((n, 17, 3))
    pred = np.empty((n, 17, 3))
    for i in range(0, n, 100_000):  # bounded temporaries
        m = min(100_000, n - i)
        yaw = rng.uniform(-np.pi, np.pi, m)
        c, s = np.cos(yaw), np.sin(yaw)
        turn = np.zeros((m, 3, 3))
        turn[:, 0, 0], turn[:, 0, 2], turn[:, 1, 1], turn[:, 2, 0], turn[:, 2, 2] = c, s, 1, -s, c
        t = (_TEMPLATE_MM + rng.normal(0, 80, (m, 17, 3))) @ turn.transpose(0, 2, 1)
        p = rng.uniform(0.8, 1.2, (m, 1, 1)) * t @ _random_rotations(rng, m).transpose(0, 2, 1)
        p += rng.uniform(-1000, 1000, (m, 1, 3)) + rng.normal(0, 40, (m, 17, 3))
        p[(np.arange(m) + i) % 50 == 0, :, 0] *= -1
        target[i : i + m], pred[i : i + m] = t, p
    return pred, target


def pa_mpjpe_loop(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per-frame PA-MPJPE `(n,)` mm: a python loop with `np.linalg.svd` per `(17, 3)` frame."""
    out = np.empty(len(pred))
    for i in range(len(pred)):
        p, q = pred[i], target[i]
        mp, mq = p.mean(0), q.mean(0)
        pc, qc = p - mp, q - mq
        u, sig, vt = np.linalg.svd(qc.T @ pc)
        if np.linalg.det(u @ vt) < 0:
            u[:, 2] *= -1
            sig[2] *= -1
        s = sig.sum() / (pc * pc).sum()
        out[i] = np.linalg.norm(s * pc @ (u @ vt).T - qc, axis=1).mean()
    return out


def pa_mpjpe_batched(
    pred: np.ndarray, target: np.ndarray, chunk: int = BATCHED_CHUNK
) -> np.ndarray:
    """Per-frame PA-MPJPE `(n,)` mm: batched `np.linalg.svd` over chunks of frames."""
    out = np.empty(len(pred))
    for i in range(0, len(pred), chunk):
        p, q = pred[i : i + chunk], target[i : i + chunk]
        pc = p - p.mean(1, keepdims=True)
        qc = q - q.mean(1, keepdims=True)
        u, sig, vt = np.linalg.svd(qc.transpose(0, 2, 1) @ pc)
        d = np.where(np.linalg.det(u @ vt) < 0, -1.0, 1.0)
        u[:, :, 2] *= d[:, None]
        sig[:, 2] *= d
        scale = sig.sum(1) / (pc * pc).sum((1, 2))
        r = scale[:, None, None] * (u @ vt)
        diff = pc @ r.transpose(0, 2, 1) - qc
        out[i : i + chunk] = np.sqrt((diff * diff).sum(-1)).mean(-1)
    return out


def _timed_interleaved(
    fns: dict[str, Callable[[], object]], repeats: int
) -> dict[str, tuple[float, object]]:
    """Median seconds and last result of each function, runs interleaved round-robin.

    Interleaving spreads the load of a shared machine evenly over the implementations compared.
    """
    times: dict[str, list[float]] = {k: [] for k in fns}
    results: dict[str, object] = {}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - start)
    return {k: (statistics.median(v), results[k]) for k, v in times.items()}


def run(args: argparse.Namespace) -> dict:
    """Time the three implementations, check agreement, print and return the figures."""
    from liftbench.bench.metrics.functional import pa_mpjpe

    n, n_loop = args.poses, min(args.loop_poses, args.poses)
    if n < 1 or n_loop < 1 or args.repeats < 1:
        raise ValueError("--poses, --loop-poses and --repeats must be >= 1")
    pred, target = realistic_poses(n, args.seed)
    p_t, q_t = torch.from_numpy(pred), torch.from_numpy(target)

    load_before = os.getloadavg()[0]
    timed = _timed_interleaved(
        {
            "ours": lambda: float(pa_mpjpe(p_t, q_t)),
            "batched": lambda: pa_mpjpe_batched(pred, target),
        },
        args.repeats,
    )
    (ours_s, ours_mean), (batched_s, batched) = timed["ours"], timed["batched"]
    start = time.perf_counter()
    loop = pa_mpjpe_loop(pred[:n_loop], target[:n_loop])
    loop_sub_s = time.perf_counter() - start
    load_after = os.getloadavg()[0]
    loop_s = loop_sub_s * n / n_loop

    ours_frames = pa_mpjpe(p_t, q_t, reduction="none").numpy()
    diff_batched = float(np.abs(ours_frames - batched).max())
    diff_loop = float(np.abs(ours_frames[:n_loop] - loop).max())
    diff_mean = abs(ours_mean - float(batched.mean()))
    agree = max(diff_batched, diff_loop, diff_mean) <= AGREEMENT_MM
    vs_loop, vs_batched = loop_s / ours_s, batched_s / ours_s
    ok_loop, ok_batched = vs_loop >= TARGET_VS_LOOP, vs_batched >= TARGET_VS_BATCHED

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    print(f"PA-MPJPE over N = {n:,} poses of 17 joints (float64, mm), "
          f"torch threads = {torch.get_num_threads()}, median of {args.repeats} interleaved runs, "
          f"1-min load average {load_before:.2f} -> {load_after:.2f}")  # fmt: skip
    print(f"  mean PA-MPJPE {ours_mean:.6f} mm")
    print(f"  {'ours (Horn quartic, no SVD)':<44}{ours_s:8.3f} s")
    print(
        f"  {f'batched np.linalg.svd (chunks of {BATCHED_CHUNK})':<44}{batched_s:8.3f} s  "
        f"speed-up {vs_batched:5.1f}x (target {TARGET_VS_BATCHED:g}x) {verdict(ok_batched)}"
    )
    print(
        f"  {'per-frame np.linalg.svd loop':<44}{loop_s:8.3f} s  "
        f"speed-up {vs_loop:5.1f}x (target {TARGET_VS_LOOP:g}x) {verdict(ok_loop)}"
    )
    print(
        f"    (loop timed on the first {n_loop:,} poses: {loop_sub_s:.3f} s, extrapolated "
        f"linearly to {n:,})"
    )
    print(
        f"  agreement: max |Δ| per frame vs batched {diff_batched:.2e} mm, vs loop "
        f"{diff_loop:.2e} mm, of the mean {diff_mean:.2e} mm "
        f"(tolerance {AGREEMENT_MM:g} mm) {verdict(agree)}"
    )
    return {
        "poses": n, "loop_poses_timed": n_loop, "loop_extrapolated": n_loop < n,
        "pa_mpjpe_mm": ours_mean, "ours_s": ours_s, "batched_svd_s": batched_s,
        "loop_svd_s": loop_s, "loop_svd_subset_s": loop_sub_s,
        "speedup_vs_loop": vs_loop, "speedup_vs_batched": vs_batched,
        "target_vs_loop": TARGET_VS_LOOP, "target_vs_batched": TARGET_VS_BATCHED,
        "pass_vs_loop": ok_loop, "pass_vs_batched": ok_batched,
        "max_diff_vs_batched_mm": diff_batched, "max_diff_vs_loop_mm": diff_loop,
        "diff_of_mean_mm": diff_mean, "agree": agree,
        "load_average_before": load_before, "load_average_after": load_after,
    }  # fmt: skip
