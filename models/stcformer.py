"""STCFormer (Tang et al., CVPR 2023): spatio-temporal criss-cross attention.

Each block splits the channels in half: the first half attends over the 17 joints of each frame
(spatial), the second over the T frames of each joint (temporal), both with 8 heads, and the two
halves are concatenated per head. Two "structure-enhanced" terms are added to each branch: a
depthwise 3×3 convolution of its values over the (frame, joint) plane, and a learned embedding of
the body part of each joint (weighted 1e-4 spatially, 1e-9 temporally). Facts from the official
STCFormer code (`model/stcformer.py`); parameter shapes follow it, so the parameter counts match
exactly (4,748,000 for STCFormer, 18,933,184 for STCFormer-L, for every T).

Official quirks kept (they change the numbers, so `load_official` needs them):
- q, k and v are interleaved in the qkv output (feature 3i → q_i, 3i+1 → k_i, 3i+2 → v_i).
- The attention scale is `(C // 2) ** -0.5`, not the per-head `head_dim ** -0.5`.
- The MLPs, the pose embedding and the regression head have no bias; there is no final
  LayerNorm and no positional embedding (one set of weights runs at any T).

Input convention: the official model reads `(B, T, 17, 2)` with no confidence; here channel 3
(confidence) of the liftbench input is ignored, so outputs equal the official ones.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from liftbench.models.base import Lifter
from liftbench.models.registry import register_lifter

_PAPER = ("Tang et al., 3D human pose estimation with spatio-temporal criss-cross attention, "
          "CVPR 2023")
# Body part of each H36M-17 joint: torso/head 0, right leg 1, left leg 2, left arm 3, right arm 4.
PARTS = (0, 1, 1, 1, 2, 2, 2, 0, 0, 0, 0, 3, 3, 3, 4, 4, 4)
SPATIAL_PART_WEIGHT = 1e-4  # the official coefficients (0.001 before its commit 29a827e)
TEMPORAL_PART_WEIGHT = 1e-9


def _drop_term(term: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """The official DropPath on a batch-free term: one Bernoulli keep draw, scaled by 1/keep."""
    if not training or p == 0.0:
        return term
    keep = 1.0 - p
    return term * (torch.rand((), device=term.device) < keep).to(term.dtype) / keep


class STCAttention(nn.Module):
    """Criss-cross attention with its own pre-LayerNorm and residual: `x + proj(STC(LN(x)))`.

    Args:
        dim: channels C (divisible by 2·num_heads).
        num_heads: heads of each branch.
        num_joints: J (the part embedding is built for H36M-17).
        part_drop: DropPath rate on the part-embedding terms (training only; official 0.5).
    """

    def __init__(self, dim: int, num_heads: int = 8, num_joints: int = 17,
                 part_drop: float = 0.5) -> None:  # fmt: skip
        super().__init__()
        if dim % (2 * num_heads):
            raise ValueError(f"dim must be divisible by 2*num_heads={2 * num_heads}, got {dim}")
        if num_joints != len(PARTS):
            raise ValueError(f"STCFormer's part embedding is defined for {len(PARTS)} joints "
                             f"(H36M-17), got num_joints={num_joints}")
        half = dim // 2
        self.num_heads, self.scale, self.part_drop = num_heads, half**-0.5, part_drop
        self.qkv = nn.Linear(dim, 3 * dim)  # registration order = the official key order
        self.layer_norm = nn.LayerNorm(dim)
        self.proj = nn.Linear(dim, dim)
        self.emb = nn.Embedding(5, half // num_heads)
        self.sep2_t = nn.Conv2d(half, half, 3, padding=1, groups=half)
        self.sep2_s = nn.Conv2d(half, half, 3, padding=1, groups=half)
        self.register_buffer("part", torch.tensor(PARTS), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, T, J, C)` → `(B, T, J, C)`."""
        dim, heads = x.shape[-1], self.num_heads
        half = dim // 2
        q, k, v = self.qkv(self.layer_norm(x)).unflatten(-1, (dim, 3)).unbind(-1)  # (B,T,J,C)

        def split(z: torch.Tensor, temporal: bool) -> torch.Tensor:
            """One branch's channels as heads: (B, H, T, J, d) or, temporal, (B, H, J, T, d)."""
            z = (z[..., half:] if temporal else z[..., :half]).unflatten(-1, (heads, -1))
            return z.permute(0, 3, 2, 1, 4) if temporal else z.permute(0, 3, 1, 2, 4)

        def sep2(conv: nn.Conv2d, z: torch.Tensor, temporal: bool) -> torch.Tensor:
            """Depthwise 3×3 conv of one branch's values on the (T, J) plane, as heads."""
            z = conv(z.permute(0, 3, 1, 2)).unflatten(1, (heads, -1))  # (B, H, d, T, J)
            return z.permute(0, 1, 4, 3, 2) if temporal else z.permute(0, 1, 3, 4, 2)

        part = self.emb(self.part)  # (J, d)
        # spatial branch: attention over joints, per frame
        qs, ks, vs = (split(z, False) for z in (q, k, v))
        att = (qs @ ks.transpose(-1, -2) * self.scale).softmax(-1)
        xs = att @ vs + sep2(self.sep2_s, v[..., :half], False)
        xs = xs + SPATIAL_PART_WEIGHT * _drop_term(part, self.part_drop, self.training)
        # temporal branch: attention over frames, per joint
        qt, kt, vt = (split(z, True) for z in (q, k, v))
        att = (qt @ kt.transpose(-1, -2) * self.scale).softmax(-1)
        xt = (att @ vt + sep2(self.sep2_t, v[..., half:], True)).transpose(2, 3)
        xt = xt + TEMPORAL_PART_WEIGHT * _drop_term(part, self.part_drop, self.training)
        out = torch.cat([xs, xt], -1).permute(0, 2, 3, 1, 4).flatten(-2)  # head-major [s | t]
        return self.proj(out) + x


