"""P-STMO (Shan et al., ECCV 2022): pre-trained spatial temporal many-to-one model.

The Stage-II lifting model: a per-frame MLP encoder of the flattened 2D pose, a vanilla
transformer encoder over the T frames (VTE, `layers` layers) whose features are regressed to a
pose for every frame (an auxiliary output), and a strided transformer encoder (STE) that shrinks
the VTE features from T frames to one with strided convolutions, regressed to the pose of the
centre frame (the many-to-one output, the one the paper evaluates). Facts from the official
P-STMO code (`model/stmo.py` and its transformer blocks); parameter shapes follow it, so the
parameter counts match exactly (P-STMO 5,209,702 and P-STMO-S 4,682,598 at T = 27, of which
1,024 sit in the two never-applied final LayerNorms, frozen here).

Official quirks kept (they change the numbers, so `load_official` needs them):
- LayerNorm is the custom one: `a·(x − mean)/(std + 1e-6) + b` with the unbiased std.
- The FFNs use ReLU; the STE FFN is Conv1d(k=1) → ReLU → Conv1d(k=3, stride s, padding 1) and
  its residual is `x[:, ::s]` (tokens 0, s, 2s, …).
- The STE adds its three positional embeddings before layers 0, 1 and 2 only (sliced to the
  current length); the transformers' final LayerNorms exist (and count as parameters) but are
  never applied.
- Each frame's pose enters flattened as x0, y0, x1, y1, …; head outputs are joint-major.

Liftbench interface: `forward` returns `(B, T, J, 3)`: the VTE prediction of every frame, with
the centre frame `(T − 1) // 2` replaced by the STE's many-to-one prediction.
`output_frames = "centre"` makes the regimes evaluate that frame only. The official Stage-II
loss is `MPJPE(VTE, every frame) + MPJPE(STE, centre frame)`, weights 1 and 1; a loss averaged
over the T frames of `forward`'s output would weight the centre frame 1/T, so in training the
centre frame's gradient is multiplied by `centre_grad_scale` (default T; the value is unchanged),
restoring the 1 : 1 weighting. The VTE's own centre-frame prediction (weight 1/T officially) is
not in the output and gets no loss (`forward_official` returns both predictions).
The official model reads `(B, 2, T, 17, 1)` with no confidence; channel 3 (confidence) of the
liftbench input is ignored, so outputs equal the official ones.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from liftbench.models.base import Lifter
from liftbench.models.registry import register_lifter

_PAPER = ("Shan et al., P-STMO: pre-trained spatial temporal many-to-one model for 3D human pose "
          "estimation, ECCV 2022")
# The official `common/opt.py` strides of the STE per clip length (the product reduces T to 1).
STRIDES: dict[int, tuple[int, ...]] = {
    9: (1, 3, 3), 27: (3, 3, 3), 81: (3, 3, 3, 3), 243: (3, 3, 3, 3, 3), 351: (3, 9, 13),
}


class PSTMOLayerNorm(nn.Module):
    """`a_2·(x − mean)/(std + eps) + b_2` over the last axis, unbiased std (official)."""

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.a_2 = nn.Parameter(torch.ones(dim))
        self.b_2 = nn.Parameter(torch.zeros(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(..., C)` → `(..., C)`."""
        mean = x.mean(-1, keepdim=True)
        return self.a_2 * (x - mean) / (x.std(-1, keepdim=True) + self.eps) + self.b_2


class Sublayer(nn.Module):
    """Pre-norm residual: `res + drop(fn(norm(x)))`, with `res = x[:, ::stride]`."""

    def __init__(self, dim: int, dropout: float) -> None:
        super().__init__()
        self.norm = PSTMOLayerNorm(dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, fn: nn.Module, stride: int = 1) -> torch.Tensor:
        """`(B, L, C)` → `(B, ceil(L / stride), C)`."""
        res = x[:, ::stride] if stride != 1 else x
        return res + self.drop(fn(self.norm(x)))


