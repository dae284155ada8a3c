"""KASportsFormer token mixers: multi-head (cross-)attention and the GCN.

Both mixers work on `(B, T, J, C)` feature tensors. A mixer runs either over the joints of each
frame (`mode="spatial"`) or over the frames of each joint (`mode="temporal"`). Attention uses the
fused `F.scaled_dot_product_attention` via `models.layers.sdpa` (on the CPU its MATH backend for
these short sequences, ~3× faster fwd+bwd than the CPU flash kernel). The GCN follows
MotionAGFormer's graph module (official MotionAGFormer code) with the kNN frame graph
built by a batched top-k.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from liftbench.models.layers import at_least_fp32, autocast_input, sdpa, without_autocast

MODES = ("spatial", "temporal")


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")


class TokenAttention(nn.Module):
    """Multi-head attention over joints or frames; self-attention or cross-attention.

    Self-attention (MHSA): `qkv = Linear(C→3C)`. Cross-attention (the anatomy mixer's MHCA):
    queries `Linear(C→C)` from the stream, keys/values `Linear(C→2C)` from a context tensor of
    the same shape (the limb tokens). Scale `head_dim^-0.5`, output `proj = Linear(C→C)`.

    Args:
        dim: channels C (divisible by `num_heads`).
        num_heads: heads h.
        mode: `"spatial"` (attend over J within a frame) or `"temporal"` (over T per joint).
        cross: whether keys/values come from a separate context tensor.
        qkv_bias: bias on the q/k/v projections (official config: False).
    """

    def __init__(
        self, dim: int, num_heads: int, mode: str, cross: bool = False, qkv_bias: bool = False
    ) -> None:
        super().__init__()
        _check_mode(mode)
        if dim % num_heads:
            raise ValueError(f"dim ({dim}) must be divisible by num_heads ({num_heads})")
        self.num_heads, self.mode, self.cross = num_heads, mode, cross
        if cross:
            self.q = nn.Linear(dim, dim, bias=qkv_bias)
            self.kv = nn.Linear(dim, 2 * dim, bias=qkv_bias)
        else:
            self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def _split_heads(self, t: torch.Tensor, n: int) -> torch.Tensor:
        """`(B, T, J, n·C)` → `(n, B·T, h, J, d)` (spatial) or `(n, B·J, h, T, d)` (temporal)."""
        b, f, j, _ = t.shape
        t = t.view(b, f, j, n, self.num_heads, -1)
        if self.mode == "spatial":
            return t.permute(3, 0, 1, 4, 2, 5).reshape(n, b * f, self.num_heads, j, -1)
        return t.permute(3, 0, 2, 4, 1, 5).reshape(n, b * j, self.num_heads, f, -1)

    def forward(
        self,
        x: torch.Tensor,
        context: torch.Tensor | None = None,
        out_scale: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Attend.

        Args:
            x: `(B, T, J, C)` query stream (and keys/values for self-attention).
            context: `(B, T, J, C)` key/value stream; required iff `cross`.
            out_scale: optional `(C,)` per-channel factor folded into `proj` (the block's layer
                scale), which saves storing the unscaled output for the backward pass.

        Returns:
            `(B, T, J, C)`.
        """
        b, f, j, c = x.shape
        if self.cross:
            if context is None or context.shape != x.shape:
                got = None if context is None else tuple(context.shape)
                raise ValueError(
                    f"cross-attention needs context of shape {tuple(x.shape)}, got {got}"
                )
            (q,) = self._split_heads(self.q(x), 1)
            k, v = self._split_heads(self.kv(context), 2)
        else:
            q, k, v = self._split_heads(self.qkv(x), 3)
        out = sdpa(q, k, v)
        if self.mode == "spatial":
            out = out.view(b, f, self.num_heads, j, -1).transpose(2, 3)
        else:
            out = out.view(b, j, self.num_heads, f, -1).permute(0, 3, 1, 2, 4)
        weight, bias = self.proj.weight, self.proj.bias
        if out_scale is not None:
            weight, bias = out_scale[:, None] * weight, out_scale * bias
        return F.linear(out.reshape(b, f, j, c), weight, bias)


class NodeBatchNorm(nn.BatchNorm1d):
    """`BatchNorm1d` over a node axis (joints or frames) at dim 1, as MotionAGFormer's GCN.

    Each node index has its own statistics and affine parameters, computed over the batch and the
    channels. Deliberate deviation: the official module requires exactly `num_features` nodes;
    here fewer nodes (a clip shorter than the model's `n_frames`) use the first entries.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise `(N, nodes, L)` per node."""
        n = x.shape[1]
        if n == self.num_features:
            return super().forward(x)
        if n > self.num_features:
            raise ValueError(f"NodeBatchNorm built for {self.num_features} nodes, got {n}")
        use_batch = self.training or self.running_mean is None
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative moving average, as nn.BatchNorm1d
                factor = 1.0 / float(self.num_batches_tracked)

        def head(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t[:n]

        return F.batch_norm(
            x, head(self.running_mean), head(self.running_var), head(self.weight), head(self.bias),
            use_batch, factor, self.eps,
        )  # fmt: skip


@torch.no_grad()
def knn_frame_graph(x: torch.Tensor, k: int) -> torch.Tensor:
    """Normalised kNN adjacency over frames from raw dot-product similarity (no gradient).

    Row t links to every frame s whose similarity `⟨x_t, x_s⟩` reaches the k-th largest of row t
    (ties can add links), then `D^-1/2 A D^-1/2` with D the row sums (≥ k ≥ 1, so finite).

    Args:
        x: `(..., T, C)` features.
        k: neighbours per frame; clipped to T.

    Returns:
        `(..., T, T)` normalised adjacency. The similarities are computed in fp32 also under
        autocast (in bf16 near-equal scores tie and pick other neighbours); without autocast
        nothing changes.
    """
    with without_autocast(x):
        xf = at_least_fp32(x)
        sim = torch.matmul(xf, xf.transpose(-1, -2))
    kth = sim.topk(min(k, sim.shape[-1]), dim=-1).values[..., -1:]
    adj = (sim >= kth).to(x.dtype)
    inv_sqrt_deg = adj.sum(dim=-1).rsqrt()
    return inv_sqrt_deg.unsqueeze(-1) * adj * inv_sqrt_deg.unsqueeze(-2)


class GraphMixer(nn.Module):
    """GCN mixer: `ReLU(x + BN_nodes(Â·V(x) + U(x)))`.

    Spatial: Â is the fixed normalised skeleton adjacency (no self-loops). Temporal: Â is the
    kNN graph over frames per joint (`knn_frame_graph`). BN runs over the node axis (joints or
    frames), so the temporal mixer has `2·n_frames` BN parameters.

    Args:
        dim: channels C.
        mode: `"spatial"` or `"temporal"`.
        num_nodes: J (spatial) or the built frame count (temporal).
        adjacency: `(J, J)` 0/1 skeleton adjacency (spatial only).
        neighbours: k of the frame graph (temporal only).
    """

    def __init__(
        self,
        dim: int,
        mode: str,
        num_nodes: int,
        adjacency: torch.Tensor | None = None,
        neighbours: int = 4,
    ) -> None:
        super().__init__()
        _check_mode(mode)
        if neighbours < 1:
            raise ValueError(f"neighbours must be >= 1, got {neighbours}")
        self.mode, self.neighbours = mode, neighbours
        self.U = nn.Linear(dim, dim)
        self.V = nn.Linear(dim, dim)
        self.batch_norm = NodeBatchNorm(num_nodes)
        # MotionAGFormer's GCN init: N(0, √(2/C)) weights (biases keep the nn.Linear default).
        nn.init.normal_(self.U.weight, 0.0, (2.0 / dim) ** 0.5)
        nn.init.normal_(self.V.weight, 0.0, (2.0 / dim) ** 0.5)
        if mode == "spatial":
            if adjacency is None or adjacency.shape != (num_nodes, num_nodes):
                raise ValueError(f"spatial GraphMixer needs a ({num_nodes}, {num_nodes}) adjacency")
            inv_sqrt_deg = adjacency.sum(dim=-1).clamp_min(1.0).rsqrt()
            norm = inv_sqrt_deg[:, None] * adjacency * inv_sqrt_deg[None, :]
            self.register_buffer("norm_adjacency", norm.float(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map `(B, T, J, C)` to `(B, T, J, C)`."""
        b, f, j, c = x.shape
        xin = autocast_input(x)  # U and V read one cast under autocast (else x itself)
        if self.mode == "spatial":
            mixed = torch.matmul(self.norm_adjacency.to(xin.dtype), self.V(xin)) + self.U(xin)
            mixed = self.batch_norm(mixed.view(b * f, j, c)).view(b, f, j, c)
        else:
            graph = knn_frame_graph(x.transpose(1, 2), self.neighbours)  # (B, J, T, T)
            mixed = torch.matmul(graph, self.V(xin.transpose(1, 2))).transpose(1, 2) + self.U(xin)
            # BN channel = frame; statistics over (B, J, C) exactly as the official (B·J, T, C).
            mixed = self.batch_norm(mixed.reshape(b, f, j * c)).view(b, f, j, c)
        return F.relu(x + mixed)
