"""Pose metrics: pure functions on `(..., T, J, 3)` millimetre tensors (`functional`).

The torchmetrics classes accumulate sums of `functional.joint_errors`, the one core that
defines every metric's alignment and validity rules.
"""

from bench.metrics import functional

__all__ = ["functional"]
