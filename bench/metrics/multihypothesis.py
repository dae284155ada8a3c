"""Multi-hypothesis evaluation (D3DP, Shan et al., ICCV 2023): aggregate H poses, then score one.

A probabilistic lifter returns H hypotheses `(B, H, T, J, 3)` per clip. Four ways to turn them
into one pose, as the official D3DP evaluation (`main.py`, `common/loss.py`) defines them:

- `p_agg` — pose-level aggregation: the mean over hypotheses (uses no ground truth).
- `j_agg` — joint-level aggregation (JPMA): per (clip, frame, joint) the hypothesis whose 2D
  reprojection is closest to the 2D input. The official code reprojects metres with the camera
  intrinsics and the ground-truth root trajectory (`project_h36m`); in liftbench's 2.5D units a
  pose's x, y are the image coordinates relative to the root, so `reproject_25d` needs only the 2D
  input's root (no camera, no ground truth).
- `j_best` — ORACLE: per joint the hypothesis closest to the ground truth.
- `p_best` — ORACLE: one hypothesis per clip (`per="sample"`), the one with the smallest mean
  error. The official code picks one hypothesis for its whole batch (one test video), which
  `per="batch"` reproduces; liftbench's metrics use `per="sample"` so that a value does not depend
  on how clips are batched.

The oracles read the ground truth, so their numbers are bounds, not estimates: the run record
keeps them under their own metric names (`mpjpe_j_best`, ...) and a multi-hypothesis protocol.
Functions take tensors in one unit (mm for the metrics); 2D reprojections are in the units of
the 2D input. `torch.argmin` takes the first index on ties, as the official `torch.min`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from liftbench.bench.metrics.functional import joint_errors
from liftbench.bench.metrics.pose import _GroupedMean
from liftbench.geometry.distortion import distort_normalized_h36m

AGGREGATIONS = ("p_agg", "j_agg", "j_best", "p_best")
ORACLES = ("j_best", "p_best")


def _check_hyps(hyps: torch.Tensor, target: torch.Tensor | None = None) -> None:
    if not isinstance(hyps, torch.Tensor) or hyps.ndim != 5 or hyps.shape[-1] != 3:
        shape = tuple(hyps.shape) if isinstance(hyps, torch.Tensor) else type(hyps).__name__
        raise ValueError(f"hypotheses must have shape (B, H, T, J, 3), got {shape}")
    if target is not None and (target.ndim != 4 or target.shape != hyps[:, 0].shape):
        raise ValueError(f"target must have shape {tuple(hyps[:, 0].shape)} (B, T, J, 3), got "
                         f"{tuple(target.shape)}")


def hypothesis_errors(hyps: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-hypothesis joint errors `(B, H, T, J)`: `‖hyps − target‖₂` (units of the inputs)."""
    _check_hyps(hyps, target)
    return torch.linalg.vector_norm(hyps - target[:, None], dim=-1)


