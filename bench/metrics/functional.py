"""Pose metrics as pure functions on tensors: `(..., T, J, 3)` poses in millimetres.

`joint_errors` is the one core: it returns the per-(frame, joint) Euclidean error in mm after the
metric's alignment, with NaN wherever a (frame, joint) pair is excluded. Every other function
reduces it, and the torchmetrics classes accumulate its sums.

Alignments (README "Conventions"):

- `mpjpe`: none (protocol 1).
- `pa_mpjpe`: one similarity transform (rotation, translation, scale) per frame, fitted by
  Procrustes over that frame's valid joints (protocol 2).
- `n_mpjpe`: one scale per frame, `s = <p, q> / <p, p>` over the frame's valid joints, no
  rotation or translation (Rhodin et al. 2018, as MotionBERT computes it on root-relative poses).
- `spa_mpjpe`: one similarity transform per sequence over all its valid `T·J` points (Suzuki et
  al.: the sequence keeps its internal motion; only its global pose and scale are removed).
- `mpjve`: error of first differences (velocity, mm/frame); a pair `(t, j)` for `t = 1..T-1` is
  valid only when joint `j` is valid at frames `t-1` and `t`. No alignment.

Validity: `mask` (True = valid), a target joint with any NaN coordinate, and `joints` (the subset
evaluated, e.g. without nose and head as Suzuki et al.) combine into one `(..., T, J)` mask.

Speed: the Procrustes metrics run in float64 on chunks of frames with the SVD-free solver of
`geometry.procrustes`. Without autograd, torch's intra-op threads are set to 1 for the duration
of that loop (restored after), so other threads of the process see one intra-op thread meanwhile.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from liftbench.geometry.procrustes import similarity_align

METRICS = ("mpjpe", "pa_mpjpe", "n_mpjpe", "spa_mpjpe", "mpjve")
REDUCTIONS = ("mean", "none")
PCK_THRESHOLD_MM = 150.0
AUC_THRESHOLDS_MM = np.linspace(0.0, 150.0, 31)
# Frames per Procrustes chunk: keeps the working set in cache (about 3× faster than one pass over
# a million frames on the project's 2-core CPU).
_CHUNK_FRAMES = 16384


def _tensor(name: str, x: object) -> torch.Tensor:
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    if t.dtype == torch.bool or t.is_complex():
        raise ValueError(f"{name} must be a real numeric tensor, got dtype {t.dtype}")
    return t if t.is_floating_point() else t.to(torch.get_default_dtype())


def _check_pair(
    pred: object, target: object, dims: int, min_ndim: int, expected: str
) -> tuple[torch.Tensor, torch.Tensor]:
    p, q = _tensor("pred", pred), _tensor("target", target)
    for name, x in (("pred", p), ("target", q)):
        if x.ndim < min_ndim or x.shape[-1] != dims:
            raise ValueError(f"{name} must have shape {expected}, got {tuple(x.shape)}")
    if p.shape != q.shape:
        raise ValueError(
            f"pred and target must have the same shape {expected}, got {tuple(p.shape)} and "
            f"{tuple(q.shape)}"
        )
    if p.numel() == 0:
        raise ValueError(
            f"pred is empty (shape {tuple(p.shape)}); expected {expected}, no zero axis"
        )
    for name, x in (("pred", p), ("target", q)):
        # A finite sum proves every entry finite in one cheap pass; only otherwise look closer.
        if not bool(torch.isfinite(x.sum())) and bool(torch.isinf(x).any()):
            raise ValueError(f"{name} must not contain inf values")
    dtype = torch.promote_types(p.dtype, q.dtype)
    return p.to(dtype), q.to(dtype=dtype, device=p.device)


def _valid(
    p: torch.Tensor, q: torch.Tensor, mask: object | None, joints: Sequence[int] | None
) -> torch.Tensor:
    """Combined `(..., J)`-shaped validity (`p.shape[:-1]`); raises on NaN in a valid pred."""
    lead = p.shape[:-1]
    finite = bool(torch.isfinite(p.sum())) and bool(torch.isfinite(q.sum()))
    valid = torch.ones(lead, dtype=torch.bool, device=p.device)
    if not finite:
        valid = ~torch.isnan(q).any(-1)
    if mask is not None:
        m = mask if isinstance(mask, torch.Tensor) else torch.as_tensor(np.asarray(mask))
        if m.dtype != torch.bool:
            raise ValueError(f"mask must be a bool tensor of shape {tuple(lead)}, got {m.dtype}")
        if m.shape != lead:
            raise ValueError(f"mask must have shape {tuple(lead)}, got {tuple(m.shape)}")
        valid = valid & m.to(p.device)
    if joints is not None:
        idx = [int(j) for j in joints]
        n = lead[-1]
        if not idx or any(j < 0 or j >= n for j in idx):
            raise ValueError(
                f"joints must be a non-empty sequence of indices in [0, {n}), got {idx}"
            )
        keep = torch.zeros(n, dtype=torch.bool, device=p.device)
        keep[idx] = True
        valid = valid & keep
    if not finite and bool(torch.isnan(p).any(-1)[valid].any()):
        raise ValueError("pred has NaN at valid joints (mask them out or fix the prediction)")
    return valid


def _prepare(
    pred: object, target: object, mask: object | None, joints: Sequence[int] | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Checked `(pred, target, valid)` with excluded coordinates zeroed (NaN never propagates)."""
    p, q = _check_pair(pred, target, 3, 3, "(..., T, J, 3)")
    valid = _valid(p, q, mask, joints)
    if not bool(valid.all()):
        p = torch.where(valid[..., None], p, 0)
        q = torch.where(valid[..., None], q, 0)
    return p, q, valid


