"""SimpleBaseline (Martinez et al., ICCV 2017): a per-frame residual MLP on the 2D joints.

`Linear(2J→1024) → BN → ReLU → Dropout`, two residual blocks of
`2 × [Linear(1024→1024) → BN → ReLU → Dropout]` with a skip, then `Linear(1024→3J)`
(Martinez et al., ICCV 2017). Applied to all B·T frames at once, which fits the
sequence-to-sequence contract; frames do not interact.

Deviations from the official TensorFlow code (as the MIT PyTorch port weigq/3d_pose_baseline_pytorch
does): no max-norm weight clipping; H36M-17 joints in and out (the original uses 16 in, 16 out), so
the paper config has 4,296,755 parameters instead of 4,291,632 (+0.12%).
"""

from __future__ import annotations

import torch
from torch import nn

from liftbench.models.base import Lifter
from liftbench.models.registry import register_lifter

# Scale of the output layer's initial weights relative to He init (see `SimpleBaseline`).
OUTPUT_INIT_SCALE = 0.01


class _LinearBnReluDrop(nn.Sequential):
    def __init__(self, dim_in: int, dim_out: int, dropout: float) -> None:
        super().__init__(
            nn.Linear(dim_in, dim_out), nn.BatchNorm1d(dim_out), nn.ReLU(), nn.Dropout(dropout)
        )


class _ResidualBlock(nn.Module):
    def __init__(self, width: int, dropout: float) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            _LinearBnReluDrop(width, width, dropout), _LinearBnReluDrop(width, width, dropout)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.layers(x)


class SimpleBaseline(Lifter):
    """Martinez et al.'s baseline: `(B, T, J, 3)` → `(B, T, J, 3)`, each frame independently.

    Uses x, y only (the confidence channel is ignored, as in the paper). BatchNorm runs over all
    B·T frames of the batch, so in train mode the items of a batch are normalised together
    (the original behaviour); in eval mode frames are independent. Training needs B·T ≥ 2.

    Args:
        num_joints: J.
        linear_size: hidden width (1024).
        num_blocks: residual blocks (2).
        dropout: dropout probability (0.5).
    """

    uses_confidence = False
    max_frames = None
    feature_dim = None
    standardize = True  # the paper z-scores 2D inputs and 3D targets (training-set statistics)

    def __init__(
        self,
        num_joints: int = 17,
        linear_size: int = 1024,
        num_blocks: int = 2,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        if num_joints < 1 or linear_size < 1 or num_blocks < 0:
            raise ValueError(
                "num_joints and linear_size must be >= 1 and num_blocks >= 0, got "
                f"{num_joints}, {linear_size}, {num_blocks}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.num_joints = num_joints
        self.stem = _LinearBnReluDrop(2 * num_joints, linear_size, dropout)
        self.blocks = nn.Sequential(
            *(_ResidualBlock(linear_size, dropout) for _ in range(num_blocks))
        )
        self.out = nn.Linear(linear_size, 3 * num_joints)
        for m in self.modules():
            if isinstance(m, nn.Linear):  # He initialisation, as the original
                nn.init.kaiming_normal_(m.weight)
        # Deviation: the output layer starts 100x smaller than He init, so training starts near
        # the zero (root-only) pose instead of ~2 m errors; the demo's pretrain converges in far
        # fewer steps (README, "Deviations"). Parameter count and architecture are unchanged.
        with torch.no_grad():
            self.out.weight.mul_(OUTPUT_INIT_SCALE)
            self.out.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Lift `(B, T, J, 3)` (x, y, confidence) to `(B, T, J, 3)` root-relative 2.5D."""
        self.check_input(x)
        b, t, j, _ = x.shape
        h = self.blocks(self.stem(x[..., :2].reshape(b * t, 2 * j)))
        return self.out(h).view(b, t, j, 3)


@register_lifter(
    paper="Martinez et al., A simple yet effective baseline for 3D pose estimation, ICCV 2017",
    tiny={"linear_size": 256, "dropout": 0.1},  # width 64 was capacity-bound in-domain
    paper_params=4_291_632,
)
def simplebaseline(**overrides: object) -> SimpleBaseline:
    """SimpleBaseline paper config: width 1024, 2 residual blocks, dropout 0.5."""
    return SimpleBaseline(**overrides)  # type: ignore[arg-type]
