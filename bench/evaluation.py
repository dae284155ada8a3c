"""The evaluation bundle every regime uses: all 3D pose metrics with a per-group breakdown."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from liftbench.bench.metrics.pose import METRIC_CLASSES

#: metrics a regime logs as `<stage>/<name>`, all in mm (pck/auc in percent)
EVAL_METRICS = ("mpjpe", "pa_mpjpe", "n_mpjpe", "spa_mpjpe", "mpjve", "pck", "auc")


class EvalMetrics(nn.Module):
    """All metrics of `EVAL_METRICS` over the same batches, per group and overall.

    Args:
        num_groups: number of groups of the breakdown (e.g. actions); samples carry an index.
        joints: joint indices that enter the metrics (default all).
        names: which metrics (default `EVAL_METRICS`).
    """

    def __init__(self, num_groups: int = 1, joints: Sequence[int] | None = None,
                 names: Sequence[str] = EVAL_METRICS) -> None:
        super().__init__()
        unknown = sorted(set(names) - set(METRIC_CLASSES))
        if unknown:
            raise ValueError(f"unknown metrics {unknown} (known: {sorted(METRIC_CLASSES)})")
        self.metrics = nn.ModuleDict(
            {n: METRIC_CLASSES[n](num_groups=num_groups, joints=joints) for n in names}
        )

    def update(self, pred_mm: torch.Tensor, target_mm: torch.Tensor,
               mask: torch.Tensor | None = None, groups: torch.Tensor | None = None) -> None:
        """Add a batch.

        Args:
            pred_mm: `(B, T, J, 3)` prediction, millimetres.
            target_mm: `(B, T, J, 3)` ground truth, millimetres (NaN joints count as masked).
            mask: optional bool `(B, T, J)`, True = evaluated.
            groups: optional integer `(B,)` group of each sample.
        """
        for metric in self.metrics.values():
            metric.update(pred_mm, target_mm, mask=mask, groups=groups)

    def compute(self, group_names: Sequence[str] | None = None) -> dict[str, Any]:
        """`{"overall": {metric: float}, "groups": {group: {metric: float}}}`.

        Under DDP the states are summed over all ranks first (every rank must call this).
        Groups with no valid sample are left out of `"groups"`.
        """
        overall: dict[str, float] = {}
        per_group: dict[str, dict[str, float]] = {}
        for name, metric in self.metrics.items():
            # one sync for both views of the states (a wrapped compute() would sync again)
            with metric.sync_context(should_sync=True):
                overall[name] = float(metric.local_value())
                values = metric.compute_groups().tolist()
            for g, value in enumerate(values):
                label = group_names[g] if group_names is not None and g < len(group_names) \
                    else str(g)
                if not math.isnan(value):
                    per_group.setdefault(label, {})[name] = value
        return {"overall": overall, "groups": per_group}

    def reset(self) -> None:
        """Clear all states."""
        for metric in self.metrics.values():
            metric.reset()
