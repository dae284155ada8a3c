"""Pose metrics: pure functions (`functional`) and torchmetrics classes (`pose`).

Both work on `(..., T, J, 3)` millimetre tensors; the classes keep per-group states.

The torchmetrics classes accumulate sums of `functional.joint_errors`, the one core that
defines every metric's alignment and validity rules. Units: mm (`mpjve` mm/frame); `pck`, `auc`
and `jdr` in percent.
"""

from liftbench.bench.metrics import functional
from liftbench.bench.metrics.pose import (
    AUC,
    METRIC_CLASSES,
    MPJPE,
    MPJVE,
    NMPJPE,
    PAMPJPE,
    PCK,
    SPAMPJPE,
)

__all__ = [
    "AUC", "METRIC_CLASSES", "MPJPE", "MPJVE", "NMPJPE", "PAMPJPE", "PCK", "SPAMPJPE", "functional",
]
