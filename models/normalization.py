"""Input / target standardisation of a lifter, with the statistics kept as buffers.

Martinez et al.'s SimpleBaseline (and many lifters since) z-score their 2D inputs and 3D targets
per coordinate with the training set's mean and standard deviation, and un-normalise the
prediction afterwards. `PoseNormalizer` holds those statistics as buffers, so they are saved in
every checkpoint of the module that owns it and applied unchanged at test and predict time.

Statistics are per joint and coordinate: inputs `(J, 2)` (x, y; the confidence channel passes
through), targets `(J, 3)` root-relative 2.5D. A standard deviation below `MIN_STD` (the root of
root-relative targets is always 0) is clamped, so a constant coordinate maps to 0 and back.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

MIN_STD = 1e-4  # normalised units (~0.1 mm at a 2 m distance): below this a coordinate is constant


class PoseNormalizer(nn.Module):
    """Per-joint z-scoring of `(..., J, 3)` inputs and un-z-scoring of `(..., J, 3)` outputs.

    Until `fit` is called (or fitted buffers are loaded from a checkpoint) it is the identity.

    Args:
        num_joints: J.
    """

    def __init__(self, num_joints: int = 17) -> None:
        super().__init__()
        self.register_buffer("in_mean", torch.zeros(num_joints, 2))
        self.register_buffer("in_std", torch.ones(num_joints, 2))
        self.register_buffer("out_mean", torch.zeros(num_joints, 3))
        self.register_buffer("out_std", torch.ones(num_joints, 3))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    @property
    def is_fitted(self) -> bool:
        """Whether statistics were fitted (or loaded)."""
        return bool(self.fitted)

    @torch.no_grad()
    def fit(self, inputs: np.ndarray | torch.Tensor,
            targets: np.ndarray | torch.Tensor | None) -> None:
        """Set the statistics from training clips.

        Args:
            inputs: `(..., J, 3)` normalised 2D + confidence (only x, y are used).
            targets: `(..., J, 3)` 2.5D targets; made root-relative (joint 0) before the moments.
                None (training without 3D labels): the output statistics stay the identity.

        Raises:
            ValueError: wrong shapes, no samples or non-finite values.
        """
        x = torch.as_tensor(np.asarray(inputs), dtype=torch.float64)
        y = None if targets is None else torch.as_tensor(np.asarray(targets), dtype=torch.float64)
        j = self.in_mean.shape[0]
        for name, arr in (("inputs", x), ("targets", y)):
            if arr is None:
                continue
            if arr.ndim < 2 or arr.shape[-2:] != (j, 3) or arr.numel() == 0:
                raise ValueError(f"{name} must have shape (..., {j}, 3) with at least one pose, "
                                 f"got {tuple(arr.shape)}")
            if not torch.isfinite(arr).all():
                raise ValueError(f"{name} contain non-finite values")
        x = x[..., :2].reshape(-1, j, 2)
        self.in_mean.copy_(x.mean(0))
        self.in_std.copy_(x.std(0, correction=0).clamp_min(MIN_STD))
        if y is not None:
            y = y.reshape(-1, j, 3)
            y = y - y[:, :1]
            self.out_mean.copy_(y.mean(0))
            self.out_std.copy_(y.std(0, correction=0).clamp_min(MIN_STD))
        self.fitted.fill_(True)

    def normalize_input(self, x: torch.Tensor) -> torch.Tensor:
        """`(..., J, 3)` → z-scored x, y; the third (confidence) channel unchanged."""
        xy = (x[..., :2] - self.in_mean.to(x.dtype)) / self.in_std.to(x.dtype)
        return torch.cat([xy, x[..., 2:]], dim=-1)

    def denormalize_output(self, y: torch.Tensor) -> torch.Tensor:
        """`(..., J, 3)` network output in z-units → 2.5D units."""
        return y * self.out_std.to(y.dtype) + self.out_mean.to(y.dtype)

    def normalize_target(self, y: torch.Tensor) -> torch.Tensor:
        """`(..., J, 3)` root-relative 2.5D target → z-units (inverse of `denormalize_output`)."""
        return (y - self.out_mean.to(y.dtype)) / self.out_std.to(y.dtype)


class StandardizedLifter(nn.Module):
    """A lifter between a `PoseNormalizer`'s input and output maps: `(B,T,J,3)` → `(B,T,J,3)`.

    Used where a lifter runs outside its regime (`liftbench predict`, pseudo-label passes); it
    forwards the attributes callers read (`max_frames`, `num_joints`, ...).
    """

    def __init__(self, lifter: nn.Module, normalizer: PoseNormalizer) -> None:
        super().__init__()
        self.lifter, self.normalizer = lifter, normalizer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Lift `(B, T, J, 3)` normalised 2D + confidence to `(B, T, J, 3)` 2.5D."""
        return self.normalizer.denormalize_output(self.lifter(self.normalizer.normalize_input(x)))

    @property
    def max_frames(self) -> int | None:
        """The wrapped lifter's largest T."""
        return getattr(self.lifter, "max_frames", None)

    @property
    def min_frames(self) -> int | None:
        """The wrapped lifter's shortest T (None: a fixed window of `max_frames`)."""
        return getattr(self.lifter, "min_frames", None)

    @property
    def output_frames(self) -> str:
        """The wrapped lifter's `"all"` / `"centre"` output."""
        return getattr(self.lifter, "output_frames", "all")

    @property
    def num_joints(self) -> int:
        """The wrapped lifter's J."""
        return int(getattr(self.lifter, "num_joints", 17))
