"""Pose metrics: pure functions (`functional`) and torchmetrics classes (`pose`).

Both work on `(..., T, J, 3)` millimetre tensors; the classes keep per-group states.
`multihypothesis` scores probabilistic lifters' `(B, H, T, J, 3)` hypotheses (P-Agg, J-Agg and
the J-Best / P-Best oracles).

The torchmetrics classes accumulate sums of `functional.joint_errors`, the one core that
defines every metric's alignment and validity rules. Units: mm (`mpjve` mm/frame); `pck`, `auc`
and `jdr` in percent.
"""

from liftbench.bench.metrics import functional, multihypothesis
from liftbench.bench.metrics.multihypothesis import MultiHypothesisError
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
    "AUC", "METRIC_CLASSES", "MPJPE", "MPJVE", "MultiHypothesisError", "NMPJPE", "PAMPJPE", "PCK",
    "SPAMPJPE", "functional", "multihypothesis",
]
