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

import contextlib

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

# Longest CPU sequence that uses SDPA's MATH backend instead of the CPU flash kernel. For 17
# joints or 27 frames with head_dim 16–64 the flash kernel is slower fwd+bwd on CPU; for long
# sequences it wins and never materialises the L×L attention matrix.
CPU_MATH_MAX_LEN = 128

# MLP pre-activations above this size are recomputed in backward instead of stored (64 MiB:
# not at B = 8, T = 27 — where speed matters — but at T = 243, where memory does).
RECOMPUTE_HIDDEN_BYTES = 64 << 20


def without_autocast(x: torch.Tensor) -> contextlib.AbstractContextManager:
    """Autocast switched off on the device of `x` where it is on, else nothing."""
    dev = x.device.type
    if dev in ("cpu", "cuda") and torch.is_autocast_enabled(dev):
        return torch.autocast(dev, enabled=False)
    return contextlib.nullcontext()


def at_least_fp32(x: torch.Tensor) -> torch.Tensor:
    """`x` in fp32 if it is bf16 / fp16; fp32 and fp64 tensors as they are."""
    return x.float() if x.dtype in (torch.bfloat16, torch.float16) else x


def autocast_input(x: torch.Tensor) -> torch.Tensor:
    """`x` cast once to the autocast dtype where autocast would cast it (fp32 under autocast).

    For an input that several GEMMs read (autocast casts it again for each) or that a custom
    Function stores for backward (stored in half the bytes, not cast again there). Outside
    autocast `x` itself.
    """
    dev = x.device.type
    if x.dtype == torch.float32 and dev in ("cpu", "cuda") and torch.is_autocast_enabled(dev):
        return x.to(torch.get_autocast_dtype(dev))
    return x


def _low_precision_cpu(q: torch.Tensor) -> bool:
    """bf16 / fp16 tensors on the CPU (or fp32 ones that autocast would cast to those)."""
    if q.device.type != "cpu":
        return False
    if q.dtype in (torch.bfloat16, torch.float16):
        return True
    return q.dtype == torch.float32 and torch.is_autocast_enabled("cpu")


