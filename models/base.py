"""The lifter contract shared by every model (see README "Bring your own lifter")."""

from __future__ import annotations

import torch
from torch import nn


class Lifter(nn.Module):
    """Base class of 2D→3D lifters.

    Input `x` is `(B, T, J, 3)`: x, y normalised by image width and the detector confidence.
    Output is `(B, T, J, 3)` root-relative 2.5D in the same normalised units. Subclasses set:

    Attributes:
        joint_set: name of the joint set the model is built for (a `geometry.skeletons` key).
        num_joints: J.
        uses_confidence: whether channel 3 of the input is used.
        max_frames: the largest T the model supports (None: any length).
        min_frames: the shortest T it takes; None (the default) means a fixed window of
            `max_frames`: a shorter clip is edge-padded to it at inference
            (`bench.sequence_lifting`). MotionBERT takes any T up to its `maxlen` (1).
        feature_dim: channel count C of `forward_features` output `(B, T, J, C)`, if provided.
        standardize: whether the paper z-scores inputs and targets with training-set statistics
            (`models.normalization`); the regimes do it when `regime.standardize=auto`.
        trainable: False for the trivial baselines, which need statistics but no training.
        default_regime: the training regime the lifter is made for (`"supervised"`; D3DP's
            denoiser: `"diffusion"`); an official checkpoint is evaluated in it.
        output_frames: `"all"` (sequence to sequence: every output frame is a prediction) or
            `"centre"` (sequence to frame, e.g. P-STMO: only frame `(T - 1) // 2` is the
            model's prediction); the regimes evaluate the frames it names.
    """

    joint_set: str = "h36m17"
    num_joints: int = 17
    uses_confidence: bool = True
    max_frames: int | None = None
    min_frames: int | None = None
    feature_dim: int | None = None
    standardize: bool = False
    trainable: bool = True
    output_frames: str = "all"
    default_regime: str = "supervised"

    def check_input(self, x: torch.Tensor) -> None:
        """Raise a clear `ValueError` unless `x` is `(B, T, num_joints, 3)` with T ≤ max_frames."""
        name = type(self).__name__
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"{name}: x must be a torch.Tensor, got {type(x).__name__}")
        if x.ndim != 4 or x.shape[-2] != self.num_joints or x.shape[-1] != 3:
            raise ValueError(
                f"{name}: x must have shape (B, T, {self.num_joints}, 3) "
                f"(x, y, confidence), got {tuple(x.shape)}"
            )
        if x.shape[0] == 0 or x.shape[1] == 0:
            raise ValueError(f"{name}: x is empty, shape {tuple(x.shape)}")
        if self.max_frames is not None and x.shape[1] > self.max_frames:
            raise ValueError(
                f"{name}: built for at most T={self.max_frames} frames, got T={x.shape[1]} "
                f"(expected shape (B, T<={self.max_frames}, {self.num_joints}, 3))"
            )