def gather_joints(hyps: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """The pose `(B, T, J, 3)` taking joint (b, t, j) from hypothesis `index[b, t, j]`."""
    idx = index[:, None, :, :, None].expand(-1, 1, -1, -1, hyps.shape[-1])
    return torch.gather(hyps, 1, idx)[:, 0]


def p_agg(hyps: torch.Tensor) -> torch.Tensor:
    """P-Agg: the mean pose over hypotheses, `(B, H, T, J, 3)` → `(B, T, J, 3)`."""
    _check_hyps(hyps)
    return hyps.mean(dim=1)


def j_best(hyps: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """J-Best (oracle): per joint the hypothesis closest to `target`.

    Returns:
        The pose `(B, T, J, 3)` and the chosen hypothesis per joint `(B, T, J)` int64.
    """
    err = torch.nan_to_num(hypothesis_errors(hyps, target), nan=0.0)
    index = err.argmin(dim=1)
    return gather_joints(hyps, index), index


def p_best(hyps: torch.Tensor, target: torch.Tensor, per: str = "sample",
           mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """P-Best (oracle): the whole-pose hypothesis with the smallest mean joint error.

    Args:
        hyps: `(B, H, T, J, 3)`.
        target: `(B, T, J, 3)` (NaN joints are left out of the mean).
        per: `"sample"` (one choice per clip) or `"batch"` (one for the whole batch, as the
            official evaluation, whose batch is one test video).
        mask: optional bool `(B, T, J)`, True = joint counts in the mean.

    Returns:
        The pose `(B, T, J, 3)` and the choice: `(B,)` for `per="sample"`, `()` for `"batch"`.
    """
    if per not in ("sample", "batch"):
        raise ValueError(f"per must be 'sample' or 'batch', got {per!r}")
    err = hypothesis_errors(hyps, target)
    valid = ~torch.isnan(err)
    if mask is not None:
        valid = valid & mask[:, None]
    err = torch.where(valid, err, 0.0)
    dims = (2, 3) if per == "sample" else (0, 2, 3)
    mean = err.sum(dims) / valid.sum(dims).clamp_min(1)
    if per == "sample":
        index = mean.argmin(dim=1)
        return hyps[torch.arange(hyps.shape[0], device=hyps.device), index], index
    index = mean.argmin()
    return hyps[:, index], index


def j_agg(hyps: torch.Tensor, reproj_2d: torch.Tensor,
          input_2d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """J-Agg (JPMA): per joint the hypothesis whose reprojection is closest to the 2D input.

    Args:
        hyps: `(B, H, T, J, 3)`.
        reproj_2d: `(B, H, T, J, 2)` 2D reprojection of every hypothesis (`reproject_25d`, or
            `project_h36m` for metric camera-frame poses).
        input_2d: `(B, T, J, 2)` the (non-flipped) 2D input, same units as `reproj_2d`.

    Returns:
        The pose `(B, T, J, 3)` and the chosen hypothesis per joint `(B, T, J)` int64.
    """
    _check_hyps(hyps)
    if reproj_2d.shape != (*hyps.shape[:-1], 2) or input_2d.shape != (*target_shape(hyps), 2):
        raise ValueError(f"reproj_2d must be {(*hyps.shape[:-1], 2)} and input_2d "
                         f"{(*target_shape(hyps), 2)}, got {tuple(reproj_2d.shape)} and "
                         f"{tuple(input_2d.shape)}")
    err = torch.linalg.vector_norm(reproj_2d - input_2d[:, None], dim=-1)
    index = err.argmin(dim=1)
    return gather_joints(hyps, index), index


def target_shape(hyps: torch.Tensor) -> tuple[int, ...]:
    """`(B, T, J)` of hypotheses `(B, H, T, J, 3)`."""
    return (hyps.shape[0], *hyps.shape[2:4])


def reproject_25d(hyps: torch.Tensor, input_2d: torch.Tensor, root: int = 0) -> torch.Tensor:
    """2D reprojection of root-relative 2.5D hypotheses: `x, y` plus the 2D input's root.

    In liftbench's 2.5D convention x, y are the normalised image coordinates minus the root's,
    so the image position of a joint is its x, y plus the root's 2D position.

    Args:
        hyps: `(B, H, T, J, 3)` normalised 2.5D.
        input_2d: `(B, T, J, ≥2)` normalised 2D input (its root joint is used).
        root: root joint index.

    Returns:
        `(B, H, T, J, 2)`.
    """
    _check_hyps(hyps)
    rel = hyps[..., :2] - hyps[..., root : root + 1, :2]
    return rel + input_2d[:, None, :, root : root + 1, :2]


def project_h36m(points: torch.Tensor, intrinsic: torch.Tensor) -> torch.Tensor:
    """Project camera-frame points with Human3.6M's lens model (VideoPose3D `project_to_2d`).

    Args:
        points: `(..., 3)` camera-frame points (metres).
        intrinsic: `(9,)` `[fx, fy, cx, cy, k1, k2, k3, p1, p2]`, normalised as VideoPose3D's
            `Human36mDataset` does (focal / width·2, centre via `normalize_screen_coordinates`).

    Returns:
        `(..., 2)` normalised image coordinates; x/z and y/z are clamped to [−1, 1] first, as
        the official code does.
    """
    if intrinsic.shape[-1] != 9:
        raise ValueError(f"intrinsic must have 9 entries (fx, fy, cx, cy, k1, k2, k3, p1, p2), "
                         f"got shape {tuple(intrinsic.shape)}")
    xy = torch.clamp(points[..., :2] / points[..., 2:], min=-1, max=1)
    xy = distort_normalized_h36m(xy, intrinsic[..., 4:7], intrinsic[..., 7:9])
    return intrinsic[..., :2] * xy + intrinsic[..., 2:4]


def aggregate(hyps: torch.Tensor, aggregation: str, target: torch.Tensor | None = None,
              reproj_2d: torch.Tensor | None = None, input_2d: torch.Tensor | None = None,
              mask: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
    """One pose `(B, T, J, 3)` from hypotheses `(B, H, T, J, 3)` by `aggregation`.

    `j_best` / `p_best` (oracles) need `target`; `j_agg` needs `reproj_2d` and `input_2d`.
    """
    if aggregation == "p_agg":
        return p_agg(hyps)
    if aggregation in ORACLES:
        if target is None:
            raise ValueError(f"{aggregation} is an oracle: it needs the target")
        return j_best(hyps, target)[0] if aggregation == "j_best" else \
            p_best(hyps, target, mask=mask)[0]
    if aggregation == "j_agg":
        if reproj_2d is None or input_2d is None:
            raise ValueError("j_agg needs reproj_2d (B, H, T, J, 2) and input_2d (B, T, J, 2)")
        return j_agg(hyps, reproj_2d, input_2d)[0]
    raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {aggregation!r}")


def multi_hypothesis_error(
    hyps: torch.Tensor, target: torch.Tensor, aggregation: str, metric: str = "mpjpe",
    reproj_2d: torch.Tensor | None = None, input_2d: torch.Tensor | None = None,
    mask: torch.Tensor | None = None, joints: Sequence[int] | None = None,
) -> torch.Tensor:  # fmt: skip
    """Mean error of the aggregated pose, a 0-dim tensor in the units of the inputs.

    `metric` is a `functional.joint_errors` metric; NaN when no joint is valid.
    """
    pose = aggregate(hyps, aggregation, target, reproj_2d, input_2d, mask)
    err = joint_errors(pose, target, metric, mask=mask, joints=joints)
    return err.nanmean()


class MultiHypothesisError(_GroupedMean):
    """A pose metric of aggregated hypotheses, per group (torchmetrics; sum / count states).

    Args:
        aggregation: one of `AGGREGATIONS`.
        error_kind: the `joint_errors` metric (`mpjpe`, `pa_mpjpe`, `n_mpjpe`, ...).
        num_groups: groups of the breakdown.
        joints: joint indices that enter the metric.
    """

    def __init__(self, aggregation: str = "p_agg", error_kind: str = "mpjpe",
                 num_groups: int = 1, joints: Sequence[int] | None = None,
                 **kwargs: object) -> None:  # fmt: skip
        if aggregation not in AGGREGATIONS:
            raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {aggregation!r}")
        super().__init__(num_groups, joints, **kwargs)
        self.aggregation, self.error_kind = aggregation, error_kind

    def update(  # type: ignore[override]
        self, hyps: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None,
        groups: torch.Tensor | None = None, reproj_2d: torch.Tensor | None = None,
        input_2d: torch.Tensor | None = None,
    ) -> None:  # fmt: skip
        """Accumulate a batch.

        Args:
            hyps: `(B, H, T, J, 3)` hypotheses, millimetres.
            target: `(B, T, J, 3)` ground truth, millimetres.
            mask: optional bool `(B, T, J)`.
            groups: optional `(B,)` group index per sample.
            reproj_2d: `(B, H, T, J, 2)` reprojections (for `j_agg`).
            input_2d: `(B, T, J, 2)` 2D input (for `j_agg`).
        """
        _check_hyps(hyps, target)
        pose = aggregate(hyps, self.aggregation, target, reproj_2d, input_2d, mask)
        super().update(pose, target, mask=mask, groups=groups)


def metric_name(error_kind: str, aggregation: str) -> str:
    """Record / log name of a multi-hypothesis metric: `mpjpe_j_best`, `pa_mpjpe_p_agg`, ..."""
    return f"{error_kind}_{aggregation}"
