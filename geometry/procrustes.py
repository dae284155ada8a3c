"""Similarity (Umeyama) and rigid (Kabsch) alignment of point sets, numpy and torch.

Every function finds the proper rotation `R` (det = +1), scale `s` and translation `t` minimising
`Σ_i w_i·|s·R·a_i + t − b_i|²`. With centroids removed the optimum is `R = argmax <R, A>` over
rotations, `A = Σ_i w_i·b̃_i·ã_iᵀ` (3×3 cross-covariance), and `s = <R, A> / Σ_i w_i·|ã_i|²`.

Two solvers for `R`:

- `"svd"` (reference): `A = U·Σ·Vᵀ`, `R = U·diag(1, 1, d)·Vᵀ` with `d = sign det(U·Vᵀ)` — the
  reflection case is fixed by flipping the smallest singular direction (Umeyama 1991).
- `"horn"` (default, no SVD): with the signed singular values `d₁ ≥ d₂ ≥ |d₃|` (`d₃` carries
  `sign det A`), `e₁ = d₁ + d₂ + d₃ = max <R, A>` is the largest eigenvalue of Horn's 4×4
  quaternion matrix, i.e. the largest root of its characteristic quartic
  `λ⁴ − 2‖A‖²λ² − 8·det(A)·λ + 2‖AᵀA‖² − ‖A‖⁴`, found by Newton's method from the upper bound
  `√3·‖A‖` (monotone: the quartic is increasing and convex right of its largest root). The
  rotation then follows in closed form from the Cayley–Hamilton theorem of the symmetric factor
  (no eigenvector needed): `R = ((e₁² − e₂)·A − A·Aᵀ·A + e₁·cof(A)) / (e₁·e₂ − e₃)` with
  `e₂ = (e₁² − ‖A‖²)/2`, `e₃ = det A`. The denominator is `(d₁+d₂)(d₁+d₃)(d₂+d₃)`; it vanishes
  only where `R` is not unique (collinear or coincident points, a reflection with `σ₂ = σ₃`),
  and those few frames fall back to the SVD with the rotation detached from the graph.
  Vectorised over the batch in float64 this is several times faster than a batched 3×3 SVD.

Arrays: numpy in → numpy out, torch in → torch out (differentiable; computed in torch either
way). Excluded points (mask False or weight 0) do not enter the fit; NaN there is harmless.
All-excluded or degenerate inputs give finite outputs (`R` any rotation, `s = 0` when the
prediction has no spread) and finite torch gradients.
"""

from __future__ import annotations

import numpy as np
import torch

from liftbench.geometry._validate import Array, check_shape, is_torch, shape_error

_PERS = ("frame", "sequence")
_METHODS = ("horn", "svd")
# `|e₁e₂ − e₃| / ‖A‖³` below this: the closed form loses more than ~1e-10 relative accuracy, so
# those (near-degenerate) frames use the SVD instead.
_DEGENERATE_RTOL = 1e-6
_NEWTON_MAX_ITERS = 100
_NEWTON_FULL_ITERS = 9


def _to_torch(x: Array | None, dtype: torch.dtype | None = None) -> torch.Tensor | None:
    if x is None:
        return None
    t = x if is_torch(x) else torch.as_tensor(np.asarray(x))
    return t if dtype is None else t.to(dtype)


def _cof(a: torch.Tensor) -> torch.Tensor:
    """Cofactor matrix `det(A)·A⁻ᵀ` of `(..., 3, 3)`, rows as cross products of A's rows."""
    r0, r1, r2 = a[..., 0, :], a[..., 1, :], a[..., 2, :]
    return torch.stack(
        (torch.linalg.cross(r1, r2), torch.linalg.cross(r2, r0), torch.linalg.cross(r0, r1)),
        dim=-2,
    )


def _quartic(lam: torch.Tensor, f: torch.Tensor, det: torch.Tensor, c0: torch.Tensor) -> tuple:
    lam2 = lam * lam
    p = (lam2 - 2 * f) * lam2 - 8 * det * lam + c0
    dp = 4 * lam * (lam2 - f) - 8 * det
    return p, dp


