"""torchmetrics classes of the pose metrics, with a per-group (action / subject) breakdown.

Each class accumulates, per group, the sum of its per-joint values and the number of valid
joints in fixed-size `(num_groups,)` tensor states with `dist_reduce_fx="sum"`, so a DDP
`compute()` reduces exactly (every evaluation sample counted once when the loaders shard without
padding, `datamodules/sampling.py`). The per-joint values come from the functional twins in
`bench.metrics.functional` (`joint_errors`), so class and function cannot disagree.

Averaging is over valid (frame, joint) pairs of all samples ("frame" averaging, the MotionBERT /
KASportsFormer protocol); `compute_groups()` gives the same average inside each group.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torchmetrics import Metric

from liftbench.bench.metrics.functional import AUC_THRESHOLDS_MM, joint_errors


def _check_groups(
    groups: torch.Tensor | None, batch: int, num_groups: int, device: torch.device
) -> torch.Tensor:
    if groups is None:
        return torch.zeros(batch, dtype=torch.long, device=device)
    groups = torch.as_tensor(groups, device=device)
    if groups.shape != (batch,) or groups.dtype.is_floating_point:
        raise ValueError(
            f"groups must be an integer tensor of shape ({batch},) (one group per sample), got "
            f"{tuple(groups.shape)} {groups.dtype}"
        )
    if batch and (groups.min() < 0 or groups.max() >= num_groups):
        raise ValueError(
            f"groups must lie in [0, {num_groups}) (num_groups={num_groups}), got values in "
            f"[{int(groups.min())}, {int(groups.max())}]"
        )
    return groups.long()


class _GroupedMean(Metric):
    """Mean of per-joint values, overall and per group (sum and count states)."""

    is_differentiable = False
    higher_is_better: bool | None = False
    full_state_update = False
    #: the `joint_errors` metric name the values come from
    error_kind = "mpjpe"
    #: number of values per group (1, or the number of thresholds for AUC)
    width = 1

    def __init__(
        self, num_groups: int = 1, joints: Sequence[int] | None = None, **kwargs: object
    ) -> None:
        super().__init__(**kwargs)
        if int(num_groups) < 1:
            raise ValueError(f"num_groups must be >= 1, got {num_groups}")
        self.num_groups = int(num_groups)
        self.joints = list(joints) if joints is not None else None
        shape = (self.num_groups, self.width)
        self.add_state("total", torch.zeros(shape, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state(
            "count", torch.zeros(self.num_groups, dtype=torch.float64), dist_reduce_fx="sum"
        )

    def _values(self, err: torch.Tensor) -> torch.Tensor:
        """Per-joint values `(B, T, J, width)` from per-joint errors `(B, T, J)` mm."""
        return err[..., None]

    def update(
        self,
        pred: torch.Tensor,
        target: torch.Tensor,
        mask: torch.Tensor | None = None,
        groups: torch.Tensor | None = None,
    ) -> None:
        """Accumulate a batch.

        Args:
            pred: `(B, T, J, 3)` predicted poses, millimetres.
            target: `(B, T, J, 3)` ground truth, millimetres (NaN joints count as masked).
            mask: optional bool `(B, T, J)`, True = joint evaluated.
            groups: optional integer `(B,)` group index of each sample (default group 0).
        """
        if pred.ndim != 4:
            raise ValueError(f"pred must have shape (B, T, J, 3), got {tuple(pred.shape)}")
        groups = _check_groups(groups, pred.shape[0], self.num_groups, self.total.device)
        if pred.shape[0] == 0:
            return
        err = joint_errors(
            pred.double(), target.double(), self.error_kind, mask=mask, joints=self.joints
        )
        ok = ~torch.isnan(err)
        vals = torch.where(ok[..., None], self._values(torch.nan_to_num(err)), 0.0)
        per_sample = vals.flatten(1, 2).sum(1)  # (B, width)
        counts = ok.flatten(1).sum(1).to(torch.float64)
        self.total.index_add_(0, groups, per_sample.to(torch.float64))
        self.count.index_add_(0, groups, counts)

    def _mean(self, total: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
        out = total / count.clamp_min(1)[..., None]
        out = torch.where(count[..., None] > 0, out, torch.full_like(out, float("nan")))
        return self._finish(out)

    def _finish(self, mean: torch.Tensor) -> torch.Tensor:
        """Turn `(..., width)` means into the metric value `(...)`."""
        return mean[..., 0]

    def local_value(self) -> torch.Tensor:
        """The overall value of this process's states (NaN when nothing valid was seen)."""
        return self._mean(self.total.sum(0), self.count.sum(0))

    def compute(self) -> torch.Tensor:
        """The overall value, over all ranks under DDP (NaN when nothing valid was seen)."""
        return self.local_value()

    def compute_groups(self) -> torch.Tensor:
        """Per-group values `(num_groups,)` of this process's states (NaN for empty groups).

        Under DDP call it inside `with metric.sync_context():` to see all ranks' data (as
        `bench.evaluation.EvalMetrics.compute` does).
        """
        return self._mean(self.total, self.count)


