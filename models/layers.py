"""Shared transformer building blocks for the lifters.

Every block works on feature tensors `(..., L, C)`: the token axis L is the second-to-last axis and
all leading axes are batch axes. A spatial mixer sees `(B, T, J, C)` (tokens = joints); a temporal
mixer sees the transposed view `(B, J, T, C)` (tokens = frames). Keeping the token axis at -2
means `q, k, v` are strided views of one `qkv` GEMM, with no per-frame or per-joint Python loops.

Memory notes (these matter at T = 243, where the official code needs > 20 GB for fwd+bwd):
- `Mlp` saves only its input and the pre-activation; GELU is recomputed in backward.
- A per-channel layer scale can be folded into the last Linear (`out_scale=`), so the scaled
  output is never stored.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

# Longest CPU sequence that uses SDPA's MATH backend instead of the CPU flash kernel. For 17
# joints or 27 frames with head_dim 16–64 the flash kernel is slower fwd+bwd on CPU; for long
# sequences it wins and never materialises the L×L attention matrix.
CPU_MATH_MAX_LEN = 128


def sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Scaled dot-product attention, `softmax(q kᵀ / sqrt(d)) v`.

    Args:
        q: queries `(N, H, L, d)` (strided views are fine).
        k: keys `(N, H, L, d)`.
        v: values `(N, H, L, d)`.

    Returns:
        `(N, H, L, d)`.
    """
    if q.device.type == "cpu" and q.shape[-2] <= CPU_MATH_MAX_LEN:
        with sdpa_kernel(SDPBackend.MATH):
            return F.scaled_dot_product_attention(q, k, v)
    return F.scaled_dot_product_attention(q, k, v)


class _MlpFn(torch.autograd.Function):
    """`fc2(gelu(fc1(x)))` that stores x and the pre-activation only (GELU recomputed)."""

    @staticmethod
    def forward(
        ctx: torch.autograd.function.FunctionCtx,
        x: torch.Tensor,
        w1: torch.Tensor,
        b1: torch.Tensor,
        w2: torch.Tensor,
        b2: torch.Tensor,
    ) -> torch.Tensor:
        h = F.linear(x, w1, b1)
        out = F.linear(F.gelu(h), w2, b2)
        ctx.save_for_backward(x, h, w1, w2)
        return out

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, g: torch.Tensor) -> tuple:
        x, h, w1, w2 = ctx.saved_tensors
        a = F.gelu(h)
        g2 = g.reshape(-1, g.shape[-1])
        grad_w2 = g2.t() @ a.reshape(-1, a.shape[-1])
        grad_b2 = g2.sum(0)
        grad_h = torch.ops.aten.gelu_backward(g @ w2, h)
        gh2 = grad_h.reshape(-1, grad_h.shape[-1])
        grad_w1 = gh2.t() @ x.reshape(-1, x.shape[-1])
        grad_b1 = gh2.sum(0)
        grad_x = grad_h @ w1
        return grad_x, grad_w1, grad_b1, grad_w2, grad_b2


class Mlp(nn.Module):
    """Two-layer perceptron `Linear(C→hidden) → GELU → Linear(hidden→out)`.

    Args:
        dim: input channels C.
        hidden: hidden channels.
        out: output channels (default C).
    """

    def __init__(self, dim: int, hidden: int, out: int | None = None) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, out or dim)

    def forward(self, x: torch.Tensor, out_scale: torch.Tensor | None = None) -> torch.Tensor:
        """Map `(..., C)` to `(..., out)`; `out_scale` `(out,)` scales the output per channel."""
        w2, b2 = self.fc2.weight, self.fc2.bias
        if out_scale is not None:
            w2, b2 = w2 * out_scale[:, None], b2 * out_scale
        if torch.is_grad_enabled() and x.device.type != "meta":
            return _MlpFn.apply(x, self.fc1.weight, self.fc1.bias, w2, b2)
        return F.linear(F.gelu(self.fc1(x)), w2, b2)


class Attention(nn.Module):
    """Multi-head self-attention over the token axis (-2) of `(..., L, C)`.

    `qkv = Linear(C→3C)`, fused scaled-dot-product attention with scale `head_dim^-0.5`,
    `proj = Linear(C→C)`; the parameter names and shapes are those of the official models.

    Args:
        dim: channels C (divisible by `num_heads`).
        num_heads: heads H.
        qkv_bias: bias on the qkv projection.
    """

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = False) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim ({dim}) must be divisible by num_heads ({num_heads})")
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, out_scale: torch.Tensor | None = None) -> torch.Tensor:
        """Attend over axis -2 of `x` `(..., L, C)`; returns `(..., L, C)`.

        `out_scale` `(C,)` (a layer scale) is folded into `proj`.
        """
        *lead, length, dim = x.shape
        h = self.num_heads
        qkv = self.qkv(x).reshape(-1, length, 3, h, dim // h).permute(2, 0, 3, 1, 4)
        out = sdpa(qkv[0], qkv[1], qkv[2])  # (N, H, L, d)
        out = out.transpose(1, 2).reshape(*lead, length, dim)
        w, b = self.proj.weight, self.proj.bias
        if out_scale is not None:
            w, b = w * out_scale[:, None], b * out_scale
        return F.linear(out, w, b)


class DropPath(nn.Module):
    """Stochastic depth: zero a whole residual branch per sample with probability `p` (train only).

    Args:
        p: drop probability in [0, 1).
    """

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"drop path probability p must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return `x` `(B, ...)` with some samples zeroed and the rest scaled by 1/(1-p)."""
        if self.p == 0.0 or not self.training:
            return x
        keep = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(1.0 - self.p)
        return x * keep / (1.0 - self.p)


def adaptive_fusion(fuse: nn.Linear, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-token softmax fusion of two streams, `α = softmax(fuse(cat[a, b]))`, `α0·a + α1·b`.

    The concatenation is never formed: `fuse(cat[a, b]) = a W_aᵀ + b W_bᵀ + bias`, which is the
    same number without storing a `(..., 2C)` tensor for backward.

    Args:
        fuse: `Linear(2C → 2)`.
        a: first stream `(..., C)`.
        b: second stream `(..., C)`.

    Returns:
        `(..., C)`.
    """
    c = a.shape[-1]
    logits = F.linear(a, fuse.weight[:, :c], fuse.bias) + F.linear(b, fuse.weight[:, c:])
    alpha = logits.softmax(dim=-1)
    return a * alpha[..., 0:1] + b * alpha[..., 1:2]