def _largest_root(f: torch.Tensor, det: torch.Tensor, c0: torch.Tensor) -> torch.Tensor:
    """Largest root of the Horn quartic by Newton's method (no graph; flattened batch)."""
    eps = torch.finfo(f.dtype).eps
    lam = torch.sqrt(3 * f)
    # From the upper bound √3·‖A‖ a simple root needs ~8–10 steps to full precision: take them on
    # the whole batch without indexing, then finish the stragglers.
    for _ in range(_NEWTON_FULL_ITERS):
        p, dp = _quartic(lam, f, det, c0)
        lam = lam - torch.where(dp > 0, p / torch.where(dp > 0, dp, 1), 0)
    active = torch.arange(lam.numel(), device=lam.device)
    lam_a, f_a, det_a, c0_a = lam, f, det, c0
    last = torch.full_like(lam, torch.inf)
    for _ in range(_NEWTON_MAX_ITERS):
        p, dp = _quartic(lam_a, f_a, det_a, c0_a)
        step = torch.where(dp > 0, p / torch.where(dp > 0, dp, 1), 0)
        # Converged: a step at rounding level, or one that no longer shrinks (rounding noise in
        # P). A double root (degenerate frame) converges only linearly: those keep iterating.
        todo = (step.abs() > 8 * eps * lam_a.abs()) & (step.abs() < last)
        if not bool(todo.any()):
            break
        lam_a = lam_a - step
        lam[active] = lam_a
        last = step.abs()
        active, lam_a, f_a, det_a, c0_a, last = (
            v[todo] for v in (active, lam_a, f_a, det_a, c0_a, last)
        )
    return lam


def _rotation_svd(a: torch.Tensor) -> torch.Tensor:
    """Proper rotation maximising `<R, A>` via SVD, `(..., 3, 3)` → `(..., 3, 3)`.

    A non-finite `A` (NaN at an included point) gives a NaN rotation instead of a LAPACK error.
    """
    finite = torch.isfinite(a).all(-1).all(-1)[..., None, None]
    u, _, vh = torch.linalg.svd(torch.where(finite, a, 0))
    d = torch.where(torch.linalg.det(u @ vh) < 0, -1.0, 1.0).to(a.dtype)
    u = torch.cat((u[..., :2], u[..., 2:] * d[..., None, None]), dim=-1)
    return torch.where(finite, u @ vh, torch.nan)


def _rotation_horn(a: torch.Tensor) -> torch.Tensor:
    """Proper rotation maximising `<R, A>` without an SVD (see module docstring)."""
    batch, dtype = a.shape[:-2], a.dtype
    # float64 throughout: the quartic's root and the closed form lose ~1/den of the precision,
    # which float32 cannot spare; the 3×3 matrices are cheap whatever the input precision.
    a = a.reshape(-1, 3, 3).double()
    ata = a.mT @ a
    f = ata.diagonal(dim1=-2, dim2=-1).sum(-1)
    cof = _cof(a)
    det = (a[:, 0] * cof[:, 0]).sum(-1)
    c0 = 2 * (ata * ata).sum((-2, -1)) - f * f
    lam = _largest_root(f.detach(), det.detach(), c0.detach())
    if a.requires_grad:
        # One Newton step with the graph on: its derivative is the implicit-function derivative
        # -∂P/∂A / P'(λ) of the root, without differentiating through the iterations.
        p, dp = _quartic(lam, f, det, c0)
        ok = dp.detach() > _DEGENERATE_RTOL * f.detach() ** 1.5
        lam = lam - torch.where(ok, p / torch.where(ok, dp, 1), 0)
    e2 = (lam * lam - f) / 2
    den = lam * e2 - det
    ok = den.detach() > _DEGENERATE_RTOL * f.detach() ** 1.5
    num = (lam * lam - e2)[:, None, None] * a - a @ ata + lam[:, None, None] * cof
    r = num / torch.where(ok, den, 1)[:, None, None]
    if not bool(ok.all()):
        bad = ~ok
        r = r.clone() if r.requires_grad else r
        r[bad] = _rotation_svd(a[bad].detach())
    return r.reshape(*batch, 3, 3).to(dtype)


