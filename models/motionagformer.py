"""MotionAGFormer (Mehraban et al., WACV 2024): parallel attention and graph streams.

Each layer runs an attention stream (spatial MHSA → temporal MHSA) and a graph stream
(spatial GCN → temporal GCN) on the same input and fuses them per token with a learned softmax.
Facts from the official MotionAGFormer code; parameter names and shapes follow the official model so
the parameter counts match exactly (11,723,811 for B at T = 243).

Deviations from the official code (same numbers unless stated):
- The official model only runs with T == n_frames (the temporal GCN's BatchNorm has one channel
  per frame). Here any T ≤ n_frames works: the first T frame channels of that BatchNorm are used.
- Temporal mixers run on a transposed `(B, J, T, C)` view; degree normalisation is an
  elementwise `A·d_i^-1/2·d_j^-1/2` instead of two T×T×T `bmm`s with diagonal matrices.
- To cut fwd+bwd memory, LayerNorm outputs and GELU are recomputed in backward and the layer
  scales are folded into the last Linear of the attention / MLP (see `models/layers.py`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from liftbench.models.base import Lifter
from liftbench.models.layers import (
    Attention,
    Mlp,
    adaptive_fusion,
    at_least_fp32,
    without_autocast,
)
from liftbench.models.registry import register_lifter

# The official `CONNECTIONS` (H36M-17): row i lists the joints that i aggregates from. It is not
# symmetric: joint 0 does not aggregate from 4, joint 8 not from 11 or 14.
CONNECTIONS: dict[int, tuple[int, ...]] = {
    0: (1, 7), 1: (2, 0), 2: (3, 1), 3: (2,), 4: (5, 0), 5: (6, 4), 6: (5,), 7: (0, 8),
    8: (7, 9), 9: (8, 10), 10: (9,), 11: (12, 8), 12: (13, 11), 13: (12,), 14: (15, 8),
    15: (16, 14), 16: (15,),
}  # fmt: skip


def spatial_adjacency(num_joints: int = 17) -> torch.Tensor:
    """The normalised spatial adjacency `D^-1/2 A D^-1/2` (D = row sums), `(J, J)`."""
    adj = torch.zeros(num_joints, num_joints)
    for i, nbrs in CONNECTIONS.items():
        adj[i, list(nbrs)] = 1.0
    return normalise_adjacency(adj)


def normalise_adjacency(adj: torch.Tensor) -> torch.Tensor:
    """`D^-1/2 A D^-1/2` with D the row sums of A, the same D on both sides; `(..., L, L)`."""
    d = adj.sum(-1).rsqrt()
    return adj * d[..., :, None] * d[..., None, :]


def knn_frame_adjacency(x: torch.Tensor, k: int) -> torch.Tensor:
    """Temporal similarity graph: `A_ts = 1` where `x_t·x_s` ≥ the k-th largest of row t.

    Args:
        x: features `(..., T, C)` of one joint's sequence.
        k: neighbour count (ties can add entries, as in the official code).

    Returns:
        Normalised adjacency `(..., T, T)`, carrying no gradient (as in the official code).
        The similarities are computed in fp32 also under autocast: in bf16 near-equal scores
        tie and pick other neighbours (the graph is discrete); without autocast nothing changes.
    """
    with torch.no_grad(), without_autocast(x):
        xf = at_least_fp32(x)
        sim = xf @ xf.transpose(-1, -2)
        thr = sim.topk(k, dim=-1).values[..., -1:]
        return normalise_adjacency((sim >= thr).to(x.dtype))


class GraphConv(nn.Module):
    """MotionAGFormer GCN over the token axis: `ReLU(x + BN(Â V(x) + U(x)))`.

    The BatchNorm has one channel per node (17 joints, or T frames for the temporal GCN), with
    statistics over every other axis — the official `BatchNorm1d(num_nodes)`.

    Args:
        dim: channels C.
        num_nodes: J (spatial) or the built T (temporal).
        mode: `"spatial"` (fixed skeleton graph) or `"temporal"` (kNN similarity graph).
        neighbour_num: k of the temporal graph.
    """

    def __init__(self, dim: int, num_nodes: int, mode: str, neighbour_num: int = 2) -> None:
        super().__init__()
        if mode not in ("spatial", "temporal"):
            raise ValueError(f"mode must be 'spatial' or 'temporal', got {mode!r}")
        self.mode, self.k = mode, neighbour_num
        self.U = nn.Linear(dim, dim)
        self.V = nn.Linear(dim, dim)
        self.batch_norm = nn.BatchNorm1d(num_nodes)
        for lin in (self.U, self.V):
            nn.init.normal_(lin.weight, 0.0, math.sqrt(2.0 / dim))
        if mode == "spatial":
            self.register_buffer("adj", spatial_adjacency(num_nodes), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Aggregate over axis -2 of `x` `(N1, N2, L, C)`; returns the same shape."""
        n1, n2, length, dim = x.shape
        w = torch.cat([self.U.weight, self.V.weight])
        uv = F.linear(x, w, torch.cat([self.U.bias, self.V.bias]))  # U and V in one GEMM
        ux, vx = uv[..., :dim], uv[..., dim:]
        adj = self.adj if self.mode == "spatial" else knn_frame_adjacency(x, self.k)
        y = adj @ vx + ux
        bn = self.batch_norm
        stats = bn.running_mean, bn.running_var
        if stats[0] is not None:
            stats = stats[0][:length], stats[1][:length]
        if self.training and bn.num_batches_tracked is not None:
            bn.num_batches_tracked.add_(1)
        y = F.batch_norm(
            y.reshape(n1 * n2, length, dim), stats[0], stats[1], bn.weight[:length],
            bn.bias[:length], self.training or stats[0] is None, bn.momentum, bn.eps,
        ).view(n1, n2, length, dim)  # fmt: skip
        return F.relu(x + y)