def _aligned_errors(
    p: torch.Tensor, q: torch.Tensor, valid: torch.Tensor, per: str
) -> torch.Tensor:
    """`(..., T, J)` errors after Procrustes (float64 inside), in cache-sized chunks."""
    keep = -3 if per == "sequence" else -2  # axes that one transform covers
    shape = p.shape
    p, q = p.reshape(-1, *shape[keep:]), q.reshape(-1, *shape[keep:])
    v = None if bool(valid.all()) else valid.reshape(-1, *shape[keep:-1])
    step = max(1, _CHUNK_FRAMES // (shape[-3] if per == "sequence" else 1))

    def chunk(i: int) -> torch.Tensor:
        pi, qi = p[i : i + step].double(), q[i : i + step].double()
        aligned = similarity_align(pi, qi, mask=None if v is None else v[i : i + step], per=per)
        return torch.linalg.vector_norm(aligned - qi, dim=-1).to(q.dtype)

    starts = range(0, p.shape[0], step)
    if torch.is_grad_enabled() and p.requires_grad:
        return torch.cat([chunk(i) for i in starts]).reshape(shape[:-1])
    out = torch.empty(p.shape[:-1], dtype=q.dtype, device=q.device)
    threads = torch.get_num_threads()
    # The per-chunk ops are small: intra-op threads spend their time in barriers, and on a shared
    # CPU one descheduled thread stalls every op (measured up to 10x slower). One thread keeps the
    # speed whatever the load (a pool of Python workers over chunks was faster on an idle
    # machine but 2-3x slower under load: the workers queue on the GIL).
    torch.set_num_threads(1)
    try:
        for i in starts:
            out[i : i + step] = chunk(i)
    finally:
        torch.set_num_threads(threads)
    return out.reshape(shape[:-1])


def joint_errors(
    pred: torch.Tensor,
    target: torch.Tensor,
    metric: str,
    mask: torch.Tensor | None = None,
    joints: Sequence[int] | None = None,
) -> torch.Tensor:
    """Per-(frame, joint) error in mm after the metric's alignment; NaN where excluded.

    Args:
        pred: `(..., T, J, 3)` predicted joints, mm.
        target: `(..., T, J, 3)` ground truth, mm; NaN joints count as masked.
        metric: one of `METRICS`.
        mask: bool `(..., T, J)`, True = valid.
        joints: indices of the joints evaluated (others excluded).

    Returns:
        `(..., T, J)` errors in mm (`(..., T-1, J)` velocity errors in mm/frame for `mpjve`),
        dtype of the inputs; NaN at excluded pairs. Differentiable where finite.

    Raises:
        ValueError: unknown metric, shape mismatch, fewer than 3 dims, last dim ≠ 3, empty input,
            inf values, a bad mask or `joints`, NaN in `pred` at a valid joint, `mpjve` with T < 2.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    p, q, valid = _prepare(pred, target, mask, joints)
    v_all = bool(valid.all())
    if metric == "mpjve":
        if p.shape[-3] < 2:
            raise ValueError(
                f"mpjve needs T >= 2 frames in pred (..., T, J, 3), got {tuple(p.shape)}"
            )
        p, q = p[..., 1:, :, :] - p[..., :-1, :, :], q[..., 1:, :, :] - q[..., :-1, :, :]
        valid = valid[..., 1:, :] & valid[..., :-1, :]
        v_all = bool(valid.all())
    elif metric in ("pa_mpjpe", "spa_mpjpe"):
        err = _aligned_errors(p, q, valid, "frame" if metric == "pa_mpjpe" else "sequence")
        return err if v_all else torch.where(valid, err, torch.nan)
    elif metric == "n_mpjpe":
        # Excluded joints are zero here, so plain sums run over the frame's valid joints only.
        pp = (p * p).sum((-2, -1), keepdim=True)
        pq = (p * q).sum((-2, -1), keepdim=True)
        pos = pp > 0
        p = p * torch.where(pos, pq / torch.where(pos, pp, 1), 0)
    err = torch.linalg.vector_norm(p - q, dim=-1)
    return err if v_all else torch.where(valid, err, torch.nan)


def _reduce(err: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        total = err.sum()
        # Nothing excluded (the common case): one pass instead of nanmean's two.
        return total / err.numel() if bool(torch.isfinite(total)) else err.nanmean()
    return err.nanmean(-1)


def _check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _metric(
    name: str,
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None,
    joints: Sequence[int] | None,
    reduction: str,
) -> torch.Tensor:
    _check_reduction(reduction)
    return _reduce(joint_errors(pred, target, name, mask, joints), reduction)


def mpjpe(
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    joints: Sequence[int] | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Mean per-joint position error in mm, no alignment.

    Args:
        pred: `(..., T, J, 3)` mm.
        target: `(..., T, J, 3)` mm (NaN joints are excluded).
        mask: bool `(..., T, J)`, True = valid.
        joints: indices of the joints evaluated.
        reduction: `"mean"` → 0-dim mean over all valid (frame, joint) pairs; `"none"` →
            `(..., T)` per-frame mean over its valid joints (NaN for a frame with none).

    Returns:
        Error in mm (NaN if nothing is valid).

    Raises:
        ValueError: see `joint_errors`; unknown `reduction`.
    """
    return _metric("mpjpe", pred, target, mask, joints, reduction)


def pa_mpjpe(
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    joints: Sequence[int] | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """MPJPE in mm after a per-frame similarity Procrustes alignment (arguments as `mpjpe`)."""
    return _metric("pa_mpjpe", pred, target, mask, joints, reduction)


def n_mpjpe(
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    joints: Sequence[int] | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """MPJPE in mm after a per-frame least-squares scale `<p,q>/<p,p>` (arguments as `mpjpe`)."""
    return _metric("n_mpjpe", pred, target, mask, joints, reduction)


def spa_mpjpe(
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    joints: Sequence[int] | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """MPJPE in mm after one similarity transform per sequence of T frames (as `mpjpe`)."""
    return _metric("spa_mpjpe", pred, target, mask, joints, reduction)


def mpjve(
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    joints: Sequence[int] | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Mean per-joint velocity error in mm/frame (arguments as `mpjpe`; T ≥ 2).

    `reduction="none"` gives `(..., T-1)`: one value per pair of consecutive frames.
    """
    return _metric("mpjve", pred, target, mask, joints, reduction)


def _fraction_below(err: torch.Tensor, thresholds: torch.Tensor) -> torch.Tensor:
    """Fraction of the non-NaN entries of `err` below each threshold, `(K,)`; NaN if none."""
    e = err[~torch.isnan(err)]
    if e.numel() == 0:
        return torch.full(thresholds.shape, torch.nan, dtype=err.dtype, device=err.device)
    return (e[None, :] < thresholds[:, None]).to(err.dtype).mean(-1)


def pck(
    pred: torch.Tensor,
    target: torch.Tensor,
    threshold: float = PCK_THRESHOLD_MM,
    mask: torch.Tensor | None = None,
    joints: Sequence[int] | None = None,
) -> torch.Tensor:
    """3D percentage of correct keypoints (MPI-INF-3DHP protocol, no alignment).

    Args:
        pred: `(..., T, J, 3)` mm.
        target: `(..., T, J, 3)` mm.
        threshold: a joint is correct when its error is `< threshold` mm.
        mask: bool `(..., T, J)`, True = valid.
        joints: indices of the joints evaluated.

    Returns:
        0-dim percentage in [0, 100] of the valid joints that are correct (NaN if none is
        valid) — percent, as the 3DHP tables report it.

    Raises:
        ValueError: see `joint_errors`; a threshold that is not a finite number ≥ 0.
    """
    if not (np.isfinite(threshold) and threshold >= 0):
        raise ValueError(f"threshold must be a finite number of mm >= 0, got {threshold}")
    err = joint_errors(pred, target, "mpjpe", mask, joints)
    thr = torch.tensor([threshold], dtype=err.dtype, device=err.device)
    return 100.0 * _fraction_below(err, thr)[0]


def auc(
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    joints: Sequence[int] | None = None,
) -> torch.Tensor:
    """Area under the PCK curve: mean PCK over the thresholds `AUC_THRESHOLDS_MM` (0…150 mm, 31).

    Arguments as `pck`. Returns a 0-dim percentage in [0, 100] (NaN if nothing is valid).
    """
    err = joint_errors(pred, target, "mpjpe", mask, joints)
    thr = torch.as_tensor(AUC_THRESHOLDS_MM, dtype=err.dtype, device=err.device)
    return 100.0 * _fraction_below(err, thr).mean()


def jdr(
    pred2d: torch.Tensor,
    target2d: torch.Tensor,
    head_size: torch.Tensor,
    fraction: float = 0.5,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """2D joint detection rate: share of valid joints with error `< fraction · head_size`.

    Args:
        pred2d: `(..., J, 2)` detected joints, pixels (any unit shared with the rest).
        target2d: `(..., J, 2)` ground truth, same unit; NaN joints count as masked.
        head_size: `(...)` head segment length per pose, same unit, > 0.
        fraction: the threshold as a fraction of the head size (0.5 = PCKh@0.5).
        mask: bool `(..., J)`, True = valid.

    Returns:
        0-dim percentage in [0, 100] (NaN if no joint is valid).

    Raises:
        ValueError: mismatched or empty shapes, last dim ≠ 2, inf values, NaN in a valid
            `pred2d`, a `head_size` of the wrong shape or not > 0, `fraction` not > 0.
    """
    p, q = _check_pair(pred2d, target2d, 2, 2, "(..., J, 2)")
    h = _tensor("head_size", head_size).to(dtype=p.dtype, device=p.device)
    if h.shape != p.shape[:-2]:
        raise ValueError(f"head_size must have shape {tuple(p.shape[:-2])}, got {tuple(h.shape)}")
    if not bool(torch.isfinite(h).all()) or bool((h <= 0).any()):
        raise ValueError("head_size must be finite and > 0 everywhere")
    if not (np.isfinite(fraction) and fraction > 0):
        raise ValueError(f"fraction must be a finite number > 0, got {fraction}")
    valid = _valid(p, q, mask, None)
    err = torch.linalg.vector_norm(torch.where(valid[..., None], p - q, 0), dim=-1)
    hit = (err < fraction * h[..., None]) & valid
    n = valid.sum()
    if int(n) == 0:
        return torch.tensor(torch.nan, dtype=p.dtype, device=p.device)
    return 100.0 * hit.sum().to(p.dtype) / n