def _fit(
    a: torch.Tensor, b: torch.Tensor, w: torch.Tensor | None, scale: bool, method: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """`R (..., 3, 3)`, `s (...)`, `t (..., 3)` for points `(..., P, 3)` and weights `(..., P)`.

    `w=None` means all points with equal weight (the fast path of the metrics).
    """
    if w is None and a.dtype == torch.float64:
        # Raw moments minus the centroid products: two fewer passes over the points than
        # centring first. The cancellation costs (offset/spread)²·eps, ~1e-13 for poses a few
        # metres from the origin in float64; lower precisions take the centred path below.
        n = a.shape[-2]
        avg = torch.full((1, n), 1.0 / n, dtype=a.dtype, device=a.device)
        ma, mb = (avg @ a)[..., 0, :], (avg @ b)[..., 0, :]  # faster than mean(-2) on CPU
        cross = b.mT @ a / n - mb[..., :, None] * ma[..., None, :]
        var = (a * a).sum((-2, -1)) / n - (ma * ma).sum(-1) if scale else None
    elif w is None:
        ma, mb = a.mean(-2), b.mean(-2)
        ac, bc = a - ma[..., None, :], b - mb[..., None, :]
        cross = bc.mT @ ac / a.shape[-2]
        var = (ac * ac).sum((-2, -1)) / a.shape[-2] if scale else None
    else:
        use = (w > 0)[..., None]
        wsum = w.sum(-1, keepdim=True)
        # Normalised weights keep A at the data's scale²; all-excluded sets get zero weights.
        wn = torch.where(wsum > 0, w / torch.where(wsum > 0, wsum, 1), 0)[..., None]
        ma = (wn * torch.where(use, a, 0)).sum(-2)
        mb = (wn * torch.where(use, b, 0)).sum(-2)
        ac = torch.where(use, a - ma[..., None, :], 0)
        bc = torch.where(use, b - mb[..., None, :], 0)
        cross = (bc * wn).mT @ ac
        var = (wn * ac * ac).sum((-2, -1)) if scale else None
    r = _rotation_horn(cross) if method == "horn" else _rotation_svd(cross)
    if scale:
        trace = (r * cross).sum((-2, -1))
        pos = var > torch.finfo(var.dtype).tiny
        s = torch.where(pos, trace / torch.where(pos, var, 1), 0)
    else:
        s = torch.ones_like(ma[..., 0])
    t = mb - s[..., None] * (r @ ma[..., None])[..., 0]
    return r, s, t


def _prepare(
    pred: Array, target: Array, weights: Array | None, mask: Array | None, per: str, method: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, bool]:
    if per not in _PERS:
        raise ValueError(f"per must be one of {_PERS}, got {per!r}")
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    use_torch = is_torch(pred) or is_torch(target)
    p, q = _to_torch(pred), _to_torch(target)
    if not p.is_floating_point():
        p = p.to(torch.float64)
    dtype = torch.promote_types(p.dtype, q.dtype) if q.is_floating_point() else p.dtype
    p, q = p.to(dtype), q.to(dtype=dtype, device=p.device)
    expected = "(..., T, J, 3)" if per == "sequence" else "(..., J, 3)"
    check_shape("pred", p, (None, 3), min_ndim=3 if per == "sequence" else 2, expected=expected)
    if q.shape != p.shape:
        raise shape_error("target", q, f"{tuple(p.shape)} (the shape of pred)")
    w = None
    if weights is not None:
        wt = _to_torch(weights, dtype).to(p.device)
        try:
            w = torch.broadcast_to(wt, p.shape[:-1]).clone()
        except RuntimeError as err:
            raise shape_error("weights", wt, f"{tuple(p.shape[:-1])}") from err
        if bool((wt < 0).any()) or not bool(torch.isfinite(wt).all()):
            raise ValueError("weights must be finite and >= 0")
    if mask is not None:
        mt = _to_torch(mask).to(p.device)
        if mt.dtype != torch.bool:
            raise ValueError(f"mask must be boolean, got dtype {mt.dtype}")
        try:
            mt = torch.broadcast_to(mt, p.shape[:-1])
        except RuntimeError as err:
            raise shape_error("mask", mt, f"{tuple(p.shape[:-1])}") from err
        w = torch.where(mt, 1.0 if w is None else w, 0).to(dtype)
    if per == "sequence":
        p, q = p.flatten(-3, -2), q.flatten(-3, -2)
        w = None if w is None else w.flatten(-2, -1)
    return p, q, w, use_torch


def _out(x: torch.Tensor, use_torch: bool) -> Array:
    return x if use_torch else x.detach().numpy()


def procrustes(
    pred: Array,
    target: Array,
    weights: Array | None = None,
    mask: Array | None = None,
    scale: bool = True,
    per: str = "frame",
    method: str = "horn",
) -> tuple[Array, Array, Array, Array]:
    """Align `pred` to `target` by a similarity transform; return it and the transform.

    Args:
        pred: `(..., J, 3)` points (`per="frame"`) or `(..., T, J, 3)` (`per="sequence"`).
        target: same shape as `pred`, same unit.
        weights: non-negative weights broadcastable to `pred.shape[:-1]`; 0 excludes a point.
        mask: boolean, broadcastable to `pred.shape[:-1]`; False excludes a point.
        scale: fit the scale `s` (similarity); False fixes `s = 1` (rigid).
        per: `"frame"` fits one transform per `(J, 3)` set (over the last two axes);
            `"sequence"` one transform for all `T·J` points of each `(T, J, 3)` sequence.
        method: `"horn"` (closed form, no SVD) or `"svd"` (reference Umeyama).

    Returns:
        `(aligned, R, s, t)`: `aligned = s·R·pred + t` (shape of `pred`, every point transformed,
        excluded ones too), `R (..., 3, 3)` proper rotations, `s (...)`, `t (..., 3)` in the unit
        of the input; `...` are the leading axes (without `T` when `per="sequence"`).

    Raises:
        ValueError: shape mismatch, last axis ≠ 3, empty input, negative weights, bad `per`.
    """
    p, q, w, use_torch = _prepare(pred, target, weights, mask, per, method)
    r, s, t = _fit(p, q, w, scale, method)
    aligned = p @ (s[..., None, None] * r).mT + t[..., None, :]
    aligned = aligned.reshape(_to_torch(pred).shape)
    return tuple(_out(x, use_torch) for x in (aligned, r, s, t))


def similarity_align(
    pred: Array,
    target: Array,
    weights: Array | None = None,
    mask: Array | None = None,
    scale: bool = True,
    per: str = "frame",
    method: str = "horn",
) -> Array:
    """`pred` after the best similarity (or rigid, `scale=False`) transform onto `target`.

    Same arguments as `procrustes`; returns only the aligned `pred`, shape of `pred`, in the
    unit of the input.
    """
    return procrustes(pred, target, weights, mask, scale, per, method)[0]


def kabsch(
    a: Array,
    b: Array,
    scale: bool = False,
    weights: Array | None = None,
    method: str = "horn",
) -> tuple[Array, ...]:
    """Rigid (or similarity) transform taking points `a` onto `b` in the least-squares sense.

    Args:
        a: `(..., N, 3)` source points.
        b: `(..., N, 3)` destination points, same unit.
        scale: also fit a scale (then `b ≈ s·R·a + t`).
        weights: `(..., N)` non-negative weights (broadcastable); 0 excludes a point.
        method: `"horn"` or `"svd"` (see module docstring).

    Returns:
        `(R, t)` or, with `scale=True`, `(R, t, s)`: `R (..., 3, 3)` proper rotation,
        `t (..., 3)` in the unit of the input, `s (...)`.

    Raises:
        ValueError: shape mismatch, last axis ≠ 3, empty input, negative weights.
    """
    _, r, s, t = procrustes(a, b, weights=weights, scale=scale, per="frame", method=method)
    return (r, t, s) if scale else (r, t)