def _sdpa_low_precision_cpu(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """SDPA for bf16 / fp16 (or autocast) CPU tensors, avoiding the CPU flash kernel's bf16 path.

    Measured here (1 thread, fwd+bwd, `(N, 8, L, d)` with L = 17 / 27, d = 16 / 64): the CPU
    flash kernel in bf16 is 3–13× slower than in fp32, while the MATH backend in bf16 is as fast
    as fp32. Short sequences (L ≤ `CPU_MATH_MAX_LEN`) therefore use MATH in the low precision;
    longer ones (where MATH would store the L×L matrices) run the flash kernel in fp32 and cast
    the output back. fp32 inputs outside autocast never come here.
    """
    if q.shape[-2] <= CPU_MATH_MAX_LEN:
        with sdpa_kernel(SDPBackend.MATH):
            return F.scaled_dot_product_attention(q, k, v)
    dtype = torch.get_autocast_dtype("cpu") if q.dtype == torch.float32 else q.dtype
    with torch.autocast("cpu", enabled=False):
        out = F.scaled_dot_product_attention(q.float(), k.float(), v.float())
    return out.to(dtype)


def sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Scaled dot-product attention, `softmax(q kᵀ / sqrt(d)) v`.

    Args:
        q: queries `(N, H, L, d)` (strided views are fine).
        k: keys `(N, H, L, d)`.
        v: values `(N, H, L, d)`.

    Returns:
        `(N, H, L, d)`.
    """
    if _low_precision_cpu(q):
        return _sdpa_low_precision_cpu(q, k, v)
    if q.device.type == "cpu" and q.shape[-2] <= CPU_MATH_MAX_LEN:
        with sdpa_kernel(SDPBackend.MATH):
            return F.scaled_dot_product_attention(q, k, v)
    return F.scaled_dot_product_attention(q, k, v)


def _layer_norm(x: torch.Tensor, norm: nn.LayerNorm | None) -> tuple:
    """`(y, mean, rstd)` of `norm(x)` (or `(x, None, None)` without a norm)."""
    if norm is None:
        return x, None, None
    return torch.native_layer_norm(x, norm.normalized_shape, norm.weight, norm.bias, norm.eps)


def _ln_recompute(x: torch.Tensor, mean: torch.Tensor, rstd: torch.Tensor, w: torch.Tensor,
                  b: torch.Tensor) -> torch.Tensor:  # fmt: skip
    return (x - mean) * rstd * w + b


def _flat(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(-1, t.shape[-1])


def _linear_fresh(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """`F.linear(x, w, b)` as a tensor that is not a view, so a caller may add to it in place.

    `F.linear` on `(..., C)` input returns a view of its 2D GEMM result, and autograd forbids
    in-place ops on views created inside a custom Function; the same `addmm` (same numbers)
    written straight into an `(..., out)` tensor is not a view.
    """
    amp = torch.is_autocast_enabled(x.device.type)
    if b is None or x.dim() <= 2 or not x.is_contiguous() or amp:
        y = F.linear(x, w, b)
        return y if y._base is None else y.clone()
    out = x.new_empty(*x.shape[:-1], w.shape[0])
    torch.addmm(b, x.view(-1, x.shape[-1]), w.t(), out=out.view(-1, w.shape[0]))
    return out


def _save_amp(ctx: torch.autograd.function.FunctionCtx) -> None:
    """Remember the forward's autocast state (autograd runs backward outside of it)."""
    ctx.amp = next(((dev, torch.get_autocast_dtype(dev)) for dev in ("cuda", "cpu")
                    if torch.is_autocast_enabled(dev)), None)


def _amp(ctx: torch.autograd.function.FunctionCtx) -> contextlib.AbstractContextManager:
    """Backward under the forward's autocast, so bf16 activations meet bf16 weight casts."""
    return torch.autocast(ctx.amp[0], dtype=ctx.amp[1]) if ctx.amp else contextlib.nullcontext()


class _NormLinearFn(torch.autograd.Function):
    """`linear(LN(x))` that stores x and the LN statistics, not the normalised tensor."""

    @staticmethod
    def forward(
        ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor, norm: nn.LayerNorm,
        w: torch.Tensor, b: torch.Tensor | None, *norm_params: torch.Tensor,
    ) -> torch.Tensor:  # fmt: skip
        y, mean, rstd = _layer_norm(x, norm)
        ctx.norm, ctx.has_bias = norm, b is not None
        _save_amp(ctx)
        ctx.save_for_backward(x, mean, rstd, w, *norm_params)
        return F.linear(y, w, b)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, g: torch.Tensor) -> tuple:
        x, mean, rstd, w, lnw, lnb = ctx.saved_tensors
        with _amp(ctx):
            y = _ln_recompute(x, mean, rstd, lnw, lnb)
            grad_w = _flat(g).t() @ _flat(y)
            grad_b = _flat(g).sum(0) if ctx.has_bias else None
            grad_y = (_flat(g) @ w).view(*g.shape[:-1], w.shape[1]).to(x.dtype)
        gx, glnw, glnb = torch.ops.aten.native_layer_norm_backward(
            grad_y, x, ctx.norm.normalized_shape, mean, rstd, lnw, lnb, [True, True, True]
        )
        return gx, None, grad_w, grad_b, glnw, glnb


