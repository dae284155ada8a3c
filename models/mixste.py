"""MixSTE (Zhang et al., CVPR 2022): seq2seq mixed spatio-temporal encoder.

Every 2D joint of every frame is embedded (`Linear(2 → C)` plus a learned joint embedding); then
`depth` alternating pairs of pre-norm ViT blocks run, a spatial one (attention over the 17 joints of
a frame) and a temporal one (attention over the T frames of a joint). The temporal positional
embedding is added once, before the first temporal block, and the *same* two LayerNorms
(`Spatial_norm`, `Temporal_norm`) follow every spatial / temporal block. The head is
`LayerNorm → Linear(C → 3)`, one 3D pose per input frame. Facts from the official MixSTE code
(`MixSTE2`); parameter names and shapes follow it, so the paper configuration (C = 512, depth 8)
has exactly 33,673,219 parameters at T = 27 (33,783,811 at T = 243).

The building blocks are reusable: `MixSTEBlock` (one pre-norm ViT block on any token axis) and
`MixSTECore` (embedding, the alternating encoder and the head, with the official parameter names),
which a diffusion denoiser built on MixSTE extends with its own input channels and time embedding.

Deviations from the official code (same numbers in eval mode):
- Input is liftbench's `(B, T, 17, 3)`; the confidence channel is dropped (the official model takes
  x, y only, `in_chans = 2`).
- The official model runs only with T == num_frame; here any T ≤ num_frames works with the first
  T rows of the temporal positional embedding.
- Tokens stay in a `(B, T, J, C)` tensor; temporal blocks run on its `(B, J, T, C)` view instead
  of rearranging to `(B·J, T, C)`; attention uses fused scaled-dot-product attention and the
  memory-saving LayerNorm / MLP functions of `models/layers.py`.
"""

from __future__ import annotations

import torch
from torch import nn

from liftbench.models.base import Lifter
from liftbench.models.layers import Attention, Mlp
from liftbench.models.registry import register_lifter

_PAPER = "Zhang et al., MixSTE: Seq2seq mixed spatio-temporal encoder, CVPR 2022"