class PSTMOAttention(nn.Module):
    """Multi-head self-attention with four `Linear(C, C)` (q, k, v, out); `(B, L, C)`."""

    def __init__(self, dim: int, num_heads: int = 8, dropout: float = 0.1) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"channel must be divisible by num_heads={num_heads}, got {dim}")
        self.num_heads = num_heads
        self.linears = nn.ModuleList([nn.Linear(dim, dim) for _ in range(4)])
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, L, C)` → `(B, L, C)`."""
        q, k, v = (lin(x).unflatten(-1, (self.num_heads, -1)).transpose(1, 2)
                   for lin in self.linears[:3])  # (B, H, L, d)
        att = (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).softmax(-1)
        out = (self.drop(att) @ v).transpose(1, 2).flatten(-2)
        return self.linears[3](out)


class FeedForward(nn.Module):
    """VTE FFN `w_2(drop(ReLU(w_1(x))))` over channels, `(B, L, C)` → `(B, L, C)`."""

    def __init__(self, dim: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.w_1 = nn.Linear(dim, hidden)
        self.w_2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, L, C)` → `(B, L, C)`."""
        return self.w_2(self.drop(F.relu(self.w_1(x))))


class StridedFeedForward(nn.Module):
    """STE FFN: Conv1d(k=1) → ReLU → drop → Conv1d(k=3, stride, padding 1) over frames."""

    def __init__(self, dim: int, hidden: int, stride: int, dropout: float) -> None:
        super().__init__()
        self.w_1 = nn.Conv1d(dim, hidden, 1)
        self.w_2 = nn.Conv1d(hidden, dim, 3, stride=stride, padding=1)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, L, C)` → `(B, ceil(L / stride), C)`."""
        return self.w_2(self.drop(F.relu(self.w_1(x.transpose(1, 2))))).transpose(1, 2)


