"""The MetaFormer block of KASportsFormer and its memory-lean GELU MLP.

`FormerBlock`: `x += ls1·mixer(LN(x)[, LN_ctx(ctx)])`, then `x += ls2·MLP(LN(x))`, on
`(B, T, J, C)` tensors (as in the official KASportsFormer code).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

from liftbench.models.layers import autocast_input


class _GeluMlpFunction(torch.autograd.Function):
    """`Linear → GELU → Linear` that saves the pre-activation only and recomputes GELU.

    Plain autograd keeps both the fc1 output and the GELU output, each 4·C wide: the largest
    activations of the model. Recomputing the GELU in the backward pass (one cheap elementwise
    op) drops one of them, about 40% of KASportsFormer's activation memory, with identical
    values and gradients. Works under autocast: the backward runs in the dtype of the saved
    activations and returns gradients in each input's dtype.
    """

    @staticmethod
    def forward(
        ctx: Any,
        x: torch.Tensor,
        w1: torch.Tensor,
        b1: torch.Tensor,
        w2: torch.Tensor,
        b2: torch.Tensor,
    ) -> torch.Tensor:
        h = F.linear(x, w1, b1)
        out = F.linear(F.gelu(h), w2.to(h.dtype), b2.to(h.dtype))
        ctx.save_for_backward(x, h, w1, w2)
        ctx.dtypes = (x.dtype, w1.dtype, b1.dtype, w2.dtype, b2.dtype)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, h, w1, w2 = ctx.saved_tensors
        need = ctx.needs_input_grad
        dt = h.dtype
        hidden = h.reshape(-1, h.shape[-1])
        g = grad_out.reshape(-1, grad_out.shape[-1]).to(dt)
        act = F.gelu(hidden)
        g_w2 = (g.t() @ act).to(ctx.dtypes[3]) if need[3] else None
        g_b2 = g.sum(0).to(ctx.dtypes[4]) if need[4] else None
        g_act = g @ w2.to(dt)
        # dL/dh written over the recomputed activation (no longer needed): one buffer less.
        g_h = torch.ops.aten.gelu_backward.grad_input(g_act, hidden, grad_input=act)
        g_w1 = (g_h.t() @ x.reshape(-1, x.shape[-1]).to(dt)).to(ctx.dtypes[1]) if need[1] else None
        g_b1 = g_h.sum(0).to(ctx.dtypes[2]) if need[2] else None
        g_x = (g_h @ w1.to(dt)).view(x.shape).to(ctx.dtypes[0]) if need[0] else None
        return g_x, g_w1, g_b1, g_w2, g_b2


class Mlp(nn.Module):
    """`Linear(C→hidden) → GELU → Linear(hidden→C)` on the last axis (GELU recomputed)."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor, out_scale: torch.Tensor | None = None) -> torch.Tensor:
        """Map `(..., C)` to `(..., C)`; `out_scale` `(C,)` is folded into fc2 (layer scale)."""
        w2, b2 = self.fc2.weight, self.fc2.bias
        if out_scale is not None:
            w2, b2 = out_scale[:, None] * w2, out_scale * b2
        if torch.is_grad_enabled() and (x.requires_grad or self.fc1.weight.requires_grad):
            # under autocast the input is stored in bf16 (cast once, as fc1 would cast it)
            return _GeluMlpFunction.apply(autocast_input(x), self.fc1.weight, self.fc1.bias, w2,
                                          b2)
        return F.linear(F.gelu(self.fc1(x)), w2, b2)


class FormerBlock(nn.Module):
    """MetaFormer block: `x += ls1·mixer(LN(x)[, LN_ctx(ctx)])`, then `x += ls2·MLP(LN(x))`.

    Every block owns `norm1_limb` (the context LayerNorm), as every official `FormerModule`
    does; only cross-attention blocks use it. In the other blocks it is kept so the parameter
    count and checkpoint layout match the official model (4 per layer, 26,624 parameters in the
    paper config) but frozen (`requires_grad=False`): it never receives a gradient, and a
    trainable unused parameter would make DDP fail without `find_unused_parameters`.

    The layer scales are folded into the last linear layer of the mixer (attention `proj`) and
    of the MLP (`fc2`), `ls·(Wx + b) = (ls·W)x + ls·b`, so the unscaled outputs are never stored.

    Args:
        dim: channels C.
        mixer: the token mixer (`TokenAttention` or `GraphMixer`).
        mlp_ratio: MLP hidden width / C.
        layer_scale_init: initial value of the per-channel layer scales.
    """

    def __init__(
        self, dim: int, mixer: nn.Module, mlp_ratio: float = 4.0, layer_scale_init: float = 1e-5
    ) -> None:
        super().__init__()
        self.uses_context = bool(getattr(mixer, "cross", False))
        self.scales_inside = hasattr(mixer, "proj")  # attention mixers take `out_scale`
        self.norm1 = nn.LayerNorm(dim)
        self.norm1_limb = nn.LayerNorm(dim)
        self.norm1_limb.requires_grad_(self.uses_context)
        self.mixer = mixer
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.layer_scale_1 = nn.Parameter(torch.full((dim,), float(layer_scale_init)))
        self.layer_scale_2 = nn.Parameter(torch.full((dim,), float(layer_scale_init)))

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """Map `(B, T, J, C)` (and a `(B, T, J, C)` cross-attention context) to `(B, T, J, C)`."""
        if self.uses_context:
            if context is None:
                raise ValueError("a cross-attention FormerBlock needs the limb context tensor")
            x = x + self.mixer(self.norm1(x), self.norm1_limb(context), self.layer_scale_1)
        elif self.scales_inside:
            x = x + self.mixer(self.norm1(x), out_scale=self.layer_scale_1)
        else:
            x = x + self.layer_scale_1 * self.mixer(self.norm1(x))
        return x + self.mlp(self.norm2(x), out_scale=self.layer_scale_2)