def drop_path(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Stochastic depth per token sequence: zero whole `(L, C)` sequences with probability p.

    Args:
        x: residual branch output `(..., L, C)`; one Bernoulli draw per leading index, i.e. per
            frame for a spatial block `(B, T, J, C)` and per joint for a temporal one
            `(B, J, T, C)` (the official `(B·T, J, C)` / `(B·J, T, C)` samples).
        p: drop probability.
        training: only active in training.

    Returns:
        `x` scaled by `1/(1-p)` where kept, 0 where dropped (timm's `drop_path`).
    """
    if p == 0.0 or not training:
        return x
    keep = 1.0 - p
    mask = (keep + torch.rand(*x.shape[:-2], 1, 1, dtype=x.dtype, device=x.device)).floor_()
    return x.div(keep) * mask


class MixSTEBlock(nn.Module):
    """Pre-norm ViT block on the token axis -2: `x + MHSA(LN(x))`, then `x + MLP(LN(x))`.

    Official parameter names (`norm1`, `attn.qkv`, `attn.proj`, `norm2`, `mlp.fc1`, `mlp.fc2`);
    qkv bias on, scale head_dim^-0.5, exact GELU.

    Args:
        dim: channels C.
        num_heads: attention heads.
        mlp_ratio: MLP hidden width / C (2 in MixSTE).
        drop_path: stochastic-depth probability of both residual branches.
        eps: LayerNorm epsilon (1e-6 in MixSTE).
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 2.0, drop_path: float = 0.0,
                 eps: float = 1e-6) -> None:  # fmt: skip
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, num_heads, qkv_bias=True)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.drop_path = drop_path

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(..., L, C)` → `(..., L, C)`, attention over axis -2."""
        x = x + drop_path(self.attn(x, norm=self.norm1), self.drop_path, self.training)
        return x + drop_path(self.mlp(x, norm=self.norm2), self.drop_path, self.training)


class MixSTECore(nn.Module):
    """MixSTE's embedding, alternating spatial/temporal encoder and head (official names).

    Args:
        in_chans: input channels per joint (2: x, y).
        num_frames: T the temporal positional embedding is built for.
        num_joints: J.
        dim: channels C (`embed_dim_ratio`).
        depth: number of spatial/temporal block pairs.
        num_heads: attention heads.
        mlp_ratio: MLP hidden width / C.
        drop_path_rate: stochastic depth of the last pair; pair i gets
            `linspace(0, rate, depth)[i]`.
    """

    def __init__(self, in_chans: int = 2, num_frames: int = 27, num_joints: int = 17,
                 dim: int = 512, depth: int = 8, num_heads: int = 8, mlp_ratio: float = 2.0,
                 drop_path_rate: float = 0.1) -> None:  # fmt: skip
        super().__init__()
        if depth < 1 or num_frames < 1:
            raise ValueError(f"depth and num_frames must be >= 1, got {depth}, {num_frames}")
        if not 0.0 <= drop_path_rate < 1.0:
            raise ValueError(f"drop_path_rate must be in [0, 1), got {drop_path_rate}")
        self.Spatial_patch_to_embedding = nn.Linear(in_chans, dim)
        self.Spatial_pos_embed = nn.Parameter(torch.zeros(1, num_joints, dim))
        self.Temporal_pos_embed = nn.Parameter(torch.zeros(1, num_frames, dim))
        dpr = [float(r) for r in torch.linspace(0, drop_path_rate, depth, device="cpu")]
        self.STEblocks = nn.ModuleList(
            [MixSTEBlock(dim, num_heads, mlp_ratio, dpr[i]) for i in range(depth)]
        )
        self.TTEblocks = nn.ModuleList(
            [MixSTEBlock(dim, num_heads, mlp_ratio, dpr[i]) for i in range(depth)]
        )
        self.Spatial_norm = nn.LayerNorm(dim, eps=1e-6)
        self.Temporal_norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, 3))  # head LN: eps 1e-5

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Joint tokens `(B, T, J, in_chans)` → `(B, T, J, C)`: patch + joint embedding."""
        return self.Spatial_patch_to_embedding(x) + self.Spatial_pos_embed

    def encode(self, tokens: torch.Tensor) -> torch.Tensor:
        """Run the encoder on embedded tokens `(B, T, J, C)`; returns features `(B, T, J, C)`.

        Pair 0: spatial block, `Spatial_norm`, + temporal positional embedding, temporal block,
        `Temporal_norm`; pairs 1..depth-1 the same without the embedding.
        """
        t = tokens.shape[1]
        x = tokens
        for i, (ste, tte) in enumerate(zip(self.STEblocks, self.TTEblocks, strict=True)):
            x = self.Spatial_norm(ste(x))
            xt = x.transpose(1, 2)  # (B, J, T, C): attention over frames
            if i == 0:
                xt = xt + self.Temporal_pos_embed[:, None, :t]
            x = self.Temporal_norm(tte(xt)).transpose(1, 2)
        return x

    def regress(self, features: torch.Tensor) -> torch.Tensor:
        """The head: `(B, T, J, C)` → `(B, T, J, 3)`."""
        return self.head(features)


class MixSTE(MixSTECore, Lifter):
    """MixSTE lifter: `(B, T ≤ num_frames, 17, 3)` 2D + confidence → `(B, T, 17, 3)` 2.5D.

    Uses x, y only (the confidence channel is dropped, as the official model takes 2 channels).
    The output root joint is not zeroed (as in the official model; evaluation sets it to 0).

    Args:
        num_frames: T the model is built for (27 in the comparison tables; 243 in the paper's
            best configuration); shorter clips are accepted.
        num_joints: J.
        dim: channels C (512).
        depth: number of spatial/temporal block pairs (8).
        num_heads: attention heads (8).
        mlp_ratio: MLP hidden width / C (2).
        drop_path_rate: stochastic depth (0.1, as the official training model).
    """

    uses_confidence = False

    def __init__(self, num_frames: int = 27, num_joints: int = 17, dim: int = 512,
                 depth: int = 8, num_heads: int = 8, mlp_ratio: float = 2.0,
                 drop_path_rate: float = 0.1) -> None:  # fmt: skip
        super().__init__(2, num_frames, num_joints, dim, depth, num_heads, mlp_ratio,
                         drop_path_rate)  # fmt: skip
        self.num_joints, self.max_frames, self.feature_dim = num_joints, num_frames, dim

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Encoder features `(B, T, J, 3)` → `(B, T, J, C)` (before the head's LayerNorm)."""
        self.check_input(x)
        return self.encode(self.embed(x[..., :2]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, T, J, 3)` normalised 2D + confidence → `(B, T, J, 3)` normalised 2.5D."""
        return self.regress(self.forward_features(x))


@register_lifter(
    paper=_PAPER,
    tiny={"dim": 32, "depth": 2, "num_heads": 4},
    paper_params=33_673_219,
)
def mixste(**overrides: object) -> MixSTE:
    """MixSTE: C = 512, depth 8, 8 heads, mlp_ratio 2, T = 27 (33,673,219 params)."""
    return MixSTE(**overrides)  # type: ignore[arg-type]