class EncoderLayer(nn.Module):
    """Pre-norm transformer layer; with `stride` > 1 (STE) the FFN shrinks the frame axis."""

    def __init__(self, dim: int, hidden: int, num_heads: int, dropout: float,
                 stride: int | None = None) -> None:  # fmt: skip
        super().__init__()
        self.stride = stride or 1
        self.self_attn = PSTMOAttention(dim, num_heads, dropout)
        self.feed_forward: nn.Module = (
            FeedForward(dim, hidden, dropout) if stride is None
            else StridedFeedForward(dim, hidden, stride, dropout)
        )
        self.sublayer = nn.ModuleList([Sublayer(dim, dropout) for _ in range(2)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, L, C)` → `(B, ceil(L / stride), C)`."""
        x = self.sublayer[0](x, self.self_attn)
        return self.sublayer[1](x, self.feed_forward, self.stride)


class ResidualFC(nn.Module):
    """`x + drop(LReLU(BN(w2(drop(LReLU(BN(w1(x))))))))` with k=1 convolutions, `(B, C, T)`."""

    def __init__(self, dim: int, dropout: float) -> None:
        super().__init__()
        self.w1 = nn.Conv1d(dim, dim, 1)
        self.batch_norm1 = nn.BatchNorm1d(dim)
        self.w2 = nn.Conv1d(dim, dim, 1)
        self.batch_norm2 = nn.BatchNorm1d(dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, C, T)` → `(B, C, T)`."""
        y = self.drop(F.leaky_relu(self.batch_norm1(self.w1(x)), 0.2))
        return x + self.drop(F.leaky_relu(self.batch_norm2(self.w2(y)), 0.2))


class PoseEncoder(nn.Module):
    """Per-frame pose MLP (official `FCBlock`): `(B, 2J, T)` → `(B, C, T)`."""

    def __init__(self, dim_in: int, dim_out: int, hidden: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.fc_1 = nn.Conv1d(dim_in, hidden, 1)
        self.bn_1 = nn.BatchNorm1d(hidden)
        self.fc_2 = nn.Conv1d(hidden, dim_out, 1)  # before `layers`: the official key order
        self.layers = nn.ModuleList([ResidualFC(hidden, dropout)])
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, 2J, T)` → `(B, C, T)`."""
        x = self.drop(F.leaky_relu(self.bn_1(self.fc_1(x)), 0.2))
        for layer in self.layers:
            x = layer(x)
        return self.fc_2(x)


# The two final LayerNorms (`norm`) are in the official model and its checkpoints but never
# applied: kept for the layout and the parameter count, frozen (no gradient ever reaches them; a
# trainable unused parameter would make DDP fail).


class VanillaEncoder(nn.Module):
    """VTE: `+ pos_embedding` (T long), then `layers` pre-norm transformer layers; `(B, T, C)`."""

    def __init__(self, layers: int, dim: int, hidden: int, n_frames: int, num_heads: int,
                 dropout: float) -> None:  # fmt: skip
        super().__init__()
        self.pos_embedding = nn.Parameter(torch.randn(1, n_frames, dim))
        self.layers = nn.ModuleList([EncoderLayer(dim, hidden, num_heads, dropout)
                                     for _ in range(layers)])  # fmt: skip
        self.norm = PSTMOLayerNorm(dim).requires_grad_(False)  # never applied (official)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, T, C)` → `(B, T, C)`."""
        x = x + self.pos_embedding
        for layer in self.layers:
            x = layer(x)
        return x


class StridedEncoder(nn.Module):
    """STE: strided layers shrinking `(B, T, C)` to `(B, 1, C)`.

    `pos_embedding_1/2/3` (T long, sliced to the current length) are added before layers 0, 1
    and 2 only; later layers (T >= 81) get none, as in the official code.
    """

    def __init__(self, strides: tuple[int, ...], dim: int, hidden: int, n_frames: int,
                 num_heads: int, dropout: float) -> None:  # fmt: skip
        super().__init__()
        self.pos_embedding_1 = nn.Parameter(torch.randn(1, n_frames, dim))
        self.pos_embedding_2 = nn.Parameter(torch.randn(1, n_frames, dim))
        self.pos_embedding_3 = nn.Parameter(torch.randn(1, n_frames, dim))
        self.layers = nn.ModuleList([EncoderLayer(dim, hidden, num_heads, dropout, stride=s)
                                     for s in strides])  # fmt: skip
        self.norm = PSTMOLayerNorm(dim).requires_grad_(False)  # never applied (official)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, T, C)` → `(B, 1, C)`."""
        pos = (self.pos_embedding_1, self.pos_embedding_2, self.pos_embedding_3)
        for i, layer in enumerate(self.layers):
            if i < len(pos):
                x = x + pos[i][:, : x.shape[1]]
            x = layer(x)
        return x


def _head(dim: int, num_joints: int) -> nn.Sequential:
    """`BatchNorm1d(C)` → `Conv1d(C, 3J, 1)` over `(B, C, L)`."""
    return nn.Sequential(nn.BatchNorm1d(dim), nn.Conv1d(dim, 3 * num_joints, 1))


class PSTMO(Lifter):
    """P-STMO lifter, `(B, T, 17, 3)` 2D + confidence → `(B, T, 17, 3)`; centre frame evaluated.

    T must equal `n_frames` (the positional embeddings are `n_frames` long and the strides
    reduce exactly `n_frames` to one frame). The confidence channel is ignored.

    Args:
        layers: VTE layers (P-STMO 4, P-STMO-S 3).
        channel: transformer width C (256).
        d_hid: FFN hidden width (512).
        n_frames: the clip length T the model is built for (27, 81, 243 in the paper).
        stride_num: STE strides (default: the official table for `n_frames`: 9 → 1,3,3;
            27 → 3,3,3; 81 → 3,3,3,3; 243 → 3,3,3,3,3; 351 → 3,9,13).
        num_joints: J.
        num_heads: attention heads (8).
        dropout: dropout everywhere (0.1).
        centre_grad_scale: training-time gradient factor of the centre frame of the output
            (default T: the official 1 : 1 weighting of the two losses; see the module doc).
    """

    uses_confidence = False
    output_frames = "centre"
    # As VideoPose3D: the official code regresses root-relative metres; the 2.5D targets here
    # are several times smaller, so inputs and targets are z-scored.
    standardize = True

    def __init__(self, layers: int = 4, channel: int = 256, d_hid: int = 512,
                 n_frames: int = 27, stride_num: tuple[int, ...] | list[int] | None = None,
                 num_joints: int = 17, num_heads: int = 8, dropout: float = 0.1,
                 centre_grad_scale: float | None = None) -> None:  # fmt: skip
        super().__init__()
        if stride_num is None:
            if n_frames not in STRIDES:
                raise ValueError(f"no official STE strides for n_frames={n_frames} (known: "
                                 f"{sorted(STRIDES)}); pass stride_num")
            stride_num = STRIDES[n_frames]
        stride_num = tuple(int(s) for s in stride_num)
        length = n_frames
        for s in stride_num:
            length = -(-length // s) if s >= 1 else 0
        if not stride_num or min(stride_num) < 1 or length != 1:
            raise ValueError(f"stride_num {list(stride_num)} must be >= 1 and reduce "
                             f"n_frames={n_frames} to exactly 1 frame (got {length})")
        if layers < 1:
            raise ValueError(f"layers must be >= 1, got {layers}")
        self.num_joints, self.max_frames = num_joints, n_frames
        self.n_frames, self.stride_num = n_frames, stride_num
        self.centre_grad_scale = float(n_frames if centre_grad_scale is None
                                       else centre_grad_scale)
        self.encoder = PoseEncoder(2 * num_joints, channel, 2 * channel, dropout)
        self.vte = VanillaEncoder(layers, channel, d_hid, n_frames, num_heads, dropout)
        self.ste = StridedEncoder(stride_num, channel, d_hid, n_frames, num_heads, dropout)
        self.head = _head(channel, num_joints)
        self.head_vte = _head(channel, num_joints)

    def check_input(self, x: torch.Tensor) -> None:
        """The base checks, plus T == n_frames exactly."""
        super().check_input(x)
        if x.shape[1] != self.n_frames:
            raise ValueError(
                f"PSTMO: built for exactly T={self.n_frames} frames, got T={x.shape[1]} "
                f"(build it with n_frames={x.shape[1]}, or use clips of {self.n_frames} frames)"
            )

    def frame_features(self, x: torch.Tensor) -> torch.Tensor:
        """VTE features of every frame (one token per frame), `(B, T, J, 3)` → `(B, T, C)`."""
        self.check_input(x)
        b, t, j, _ = x.shape
        h = self.encoder(x[..., :2].reshape(b, t, 2 * j).transpose(1, 2)).transpose(1, 2)
        return self.vte(h)

    def forward_official(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both official outputs.

        Args:
            x: `(B, T, J, 3)` normalised 2D + confidence (confidence unused).

        Returns:
            `(centre, per_frame)`: the STE prediction of the centre frame `(B, 1, J, 3)` and
            the VTE prediction of every frame `(B, T, J, 3)`.
        """
        b, j = x.shape[0], x.shape[2]
        h = self.frame_features(x)
        per_frame = self.head_vte(h.transpose(1, 2)).transpose(1, 2).unflatten(-1, (j, 3))
        centre = self.head(self.ste(h).transpose(1, 2)).transpose(1, 2).reshape(b, 1, j, 3)
        return centre, per_frame

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, T, J, 3)` → `(B, T, J, 3)`: VTE frames, centre frame from the STE."""
        centre, per_frame = self.forward_official(x)
        if self.training and self.centre_grad_scale != 1.0:
            # the value is unchanged; the gradient reaching the STE is scaled
            centre = centre + (self.centre_grad_scale - 1.0) * (centre - centre.detach())
        c = (x.shape[1] - 1) // 2
        return torch.cat([per_frame[:, :c], centre, per_frame[:, c + 1 :]], dim=1)


_TINY = {"layers": 1, "channel": 32, "d_hid": 64, "n_frames": 9}


@register_lifter(paper=_PAPER, tiny=_TINY, paper_params=5_209_702)
def pstmo(**overrides: object) -> PSTMO:
    """P-STMO: 4 VTE layers, C = 256, FFN 512; built for T = 27 (5,209,702 params)."""
    return PSTMO(**{"layers": 4, "n_frames": 27, **overrides})  # type: ignore[arg-type]


@register_lifter(paper=_PAPER, tiny=_TINY, paper_params=4_682_598)
def pstmo_s(**overrides: object) -> PSTMO:
    """P-STMO-S: 3 VTE layers, C = 256, FFN 512; built for T = 27 (4,682,598 params)."""
    return PSTMO(**{"layers": 3, "n_frames": 27, **overrides})  # type: ignore[arg-type]