class MPJPE(_GroupedMean):
    """Mean per-joint position error, millimetres (no alignment beyond the root-relative input)."""

    error_kind = "mpjpe"


class PAMPJPE(_GroupedMean):
    """MPJPE after a per-frame similarity Procrustes alignment, millimetres."""

    error_kind = "pa_mpjpe"


class NMPJPE(_GroupedMean):
    """MPJPE after a per-frame optimal scale of the prediction, millimetres."""

    error_kind = "n_mpjpe"


class SPAMPJPE(_GroupedMean):
    """MPJPE after one similarity transform per sequence (the T frames of a sample), mm."""

    error_kind = "spa_mpjpe"


class MPJVE(_GroupedMean):
    """Mean per-joint velocity error (first differences), millimetres per frame.

    Clips of one frame (a sequence-to-frame lifter evaluated on its centre frame) have no
    velocity: they add nothing, so a run of only such clips reports NaN (not logged).
    """

    error_kind = "mpjve"

    def update(
        self,
        pred: torch.Tensor,
        target: torch.Tensor,
        mask: torch.Tensor | None = None,
        groups: torch.Tensor | None = None,
    ) -> None:
        """Accumulate a batch of `(B, T, J, 3)` mm clips; nothing when T < 2."""
        if pred.ndim == 4 and pred.shape[1] < 2:
            _check_groups(groups, pred.shape[0], self.num_groups, self.total.device)
            return
        super().update(pred, target, mask=mask, groups=groups)


class PCK(_GroupedMean):
    """Percentage of valid joints with MPJPE below `threshold` mm (3DHP protocol), in percent."""

    higher_is_better = True

    def __init__(
        self,
        num_groups: int = 1,
        joints: Sequence[int] | None = None,
        threshold: float = 150.0,
        **kwargs: object,
    ) -> None:
        super().__init__(num_groups, joints, **kwargs)
        self.threshold = float(threshold)

    def _values(self, err: torch.Tensor) -> torch.Tensor:
        return (err < self.threshold).to(torch.float64)[..., None]

    def _finish(self, mean: torch.Tensor) -> torch.Tensor:
        return 100.0 * mean[..., 0]


class AUC(_GroupedMean):
    """Area under the PCK curve over thresholds 0–150 mm (31 steps, 3DHP protocol), percent."""

    higher_is_better = True
    width = len(AUC_THRESHOLDS_MM)

    def _values(self, err: torch.Tensor) -> torch.Tensor:
        thr = torch.as_tensor(AUC_THRESHOLDS_MM, dtype=err.dtype, device=err.device)
        return (err[..., None] < thr).to(torch.float64)

    def _finish(self, mean: torch.Tensor) -> torch.Tensor:
        return 100.0 * mean.mean(-1)


METRIC_CLASSES: dict[str, type[_GroupedMean]] = {
    "mpjpe": MPJPE,
    "pa_mpjpe": PAMPJPE,
    "n_mpjpe": NMPJPE,
    "spa_mpjpe": SPAMPJPE,
    "mpjve": MPJVE,
    "pck": PCK,
    "auc": AUC,
}
