"""Ground-truth figures of pseudo-labelling passes (evaluation only, never labels).

`evaluate_take` measures one pass on one take, `pool_metrics` pools takes frame-weighted, and
`label_loop` runs the labelling loop with a perfect lifter (its labels fed back) to check that
the geometry is a fixed point (`liftbench perf labelling`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from liftbench.bench.metrics.functional import pa_mpjpe, spa_mpjpe
from liftbench.bench.pseudolabels import MultiViewTake, pseudo_labels
from liftbench.geometry.calibration import extrinsic_errors


def _torch(x: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x, dtype=np.float64))


def evaluate_take(
    take: MultiViewTake, lifted: np.ndarray, result: dict[str, Any],
    joints: list[int] | None = None,
) -> dict[str, tuple[float, float]]:
    """Ground-truth errors of one pass on one take (evaluation only).

    Returns `{metric: (sum, count)}` so several takes pool frame-weighted:
    `mono_pa_mpjpe` (each camera's lifted 2.5D vs the true 2.5D, both × the true factor, per
    frame, as the test metric),
    `multi_pa_mpjpe` (triangulated vs world 3D, per frame), `multi_spa_mpjpe` (one similarity
    for the whole take), `label_pa_mpjpe` (2.5D labels vs 2.5D ground truth), and, for static
    rigs, `rotation_deg` and `centre_error_rel` (per camera, `extrinsic_errors`). mm.
    """
    gt = take.gt
    out: dict[str, tuple[float, float]] = {}

    def pool(name: str, per_frame: torch.Tensor) -> None:
        v = per_frame[torch.isfinite(per_frame)]
        out[name] = (float(v.sum()), float(v.numel()))

    if "target" in gt and "factor" in gt:
        mm = _torch(gt["factor"])[..., None, None]  # both in mm with the true 2.5D factor
        # the protocol's metric space (2.5D x factor), as the test metrics
        pool("mono_pa_mpjpe", pa_mpjpe(_torch(lifted) * mm, _torch(gt["target"]) * mm,
                                       joints=joints, reduction="none").flatten())
        pool("label_pa_mpjpe", pa_mpjpe(_torch(result["labels"]) * mm, _torch(gt["target"]) * mm,
                                        mask=torch.from_numpy(result["valid"]), joints=joints,
                                        reduction="none").flatten())
    if "pose3d_world" in gt:
        est, ref = _torch(result["world"]), _torch(gt["pose3d_world"] * 1000.0)
        ok = torch.isfinite(est).all(-1)
        pool("multi_pa_mpjpe", pa_mpjpe(est, ref, mask=ok, joints=joints,
                                        reduction="none"))
        spa = spa_mpjpe(est[None], ref[None], mask=ok[None], joints=joints)
        n = float(ok.any(-1).sum())
        if torch.isfinite(spa):
            out["multi_spa_mpjpe"] = (float(spa) * n, n)
    if gt.get("static"):
        err = extrinsic_errors(result["R"], result["t"], gt["R"], gt["t"])
        C = take.num_cameras
        out["rotation_deg"] = (float(err["rotation_deg"][1:].sum()), float(C - 1))
        out["centre_error_rel"] = (float(err["centre_error_rel"].sum()), float(C))
    return out


def pool_metrics(parts: list[dict[str, tuple[float, float]]]) -> dict[str, float]:
    """Pool `evaluate_take` outputs: `{metric: Σ sums / Σ counts}`."""
    sums: dict[str, list[float]] = {}
    for part in parts:
        for k, (s, n) in part.items():
            acc = sums.setdefault(k, [0.0, 0.0])
            acc[0] += s
            acc[1] += n
    return {k: s / n for k, (s, n) in sums.items() if n > 0}


def label_loop(
    take: MultiViewTake, lifted: np.ndarray, iterations: int,
    calibration: dict[str, Any] | None = None, joints: list[int] | None = None,
) -> list[dict[str, float]]:
    """The labelling loop with a *perfect* lifter: each pass's labels are the next pass's input.

    A lifter that reproduces its training labels exactly turns fine-tuning into this map, so the
    loop must be (close to) a fixed point: any systematic error in the geometry (e.g. a
    space mismatch between the lifter output and what the calibration expects) shows up as
    drift over the iterations. Joints without a label keep the previous pass's pose.

    Args:
        take: the take (its 2D is what every pass triangulates).
        lifted: `(C, N, J, 3)` iteration 0's lifted 2.5D (e.g. the ground-truth 2.5D).
        iterations: passes after the first.
        calibration: keyword arguments of `geometry.calibration.calibrate`.
        joints: evaluation joints.

    Returns:
        One `evaluate_take` row per pass (`iterations + 1`), pooled: `rotation_deg`,
        `label_pa_mpjpe`, ... plus `iteration`.
    """
    rows = []
    current = np.asarray(lifted, dtype=np.float64)
    for k in range(iterations + 1):
        result = pseudo_labels(take, current, calibration)
        row = pool_metrics([evaluate_take(take, current, result, joints)])
        row["iteration"] = float(k)
        rows.append(row)
        current = np.where(result["valid"][..., None], result["labels"], current)
    return rows