class AGFormerBlock(nn.Module):
    """MetaFormer block: `x + ls1·mixer(LN(x))`, then `x + ls2·MLP(LN(x))`.

    Args:
        dim: channels C.
        mixer: `"attention"` or `"graph"`.
        mode: `"spatial"` (tokens = joints) or `"temporal"` (tokens = frames).
        num_heads: attention heads.
        num_nodes: BatchNorm channels of the GCN (J or T).
        neighbour_num: k of the temporal graph.
        mlp_ratio: hidden width of the MLP over C.
        layer_scale_init: initial value of the per-channel layer scales.
    """

    def __init__(
        self, dim: int, mixer: str, mode: str, num_heads: int, num_nodes: int,
        neighbour_num: int = 2, mlp_ratio: float = 4.0, layer_scale_init: float = 1e-5,
    ) -> None:  # fmt: skip
        super().__init__()
        self.temporal = mode == "temporal"
        self.norm1 = nn.LayerNorm(dim)
        self.mixer: nn.Module
        if mixer == "attention":
            self.mixer = Attention(dim, num_heads, qkv_bias=False)
        elif mixer == "graph":
            self.mixer = GraphConv(dim, num_nodes, mode, neighbour_num)
        else:
            raise ValueError(f"mixer must be 'attention' or 'graph', got {mixer!r}")
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.layer_scale_1 = nn.Parameter(torch.full((dim,), layer_scale_init))
        self.layer_scale_2 = nn.Parameter(torch.full((dim,), layer_scale_init))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, T, J, C)` → `(B, T, J, C)` (possibly a transposed view)."""
        if self.temporal:
            x = x.transpose(1, 2)
        if isinstance(self.mixer, Attention):
            x = x + self.mixer(x, out_scale=self.layer_scale_1, norm=self.norm1)
        else:
            x = x + self.layer_scale_1 * self.mixer(self.norm1(x))
        x = x + self.mlp(x, out_scale=self.layer_scale_2, norm=self.norm2)
        return x.transpose(1, 2) if self.temporal else x


class MotionAGFormerLayer(nn.Module):
    """One layer: attention stream and graph stream in parallel, adaptive fusion.

    Args:
        dim: channels C.
        num_heads: attention heads.
        n_frames: the built T (temporal GCN BatchNorm channels).
        num_joints: J.
        neighbour_num: k of the temporal graph.
        mlp_ratio: MLP hidden ratio.
        layer_scale_init: initial layer-scale value.
    """

    def __init__(
        self, dim: int, num_heads: int, n_frames: int, num_joints: int = 17,
        neighbour_num: int = 2, mlp_ratio: float = 4.0, layer_scale_init: float = 1e-5,
    ) -> None:  # fmt: skip
        super().__init__()

        def block(mixer: str, mode: str) -> AGFormerBlock:
            nodes = num_joints if mode == "spatial" else n_frames
            return AGFormerBlock(
                dim, mixer, mode, num_heads, nodes, neighbour_num, mlp_ratio, layer_scale_init
            )

        self.att_spatial = block("attention", "spatial")
        self.att_temporal = block("attention", "temporal")
        self.graph_spatial = block("graph", "spatial")
        self.graph_temporal = block("graph", "temporal")
        self.fusion = nn.Linear(2 * dim, 2)
        nn.init.zeros_(self.fusion.weight)
        nn.init.constant_(self.fusion.bias, 0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, T, J, C)` → `(B, T, J, C)`."""
        x_attn = self.att_temporal(self.att_spatial(x))
        x_graph = self.graph_temporal(self.graph_spatial(x))
        return adaptive_fusion(self.fusion, x_attn, x_graph)


class MotionAGFormer(Lifter):
    """MotionAGFormer lifter, `(B, T, 17, 3)` 2D + confidence → `(B, T, 17, 3)` 2.5D.

    Args:
        n_layers: number of layers.
        dim_feat: channels C.
        dim_rep: width of the Tanh motion representation before the head.
        num_heads: attention heads.
        n_frames: the T the model is built for (the largest T it accepts).
        neighbour_num: k of the temporal kNN graph.
        mlp_ratio: MLP hidden ratio.
        layer_scale_init: initial layer-scale value.
        num_joints: J.
    """

    uses_confidence = True

    def __init__(
        self, n_layers: int = 16, dim_feat: int = 128, dim_rep: int = 512, num_heads: int = 8,
        n_frames: int = 243, neighbour_num: int = 2, mlp_ratio: float = 4.0,
        layer_scale_init: float = 1e-5, num_joints: int = 17,
    ) -> None:  # fmt: skip
        super().__init__()
        self.num_joints, self.max_frames, self.feature_dim = num_joints, n_frames, dim_rep
        self.joints_embed = nn.Linear(3, dim_feat)
        self.pos_embed = nn.Parameter(torch.zeros(1, num_joints, dim_feat))
        self.layers = nn.Sequential(*[
            MotionAGFormerLayer(
                dim_feat, num_heads, n_frames, num_joints, neighbour_num, mlp_ratio,
                layer_scale_init,
            )
            for _ in range(n_layers)
        ])  # fmt: skip
        self.norm = nn.LayerNorm(dim_feat)
        self.rep_logit = nn.Linear(dim_feat, dim_rep)
        self.head = nn.Linear(dim_rep, 3)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The Tanh motion representation, `(B, T, J, 3)` → `(B, T, J, dim_rep)`."""
        self.check_input(x)
        x = self.layers(self.joints_embed(x) + self.pos_embed)
        return torch.tanh(self.rep_logit(self.norm(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, T, J, 3)` normalised 2D + confidence → `(B, T, J, 3)` normalised 2.5D."""
        return self.head(self.forward_features(x))


_TINY = {"n_layers": 2, "dim_feat": 32, "dim_rep": 64, "num_heads": 4, "n_frames": 9}
_PAPER = "Mehraban et al., MotionAGFormer, WACV 2024"


@register_lifter(paper=_PAPER, tiny=_TINY, paper_params=2_241_531)
def motionagformer_xs(**overrides: object) -> MotionAGFormer:
    """MotionAGFormer-XS: 12 layers, C = 64, T = 27 (2,241,531 params)."""
    return MotionAGFormer(**{"n_layers": 12, "dim_feat": 64, "n_frames": 27, **overrides})  # type: ignore[arg-type]


@register_lifter(paper=_PAPER, tiny=_TINY, paper_params=4_817_119)
def motionagformer_s(**overrides: object) -> MotionAGFormer:
    """MotionAGFormer-S: 26 layers, C = 64, T = 81 (4,817,119 params)."""
    return MotionAGFormer(**{"n_layers": 26, "dim_feat": 64, "n_frames": 81, **overrides})  # type: ignore[arg-type]


@register_lifter(paper=_PAPER, tiny=_TINY, paper_params=11_723_811)
def motionagformer_b(**overrides: object) -> MotionAGFormer:
    """MotionAGFormer-B: 16 layers, C = 128, T = 243 (11,723,811 params)."""
    return MotionAGFormer(**{"n_layers": 16, "dim_feat": 128, "n_frames": 243, **overrides})  # type: ignore[arg-type]


@register_lifter(paper=_PAPER, tiny=_TINY, paper_params=19_007_111)
def motionagformer_l(**overrides: object) -> MotionAGFormer:
    """MotionAGFormer-L: 26 layers, C = 128, T = 243 (19,007,111 params)."""
    return MotionAGFormer(**{"n_layers": 26, "dim_feat": 128, "n_frames": 243, **overrides})  # type: ignore[arg-type]
