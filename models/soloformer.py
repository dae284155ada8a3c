"""SoloFormer: a SoloPose-style many-to-many spatio-temporal transformer on keypoints.

SoloPose (Jeong et al., arXiv 2312.10195, §4.1) runs Swin-style window attention with a 3D
relative position bias, `softmax(QKᵀ/√d + B)V`, over (time, height, width) tokens of CLIP
feature maps, and predicts every frame of the clip at once (many-to-many). Here the tokens are
keypoints: one per (frame, joint). To give joints the two "spatial" coordinates the bias needs,
each H36M-17 joint has a fixed cell on a 7 × 5 body chart (a standing figure, arms down; the
subject's right on the low columns), so the 3D relative position of two tokens is
(Δframe, Δrow, Δcol) and indexes a learned table `B̂` with one entry per head, as in Swin.

Attention windows hold `window` consecutive frames × all joints; every other block shifts the
windows by `window // 2` frames (Swin's shifted windows). Clips whose length is not a multiple
of the window are padded, and padded frames are masked out as keys, so any T is accepted and
frames never see another batch item.

Deviation (no released keypoint model exists; the released code is an image model over CLIP
tokens): no hierarchical patch merging (17 joints do not merge), one width
throughout; the `paper` configuration echoes the released Swin settings (embed 192, 20 blocks
= depths 4+4+8+4, head dim 32, window 8) and has no published parameter count to match.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from liftbench.models.base import Lifter
from liftbench.models.layers import Mlp
from liftbench.models.registry import register_lifter

# (row, col) of each H36M-17 joint on the body chart; mirror pairs have mirrored columns.
BODY_CHART: tuple[tuple[int, int], ...] = (
    (4, 2),  # 0 pelvis
    (4, 1), (5, 1), (6, 1),  # 1-3 right hip, knee, ankle
    (4, 3), (5, 3), (6, 3),  # 4-6 left hip, knee, ankle
    (3, 2), (2, 2), (1, 2), (0, 2),  # 7-10 spine, thorax, neck/nose, head
    (2, 3), (3, 4), (4, 4),  # 11-13 left shoulder, elbow, wrist
    (2, 1), (3, 0), (4, 0),  # 14-16 right shoulder, elbow, wrist
)
CHART_ROWS, CHART_COLS = 7, 5


def relative_position_index(window: int, chart: tuple[tuple[int, int], ...] = BODY_CHART
                            ) -> torch.Tensor:  # fmt: skip
    """Index into the bias table for every token pair of a window, `(W·J, W·J)` int64.

    Tokens are ordered frame-major, `(frame, joint)`; the index enumerates (Δframe, Δrow, Δcol)
    over `(2W − 1) × (2·rows − 1) × (2·cols − 1)` entries.
    """
    rc = torch.tensor(chart)
    t = torch.arange(window).repeat_interleave(len(chart))
    r, c = rc[:, 0].repeat(window), rc[:, 1].repeat(window)
    dt = t[:, None] - t[None, :] + window - 1
    dr = r[:, None] - r[None, :] + CHART_ROWS - 1
    dc = c[:, None] - c[None, :] + CHART_COLS - 1
    return (dt * (2 * CHART_ROWS - 1) + dr) * (2 * CHART_COLS - 1) + dc


class WindowAttention(nn.Module):
    """Multi-head self-attention inside a window with the 3D relative position bias.

    Args:
        dim: channels C.
        num_heads: heads H.
        window: frames per window W.
    """

    def __init__(self, dim: int, num_heads: int, window: int) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim ({dim}) must be divisible by num_heads ({num_heads})")
        self.num_heads, self.scale = num_heads, (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        size = (2 * window - 1) * (2 * CHART_ROWS - 1) * (2 * CHART_COLS - 1)
        self.bias_table = nn.Parameter(torch.empty(size, num_heads))
        nn.init.trunc_normal_(self.bias_table, std=0.02)
        self.register_buffer("rel_index", relative_position_index(window), persistent=False)

    def forward(self, x: torch.Tensor, key_pad: torch.Tensor | None) -> torch.Tensor:
        """Attend within windows `x` `(N, L, C)`, `L = W·J`; `key_pad` `(N, L)` marks padding."""
        n, length, dim = x.shape
        h = self.num_heads
        q, k, v = self.qkv(x).view(n, length, 3, h, dim // h).permute(2, 0, 3, 1, 4)
        bias = self.bias_table[self.rel_index].permute(2, 0, 1)  # (H, L, L)
        logits = (q @ k.transpose(-2, -1)) * self.scale + bias
        if key_pad is not None:
            logits = logits.masked_fill(key_pad[:, None, None, :], float("-inf"))
        out = logits.softmax(-1).to(v.dtype) @ v  # (N, H, L, d)
        return self.proj(out.transpose(1, 2).reshape(n, length, dim))


class SoloBlock(nn.Module):
    """Pre-norm transformer block with (shifted) spatio-temporal window attention.

    Args:
        dim: channels C.
        num_heads: heads.
        window: frames per window W.
        shift: frames the windows are shifted by (0 or W // 2).
        mlp_ratio: MLP hidden ratio.
    """

    def __init__(self, dim: int, num_heads: int, window: int, shift: int,
                 mlp_ratio: float) -> None:  # fmt: skip
        super().__init__()
        self.window, self.shift = window, shift
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, num_heads, window)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, T, J, C)` → `(B, T, J, C)`."""
        b, t, j, c = x.shape
        w, s = self.window, self.shift
        back = -(t + s) % w
        y = F.pad(self.norm1(x), (0, 0, 0, 0, s, back))  # pad frames: (B, s + T + back, J, C)
        pad = torch.ones(s + t + back, dtype=torch.bool, device=x.device)
        pad[s : s + t] = False
        nw = (s + t + back) // w
        windows = y.view(b * nw, w * j, c)
        key_pad = pad.view(1, nw, w, 1).expand(b, nw, w, j).reshape(b * nw, w * j)
        out = self.attn(windows, key_pad if (s or back) else None)
        x = x + out.view(b, s + t + back, j, c)[:, s : s + t]
        return x + self.mlp(x, norm=self.norm2)


class SoloFormer(Lifter):
    """SoloPose-style lifter, `(B, T, 17, 3)` 2D + confidence → `(B, T, 17, 3)` 2.5D, any T.

    Args:
        dim: channels C (also `feature_dim`).
        depth: number of blocks (windows alternate unshifted / shifted).
        num_heads: attention heads.
        window: frames per attention window.
        mlp_ratio: MLP hidden ratio.
        num_joints: J (17: the body chart is H36M-17's).
    """

    uses_confidence = True
    max_frames = None

    def __init__(self, dim: int = 192, depth: int = 20, num_heads: int = 6, window: int = 8,
                 mlp_ratio: float = 4.0, num_joints: int = 17) -> None:  # fmt: skip
        super().__init__()
        if num_joints != len(BODY_CHART):
            raise ValueError(f"num_joints must be {len(BODY_CHART)} (the H36M-17 body chart), "
                             f"got {num_joints}")
        if dim < 1 or depth < 1 or window < 1:
            raise ValueError(f"dim, depth and window must be >= 1, got {dim}, {depth}, {window}")
        self.num_joints, self.feature_dim = num_joints, dim
        self.embed = nn.Linear(3, dim)
        self.joint_embed = nn.Parameter(torch.empty(1, num_joints, dim))
        nn.init.trunc_normal_(self.joint_embed, std=0.02)
        self.blocks = nn.Sequential(*[
            SoloBlock(dim, num_heads, window, (window // 2) if i % 2 else 0, mlp_ratio)
            for i in range(depth)
        ])  # fmt: skip
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 3)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Per-joint features, `(B, T, J, 3)` → `(B, T, J, dim)`."""
        self.check_input(x)
        return self.norm(self.blocks(self.embed(x) + self.joint_embed))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, T, J, 3)` normalised 2D + confidence → `(B, T, J, 3)` normalised 2.5D."""
        return self.head(self.forward_features(x))


@register_lifter(
    paper="Jeong et al., SoloPose (spatio-temporal transformer with 3D relative position bias), "
          "arXiv 2312.10195",
    tiny={"dim": 32, "depth": 2, "num_heads": 4, "window": 3, "mlp_ratio": 2.0},
)
def soloformer(**overrides: object) -> SoloFormer:
    """SoloFormer: C = 192, 20 blocks, 6 heads, windows of 8 frames."""
    return SoloFormer(**overrides)  # type: ignore[arg-type]
