"""CanonPose lifter (Wandt et al., CVPR 2021), the network of the canonical self-fusion regime.

A per-frame residual MLP on the canonicalised 2D pose and its confidences (official
`model_confidences.py::Lifter`): `Linear(3J→1024)`, a common residual block + LeakyReLU, then
two branches of 2 residual blocks (+ LeakyReLU each): the pose branch → `Linear(1024→3J)` gives
the canonical 3D pose P, the camera branch → `Linear(1024→3)` gives an axis-angle rotation.
Residual block: `x + LReLU(L₂(LReLU(L₁ x)))`, no normalisation layers. The camera-frame pose is
`R·P` with R the SO(3) exponential (Rodrigues) of the axis-angle.

Input expected (the regime's job, not the model's): 2D root-centred and divided by the Frobenius
norm of the (2, J) pose matrix per frame, confidences in [0, 1]. The output is then scale-free.
Layout follows the official code: input `[x_1..x_J, y_1..y_J, c_1..c_J]`, pose output rows
`[x_1..x_J, y_1..y_J, z_1..z_J]`. With J = 17 the network has 10,604,598 parameters; the
official 16-joint network has 10,598,451 (the registered count; +0.06% for the extra joint).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from liftbench.models.base import Lifter
from liftbench.models.registry import register_lifter


class _ResidualBlock(nn.Module):
    """`x + LReLU(L₂(LReLU(L₁ x)))` at a fixed width."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.l1 = nn.Linear(width, width)
        self.l2 = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + F.leaky_relu(self.l2(F.leaky_relu(self.l1(x))))


def rotation_matrix(rotvec: torch.Tensor) -> torch.Tensor:
    """Rotation matrices `(..., 3, 3)` from axis-angle vectors `(..., 3)` (radians), via `roma`."""
    if rotvec.shape[-1] != 3:
        raise ValueError(f"rotvec must have shape (..., 3), got {tuple(rotvec.shape)}")
    import roma  # deferred: its import loads torch._dynamo (~1 s), which listing lifters skips

    return roma.rotvec_to_rotmat(rotvec)


def rotate(pose: torch.Tensor, rotvec: torch.Tensor) -> torch.Tensor:
    """Rotate every joint by its frame's rotation.

    Args:
        pose: `(..., J, 3)` poses.
        rotvec: `(..., 3)` axis-angle per pose (radians).

    Returns:
        `(..., J, 3)`, joint-wise `R·p`.
    """
    if pose.shape[-1] != 3 or rotvec.shape != (*pose.shape[:-2], 3):
        raise ValueError(
            f"pose must be (..., J, 3) and rotvec (..., 3) with the same leading shape, got "
            f"{tuple(pose.shape)} and {tuple(rotvec.shape)}"
        )
    return pose @ rotation_matrix(rotvec).transpose(-1, -2)


class CanonPoseLifter(Lifter):
    """CanonPose lifter: `(B, T, J, 3)` canonical 2D + confidence → pose and camera rotation.

    `forward` returns the camera-frame pose `R·P` `(B, T, J, 3)` (what CanonPose evaluates);
    `forward_with_rotation` returns the canonical pose P and the axis-angle rotation separately,
    as the self-fusion losses need them. Frames are processed independently (no BatchNorm).

    Args:
        num_joints: J.
        width: hidden width (1024).
        blocks_per_branch: residual blocks in each of the pose and camera branches (2).
    """

    uses_confidence = True
    max_frames = None
    feature_dim = None
    # Deviation (README, "Deviations"): trained supervised here, CanonPose's pose branch learns
    # far faster on z-scored 2D / targets (`liftbench perf standardize`: one-batch overfit,
    # 34.9 mm raw, 12.5 mm z-scored). Self-fusion places its canonical 2D before z-scoring.
    standardize = True

    def __init__(self, num_joints: int = 17, width: int = 1024, blocks_per_branch: int = 2) -> None:
        super().__init__()
        if num_joints < 1 or width < 1 or blocks_per_branch < 0:
            raise ValueError(
                "num_joints and width must be >= 1 and blocks_per_branch >= 0, got "
                f"{num_joints}, {width}, {blocks_per_branch}"
            )
        self.num_joints = num_joints
        self.upscale = nn.Linear(3 * num_joints, width)
        self.res_common = _ResidualBlock(width)
        self.pose_blocks = nn.ModuleList(_ResidualBlock(width) for _ in range(blocks_per_branch))
        self.cam_blocks = nn.ModuleList(_ResidualBlock(width) for _ in range(blocks_per_branch))
        self.pose3d = nn.Linear(width, 3 * num_joints)
        self.enc_rot = nn.Linear(width, 3)

    def forward_with_rotation(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Canonical pose and camera rotation.

        Args:
            x: `(B, T, J, 3)` canonicalised x, y and confidence.

        Returns:
            pose: `(B, T, J, 3)` canonical 3D pose P (x, y, z per joint).
            rotvec: `(B, T, 3)` axis-angle (radians) of the camera rotation R.
        """
        self.check_input(x)
        b, t, j, _ = x.shape
        inp = x.permute(0, 1, 3, 2).reshape(b, t, 3 * j)  # [x_1..x_J, y_1..y_J, c_1..c_J]
        h = F.leaky_relu(self.res_common(self.upscale(inp)))
        hp, hc = h, h
        for block in self.pose_blocks:
            hp = F.leaky_relu(block(hp))
        for block in self.cam_blocks:
            hc = F.leaky_relu(block(hc))
        pose = self.pose3d(hp).view(b, t, 3, j).transpose(2, 3)
        return pose, self.enc_rot(hc)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Camera-frame pose `R·P` `(B, T, J, 3)` from `x` `(B, T, J, 3)`."""
        pose, rotvec = self.forward_with_rotation(x)
        return rotate(pose, rotvec)


@register_lifter(
    paper="Wandt et al., CanonPose, CVPR 2021 (lifter of Kim et al.'s CVSF, ACCV 2022)",
    tiny={"width": 64},
    paper_params=10_598_451,
)
def canonpose(**overrides: object) -> CanonPoseLifter:
    """CanonPose lifter paper config: width 1024, 1 common + 2 + 2 residual blocks."""
    return CanonPoseLifter(**overrides)  # type: ignore[arg-type]
