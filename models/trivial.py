"""Trivial baselines registered like lifters: a trained lifter must beat them by a wide margin.

- `mean_pose`: always the training set's mean root-relative pose. Its network output is 0 in
  z-units; the regime's `PoseNormalizer` (fitted on the training targets, `standardize = True`)
  turns that into the mean pose.
- `copy_2d`: the detected 2D, root-centred, with depth 0. In the 2.5D convention x, y of the
  target *are* the normalised projection minus the root's, so this is exact up to depth and
  detector noise: it measures how much of the error a lifter removes by lifting at all.

Neither has parameters to train (`trainable = False`): `liftbench fit` fits the statistics and
goes straight to the test.
"""

from __future__ import annotations

import torch

from liftbench.geometry.skeletons import ROOT
from liftbench.models.base import Lifter
from liftbench.models.registry import register_lifter


class _TrivialBaseline(Lifter):
    """A parameter-free lifter: nothing to train (`trainable = False`)."""

    uses_confidence = False
    trainable = False

    def __init__(self, num_joints: int = 17) -> None:
        super().__init__()
        self.num_joints = num_joints


class MeanPose(_TrivialBaseline):
    """`(B, T, J, 3)` → zeros `(B, T, J, 3)` in z-units (the mean pose once un-normalised)."""

    standardize = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Zeros shaped like `x` (`(B, T, J, 3)`)."""
        self.check_input(x)
        return torch.zeros_like(x)


class Copy2D(_TrivialBaseline):
    """`(B, T, J, 3)` → `(x − x_root, y − y_root, 0)`, root-relative 2.5D with zero depth."""

    standardize = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Root-centred x, y of `x` `(B, T, J, 3)` and a zero depth channel."""
        self.check_input(x)
        xy = x[..., :2] - x[..., ROOT : ROOT + 1, :2]
        return torch.cat([xy, torch.zeros_like(xy[..., :1])], dim=-1)


@register_lifter(paper="trivial baseline: the mean training pose", tiny={})
def mean_pose(**overrides: object) -> MeanPose:
    """The mean-pose baseline (no parameters)."""
    return MeanPose(**overrides)  # type: ignore[arg-type]


@register_lifter(paper="trivial baseline: detected 2D with zero depth", tiny={})
def copy_2d(**overrides: object) -> Copy2D:
    """The copy-the-2D baseline (no parameters)."""
    return Copy2D(**overrides)  # type: ignore[arg-type]


TRIVIAL_BASELINES = ("mean_pose", "copy_2d")