class STCMlp(nn.Module):
    """`fc2(drop(GELU(fc1(x))))` then dropout; both Linears without bias (official `Mlp`)."""

    def __init__(self, dim: int, hidden: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden, bias=False)
        self.fc2 = nn.Linear(hidden, dim, bias=False)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(..., C)` → `(..., C)`."""
        return self.drop(self.fc2(self.drop(F.gelu(self.fc1(x)))))


class STCBlock(nn.Module):
    """`x = STCAttention(x)` (residual inside), then `x + MLP(LN(x))`.

    Args:
        dim: channels C.
        num_heads: heads per branch.
        num_joints: J.
        mlp_ratio: MLP hidden width over C.
        dropout: MLP dropout.
        part_drop: DropPath rate of the part-embedding terms.
    """

    def __init__(self, dim: int, num_heads: int = 8, num_joints: int = 17, mlp_ratio: int = 4,
                 dropout: float = 0.1, part_drop: float = 0.5) -> None:  # fmt: skip
        super().__init__()
        self.layer_norm = nn.LayerNorm(dim)
        self.mlp = STCMlp(dim, dim * mlp_ratio, dropout)
        self.stc_att = STCAttention(dim, num_heads, num_joints, part_drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, T, J, C)` → `(B, T, J, C)`."""
        x = self.stc_att(x)
        return x + self.mlp(self.layer_norm(x))


class STCFormer(Lifter):
    """STCFormer lifter, `(B, T, 17, 3)` 2D + confidence → `(B, T, 17, 3)`, sequence to sequence.

    The confidence channel is ignored (the official model has no such input). Any T works (no
    parameter depends on T). The official training loss covers every frame and its evaluation
    keeps the centre frame of each window; here every frame is evaluated, like the other
    sequence-to-sequence lifters.

    Args:
        layers: number of STC blocks (6).
        d_hid: channels C (256; STCFormer-L 512), divisible by 16.
        num_joints: J (17: the part embedding is defined for H36M-17).
        num_heads: heads per branch (8).
        mlp_ratio: MLP hidden width over C (4).
        dropout: MLP dropout (0.1).
        part_drop: DropPath rate on the part-embedding terms (0.5).
    """

    uses_confidence = False
    max_frames = None
    # As VideoPose3D: the official code regresses root-relative metres (a few tenths per
    # coordinate), the 2.5D targets here are several times smaller, so inputs and targets are
    # z-scored.
    standardize = True

    def __init__(self, layers: int = 6, d_hid: int = 256, num_joints: int = 17,
                 num_heads: int = 8, mlp_ratio: int = 4, dropout: float = 0.1,
                 part_drop: float = 0.5) -> None:  # fmt: skip
        super().__init__()
        if layers < 1:
            raise ValueError(f"layers must be >= 1, got {layers}")
        self.num_joints, self.feature_dim = num_joints, d_hid
        self.pose_emb = nn.Linear(2, d_hid, bias=False)
        self.blocks = nn.ModuleList([
            STCBlock(d_hid, num_heads, num_joints, mlp_ratio, dropout, part_drop)
            for _ in range(layers)
        ])  # fmt: skip
        self.head = nn.Linear(d_hid, 3, bias=False)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Block features, `(B, T, J, 3)` → `(B, T, J, d_hid)`."""
        self.check_input(x)
        h = F.gelu(self.pose_emb(x[..., :2]))
        for block in self.blocks:
            h = block(h)
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, T, J, 3)` normalised 2D + confidence → `(B, T, J, 3)` root-relative 3D."""
        return self.head(self.forward_features(x))


# Tiny: C = 64 with 2 heads per branch, no dropout, no DropPath on the part embedding. The cost
# of a step grows mostly with heads x tokens (one 17x17 and one TxT attention map per head, joint
# and frame), so fewer heads is what makes it CPU-sized; C = 32 was capacity-bound (in-domain,
# detector 2D, 15 epochs: 173.9 mm at C = 32, 141.8 at C = 64). The part-embedding DropPath
# drops that (batch-free) term whole with probability 1/2 per block, so in a 2-block model many
# steps give the embedding no gradient at all.
_TINY = {"layers": 2, "d_hid": 64, "num_heads": 2, "dropout": 0.0, "part_drop": 0.0}


@register_lifter(paper=_PAPER, tiny=_TINY, paper_params=4_748_000)
def stcformer(**overrides: object) -> STCFormer:
    """STCFormer: 6 blocks, C = 256 (4,748,000 params at any T)."""
    return STCFormer(**{"layers": 6, "d_hid": 256, **overrides})  # type: ignore[arg-type]


@register_lifter(paper=_PAPER, tiny=_TINY, paper_params=18_933_184)
def stcformer_l(**overrides: object) -> STCFormer:
    """STCFormer-L: 6 blocks, C = 512 (18,933,184 params at any T)."""
    return STCFormer(**{"layers": 6, "d_hid": 512, **overrides})  # type: ignore[arg-type]