class _MlpFn(torch.autograd.Function):
    """`fc2(gelu(fc1(LN(x))))` storing x, the LN statistics and the pre-activation only.

    The normalised input and the GELU output are recomputed in backward (elementwise, cheap).
    A pre-activation larger than `RECOMPUTE_HIDDEN_BYTES` is not stored either but recomputed
    (one extra `fc1` GEMM): at B = 8, T = 243 this is what keeps fwd+bwd within 16 GB.
    """

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor,
                norm: nn.LayerNorm | None, recompute: bool, w1: torch.Tensor,
                b1: torch.Tensor, w2: torch.Tensor, b2: torch.Tensor,
                *norm_params: torch.Tensor) -> torch.Tensor:  # fmt: skip
        y, mean, rstd = _layer_norm(x, norm)
        h = F.linear(y, w1, b1)
        ctx.norm = norm
        ctx.recompute = recompute or h.numel() * h.element_size() > RECOMPUTE_HIDDEN_BYTES
        _save_amp(ctx)
        saved_h = b1 if ctx.recompute else h  # a placeholder when h is recomputed
        ctx.save_for_backward(x, saved_h, w1, b1, w2, *((mean, rstd, *norm_params) if norm else ()))
        return _linear_fresh(F.gelu(h), w2, b2)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, g: torch.Tensor) -> tuple:
        x, h, w1, b1, w2, *ln = ctx.saved_tensors
        with _amp(ctx):
            y = _ln_recompute(x, *ln) if ln else x
            if ctx.recompute:
                h = F.linear(y, w1, b1)
            g2 = _flat(g)
            grad_w2 = g2.t() @ _flat(F.gelu(h))
            grad_b2 = g2.sum(0)
            # `g` flattened first: a non-contiguous `g` (the temporal half's transposed view)
            # made `g @ w2` a bmm over a materialised (B·J, C, hidden) copy of w2.
            grad_h = torch.ops.aten.gelu_backward((g2 @ w2).view(h.shape), h)
            grad_w1 = _flat(grad_h).t() @ _flat(y)
            grad_b1 = _flat(grad_h).sum(0)
            grad_y = (grad_h @ w1).to(x.dtype)
        if not ln:
            return grad_y, None, None, grad_w1, grad_b1, grad_w2, grad_b2
        mean, rstd, lnw, lnb = ln
        gx, glnw, glnb = torch.ops.aten.native_layer_norm_backward(
            grad_y, x, ctx.norm.normalized_shape, mean, rstd, lnw, lnb, [True, True, True]
        )
        return gx, None, None, grad_w1, grad_b1, grad_w2, grad_b2, glnw, glnb


class _HeadsProjFn(torch.autograd.Function):
    """`linear` of attention output `(N, H, L, d)` read as `(N, L, H·d)`.

    The transposed copy is not stored (SDPA already keeps its output for its own backward).
    """

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, o: torch.Tensor, w: torch.Tensor,
                b: torch.Tensor, lead: tuple[int, ...]) -> torch.Tensor:  # fmt: skip
        n, h, length, d = o.shape
        _save_amp(ctx)
        ctx.save_for_backward(o, w)
        # Output `(*lead, L, C)` straight from the GEMM: a `.view` outside the Function would
        # forbid in-place residual adds on it.
        return _linear_fresh(o.transpose(1, 2).reshape(*lead, length, h * d), w, b)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, g: torch.Tensor) -> tuple:
        o, w = ctx.saved_tensors
        n, h, length, d = o.shape
        g2 = _flat(g)
        with _amp(ctx):
            grad_w = g2.t() @ o.transpose(1, 2).reshape(n * length, h * d)
            grad_o = (g2 @ w).view(n, length, h, d).transpose(1, 2).to(o.dtype)
        return grad_o, grad_w, g2.sum(0), None


def _use_custom(x: torch.Tensor) -> bool:
    return torch.is_grad_enabled() and x.device.type != "meta"


