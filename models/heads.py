"""Heads on a lifter's `forward_features` `(B, T, J, C)`: the HeatPose volumetric head.

SoloPose (Jeong et al. §4.1) turns its temporal features into a 3D heatmap with "3 convolutional
networks" over an image-like feature map. A keypoint lifter's features are one token per joint
instead, so the head here is a per-token MLP (shared by all joints; the lifter's features already
carry the joint identity) that emits the logits of one distribution per joint:

- `factorised` (default): three axis distributions of N bins, `(B, T, J, 3, N)`. Memory per
  sample (one clip) is `T·J·3·N` logits: 27 frames × 17 joints × 3 × 65 bins = 89,505 floats
  (358 KB fp32), so fine grids cost nothing.
- `volume`: a full N³ volume per joint, `(B, T, J, N, N, N)`, with logits
  `z(x, y, z) = a(x) + b(y) + c(z) + Σ_r u_r(x)·v_r(y)·w_r(z)` (a separable part plus a rank-R
  CP term), so the head emits `3·N·(1 + R)` numbers per joint and its parameters do not grow
  with N³; only the logits themselves do: `T·J·N³` per sample, e.g. 27 × 17 × 33³ = 16.5 M
  floats (66 MB fp32), 27 × 17 × 65³ = 126 M floats (504 MB). `bytes_per_sample` gives the
  figure for any setting, and volumes above `MAX_VOLUME_BINS` are refused.
"""

from __future__ import annotations

import torch
from torch import nn

MODES = ("factorised", "volume")
# 65³ voxels per joint is already 504 MB of fp32 logits per 27-frame clip (plus as much again
# for the softmax and gradient); use the factorised mode for finer grids.
MAX_VOLUME_BINS = 65


class HeatPoseHead(nn.Module):
    """Per-joint HeatPose logits from lifter features.

    Args:
        in_dim: feature channels C of the lifter's `forward_features` (its `feature_dim`).
        bins: voxel centres per axis N.
        mode: `"factorised"` (three axis distributions) or `"volume"` (N³ per joint).
        hidden: width of the MLP's hidden layer.
        rank: R of the volume mode's CP term (ignored when factorised).
    """

    def __init__(self, in_dim: int, bins: int = 65, mode: str = "factorised", hidden: int = 256,
                 rank: int = 4) -> None:  # fmt: skip
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if in_dim < 1 or hidden < 1 or bins < 2:
            raise ValueError(f"in_dim, hidden must be >= 1 and bins >= 2, got {in_dim}, {hidden}, "
                             f"{bins}")
        if mode == "volume" and bins > MAX_VOLUME_BINS:
            raise ValueError(
                f"bins={bins} in volume mode needs {bins**3:,} logits per joint and frame (more "
                f"than {MAX_VOLUME_BINS}³); use mode='factorised' or fewer bins"
            )
        if mode == "volume" and rank < 0:
            raise ValueError(f"rank must be >= 0, got {rank}")
        self.in_dim, self.bins, self.mode, self.rank = in_dim, bins, mode, rank
        terms = 1 if mode == "factorised" else 1 + rank
        self.norm = nn.LayerNorm(in_dim)
        self.fc1 = nn.Linear(in_dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, 3 * bins * terms)

    def logits_per_sample(self, frames: int, joints: int = 17) -> int:
        """Number of logits one clip of `frames` frames produces."""
        per_joint = 3 * self.bins if self.mode == "factorised" else self.bins**3
        return frames * joints * per_joint

    def bytes_per_sample(self, frames: int, joints: int = 17, bytes_per_value: int = 4) -> int:
        """Bytes of the logits of one clip (the softmax and its gradient need as much again)."""
        return self.logits_per_sample(frames, joints) * bytes_per_value

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Map `(B, T, J, C)` features to logits.

        Returns:
            `(B, T, J, 3, N)` (factorised; axes x, y, z) or `(B, T, J, N, N, N)` (volume).
        """
        if features.ndim != 4 or features.shape[-1] != self.in_dim:
            raise ValueError(
                f"HeatPoseHead: features must have shape (B, T, J, {self.in_dim}), got "
                f"{tuple(features.shape)}"
            )
        out = self.fc2(self.act(self.fc1(self.norm(features))))
        n = self.bins
        if self.mode == "factorised":
            return out.unflatten(-1, (3, n))
        parts = out.unflatten(-1, (1 + self.rank, 3, n))  # (B, T, J, 1 + R, 3, N)
        a, b, c = parts[..., 0, :, :].unbind(-2)
        vol = a[..., :, None, None] + b[..., None, :, None] + c[..., None, None, :]
        if self.rank:
            u, v, w = parts[..., 1:, :, :].unbind(-2)  # (B, T, J, R, N) each
            vol = vol + torch.einsum("...rx,...ry,...rz->...xyz", u, v, w)
        return vol