class Mlp(nn.Module):
    """Two-layer perceptron `Linear(C→hidden) → GELU → Linear(hidden→out)`.

    Args:
        dim: input channels C.
        hidden: hidden channels.
        out: output channels (default C).
        recompute: never store the pre-activation for backward (one extra `fc1` GEMM there);
            by default only pre-activations above `RECOMPUTE_HIDDEN_BYTES` are recomputed.
    """

    def __init__(self, dim: int, hidden: int, out: int | None = None,
                 recompute: bool = False) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, out or dim)
        self.recompute = recompute

    def forward(
        self, x: torch.Tensor, out_scale: torch.Tensor | None = None,
        norm: nn.LayerNorm | None = None,
    ) -> torch.Tensor:  # fmt: skip
        """Map `(..., C)` to `(..., out)`.

        Args:
            x: input `(..., C)`.
            out_scale: optional `(out,)` per-channel output scale (a layer scale).
            norm: optional LayerNorm applied to `x` first (its output is then not stored).
        """
        w2, b2 = self.fc2.weight, self.fc2.bias
        if out_scale is not None:
            w2, b2 = w2 * out_scale[:, None], b2 * out_scale
        if _use_custom(x):
            ln = (norm.weight, norm.bias) if norm is not None else ()
            return _MlpFn.apply(x, norm, self.recompute, self.fc1.weight, self.fc1.bias, w2, b2,
                                *ln)
        if norm is not None:
            x = norm(x)
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

    def forward(
        self, x: torch.Tensor, out_scale: torch.Tensor | None = None,
        norm: nn.LayerNorm | None = None,
    ) -> torch.Tensor:  # fmt: skip
        """Attend over axis -2 of `x` `(..., L, C)`; returns `(..., L, C)`.

        Args:
            x: tokens `(..., L, C)`.
            out_scale: optional `(C,)` layer scale, folded into `proj`.
            norm: optional LayerNorm applied to `x` first (its output is then not stored).
        """
        *lead, length, dim = x.shape
        h = self.num_heads
        custom = _use_custom(x)
        if norm is not None and custom:
            ln = (norm.weight, norm.bias)
            qkv = _NormLinearFn.apply(x, norm, self.qkv.weight, self.qkv.bias, *ln)
        else:
            qkv = self.qkv(norm(x) if norm is not None else x)
        qkv = qkv.reshape(-1, length, 3, h, dim // h).permute(2, 0, 3, 1, 4)
        # The default dispatcher (the fused flash kernel on CPU and CUDA) rather than `sdpa`: in
        # this layout the CPU flash kernel was faster fwd+bwd than MATH for every shape tried
        # (J = 17, T = 27 / 243, head_dim 16 / 64) and it stores no L×L matrices. Not in bf16 on
        # the CPU, where that kernel is 3–13× slower (`_sdpa_low_precision_cpu`).
        q, k, v = qkv[0], qkv[1], qkv[2]
        if _low_precision_cpu(q):
            out = _sdpa_low_precision_cpu(q, k, v)
        else:
            out = F.scaled_dot_product_attention(q, k, v)  # (N, H, L, d)
        w, b = self.proj.weight, self.proj.bias
        if out_scale is not None:
            w, b = w * out_scale[:, None], b * out_scale
        if custom:
            return _HeadsProjFn.apply(out, w, b, tuple(lead))
        return F.linear(out.transpose(1, 2).reshape(*lead, length, dim), w, b)


def _linear_in_place_layout(
    x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None
) -> torch.Tensor:  # fmt: skip
    """`F.linear(x, w, b)` computed in the memory order of `x`, a view with permuted lead axes.

    E.g. `(B, T, J, C)` stored as `(B, J, T, C)` (the output of a temporal half). `F.linear`
    would copy such an `x` into a contiguous `(N, C)` matrix and keep the copy for backward;
    permuting the lead axes into memory order first lets the GEMM read `x` in place (the same
    rows, so the same outputs) and backward keeps a view of `x`.
    """
    if x.is_contiguous() or x.stride(-1) != 1:
        return F.linear(x, w, b)
    lead = sorted(range(x.dim() - 1), key=lambda i: -x.stride(i))
    xp = x.permute(*lead, x.dim() - 1)
    if not xp.is_contiguous():
        return F.linear(x, w, b)
    inv = sorted(range(x.dim() - 1), key=lambda i: lead[i])
    return F.linear(xp, w, b).permute(*inv, x.dim() - 1)


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
    logits = _linear_in_place_layout(a, fuse.weight[:, :c], fuse.bias)
    logits = logits + _linear_in_place_layout(b, fuse.weight[:, c:], None)
    alpha = logits.softmax(dim=-1)
    # `b·α1 + a·α0` (addition commutes: the same numbers) adding in place into the fresh
    # product: one temporary less, and the result takes b's memory layout.
    return (b * alpha[..., 1:2]).add_(a * alpha[..., 0:1])
