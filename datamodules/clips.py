"""Records → normalised T-frame clips, and the batch contract.

Used by every dataset reader. `build_clips` turns `SequenceRecord`s into dense clip arrays once
(cached on disk by the DataModules); `clip_dataset.ClipDataset` serves whole batches of them,
with the horizontal-flip augmentation of `flip.py` (which also states how a flip acts on the
multi-view keys below).

Batch contract (each batch is a dict of tensors; B = batch, V = views, T = frames, J = 17):

single-view (`views=1`):
    input      (B, T, J, 3) float32  2D normalised by image width (x' = 2u/W - 1, y' = 2v/W - H/W),
                                     or by the person's crop (`normalisation="crop"`), + confidence
    target     (B, T, J, 3) float32  2.5D root-relative, same units as `input`:
                                     x, y = normalised projection minus the root's,
                                     z = (Z - Z_root) * f / Z_root / s  (s = W/2 for width norm.)
    factor     (B, T)       float32  mm per normalised unit (Z_root * s / f, weak perspective)
    target_mm  (B, T, J, 3) float32  root-relative camera-frame millimetres (true 3D, evaluation)
    valid      (B, T, J)    bool     False where the joint is outside the image / missing
    action     (B,)         int64    index into the datamodule's `action_names`
    subject    (B,)         int64    index into the datamodule's `subject_names`
    index      (B,)         int64    unique sample id (drop DDP-padding duplicates with it)
    image_size (B, 2)       int64    (W, H) pixels
multi-view (`views=V>=2`): the same keys with a view axis after the batch axis — `input`,
`target`, `target_mm` (B, V, T, J, 3), `factor` (B, V, T), `valid` (B, V, T, J),
`image_size` (B, V, 2) — plus
    K            (B, V, 3, 3)     float32  intrinsics (pixels)
    R            (B, V, T, 3, 3)  float32  world→camera rotation per frame
    t            (B, V, T, 3)     float32  world→camera translation, metres
    dist         (B, V, 5)        float32  OpenCV k1, k2, p1, p2, k3 (zeros: no distortion)
    pose2d_px    (B, V, T, J, 3)  float32  pixels + confidence
    pose3d_world (B, T, J, 3)     float32  metres
`action`, `subject`, `index` stay (B,).

`target` and `factor` come from `geometry.cameras.camera_to_25d` (pinhole projection without
lens distortion, as LCN / MotionBERT), rescaled for the crop normalisation. Weak-perspective
approximation: `target * factor` equals `target_mm` exactly in z; in x, y the error of joint j
is `(X_j, Y_j)·(Z_root − Z_j)/Z_j` (camera-frame X_j, Y_j, mm) — zero at the root's depth.
With lens distortion `input` holds the distorted detections while `target` stays undistorted.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from liftbench.datamodules.records import SequenceRecord
from liftbench.geometry.cameras import camera_to_25d, normalize_screen
from liftbench.geometry.skeletons import ROOT

# Evaluation loaders (val / test, in order, no gradients) use this many times the training batch:
# fewer, larger batches cut the per-batch cost of the metrics and the Trainer's hooks.
EVAL_BATCH_FACTOR = 4
# The 3D ground truth of a clip set: what label-free training must never see.
GROUND_TRUTH_KEYS = ("target", "target_mm", "factor", "R", "t", "pose3d_world")


def window_indices(
    num_frames: int, frames: int, stride: int, cover_tail: bool = False
) -> np.ndarray:
    """Frame indices of the T-frame windows of one sequence.

    Windows start every `stride` frames (MotionBERT `split_clips`). A sequence shorter than
    `frames` gives one window resampled to `frames` indices (MotionBERT `resample`; here the
    deterministic variant, no random jitter, so the cached clips are reproducible).

    Args:
        num_frames: sequence length N >= 1.
        frames: window length T >= 1.
        stride: start-to-start step >= 1.
        cover_tail: also emit a last window ending at the final frame when the regular ones
            leave a tail (MotionBERT drops it).

    Returns:
        `(num_windows, frames)` int64 indices into the sequence.
    """
    if num_frames < 1 or frames < 1 or stride < 1:
        raise ValueError(
            f"num_frames, frames and stride must be >= 1, got {num_frames}, {frames}, {stride}"
        )
    if num_frames < frames:
        return np.linspace(0, num_frames, num=frames, endpoint=False).astype(np.int64)[None]
    starts = list(range(0, num_frames - frames + 1, stride))
    if cover_tail and starts[-1] + frames < num_frames:
        starts.append(num_frames - frames)
    return np.asarray(starts, dtype=np.int64)[:, None] + np.arange(frames, dtype=np.int64)


def view_groups(num_cameras: int, views: int) -> list[tuple[int, ...]]:
    """Camera subsets used as multi-view samples: every combination of `views` cameras."""
    if not 1 <= views <= num_cameras:
        raise ValueError(f"views must be in 1..{num_cameras} (cameras of the take), got {views}")
    return list(itertools.combinations(range(num_cameras), views))


def normalise_width(px: np.ndarray, image_size: np.ndarray) -> np.ndarray:
    """Pixel → width-normalised coordinates (x' = 2u/W − 1, y' = 2v/W − H/W).

    Args:
        px: `(..., 2+)` pixels; channels beyond 2 (confidence) pass through.
        image_size: `(W, H)` broadcastable to `px[..., :2]`.
    """
    out = np.array(px, dtype=np.float64, copy=True)
    out[..., :2] = normalize_screen(out[..., :2], np.asarray(image_size, dtype=np.float64))
    return out


def _crop_frame(px: np.ndarray, ok: np.ndarray, size: np.ndarray, margin: float) -> tuple:
    """Per-clip crop normalisation: centre and half-size of the clip's 2D bounding box.

    Args:
        px: `(..., T, J, 2)` pixels.
        ok: `(..., T, J)` bool, the joints to use.
        size: `(..., 2)` image `(W, H)`.
        margin: enlargement of the box half-size.

    Returns:
        `(centre (..., 2), half_size (...,))`; clips without usable joints fall back to the
        width normalisation (centre of the image, W/2).
    """
    big = np.where(ok[..., None], px, np.nan)
    with np.errstate(invalid="ignore"), _quiet_nan():
        lo = np.nanmin(big, axis=(-3, -2))
        hi = np.nanmax(big, axis=(-3, -2))
    half = np.max(hi - lo, axis=-1) / 2 * margin
    centre = (lo + hi) / 2
    fallback = ~np.isfinite(half) | (half < 1.0)
    centre = np.where(fallback[..., None], size / 2, centre)
    half = np.where(fallback, size[..., 0] / 2, half)
    return centre, half


class _quiet_nan:
    """Silence numpy's 'All-NaN slice' RuntimeWarning (handled by the fallback)."""

    def __enter__(self) -> None:
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc: object) -> None:
        self._ctx.__exit__(*exc)


def _record_windows(
    rec: SequenceRecord, idx: np.ndarray, normalisation: str, crop_margin: float
) -> dict[str, np.ndarray]:
    """Normalised clip arrays of one record, `(Wn, V, T, ...)` (see `build_clips`)."""
    x_cam = rec.pose3d_camera()  # (V, N, J, 3) m
    if (x_cam[:, :, ROOT, 2] <= 0).any():
        v, n = np.argwhere(x_cam[:, :, ROOT, 2] <= 0)[0]
        raise ValueError(
            f"take {rec.take!r}: the root is behind camera {rec.view_names[v]!r} at frame {n}; "
            "2.5D targets are undefined there (drop that view or those frames)"
        )
    sw = lambda a: np.swapaxes(a[:, idx], 0, 1)  # noqa: E731  (V, N, ...) → (Wn, V, T, ...)
    px, xc, valid = sw(rec.pose2d), sw(x_cam) * 1000.0, sw(rec.valid)
    size = np.broadcast_to(rec.image_size.astype(np.float64), (len(idx),) + rec.image_size.shape)
    # The project-wide 2.5D definition (width-normalised, pinhole without distortion).
    target_w, factor_w = camera_to_25d(xc, rec.K[None, :, None], size[:, :, None], root=ROOT)
    if normalisation == "width":
        centre, half = size / 2, size[..., 0] / 2
    elif normalisation == "crop":
        ok = valid & (px[..., 2] > 0)
        centre, half = _crop_frame(px[..., :2], ok, size, crop_margin)
    else:
        raise ValueError(f"normalisation must be 'width' or 'crop', got {normalisation!r}")
    c5, h5 = centre[:, :, None, None, :], half[:, :, None, None, None]
    inp = np.concatenate([(px[..., :2] - c5) / h5, px[..., 2:3]], axis=-1)
    rescale = size[..., 0] / 2 / half  # width units → this normalisation's units, (Wn, V)
    out = {
        "input": inp,
        "target": target_w * rescale[:, :, None, None, None],
        "factor": factor_w / rescale[:, :, None],
        "target_mm": xc - xc[..., ROOT : ROOT + 1, :],
        "valid": valid,
        "pose2d_px": px,
        "K": np.broadcast_to(rec.K, (len(idx),) + rec.K.shape),
        "R": sw(rec.R),
        "t": sw(rec.t),
        "dist": np.broadcast_to(rec.dist, (len(idx),) + rec.dist.shape),
        "image_size": np.broadcast_to(rec.image_size, (len(idx),) + rec.image_size.shape),
        "pose3d_world": rec.pose3d_world[idx],
    }
    for key in ("input", "target", "factor", "target_mm"):
        if not np.isfinite(out[key]).all():
            raise ValueError(f"take {rec.take!r}: non-finite {key} (degenerate camera or 2D)")
    return out


_SINGLE_KEYS = ("input", "target", "factor", "target_mm", "valid", "image_size")
_MULTI_KEYS = _SINGLE_KEYS + ("K", "R", "t", "dist", "pose2d_px")
_FLOAT_KEYS = {"input", "target", "factor", "target_mm", "K", "R", "t", "dist", "pose2d_px"}


def build_clips(
    records: Sequence[SequenceRecord],
    frames: int,
    stride: int,
    views: int = 1,
    normalisation: str = "width",
    action_names: Sequence[str] | None = None,
    subject_names: Sequence[str] | None = None,
    cover_tail: bool = False,
    crop_margin: float = 1.2,
) -> dict[str, np.ndarray]:
    """Window records into dense, normalised clip arrays following the batch contract.

    Args:
        records: takes with 3D (`pose3d_world`), any number of cameras each.
        frames: clip length T.
        stride: frames between clip starts.
        views: 1 → one sample per (take, camera, window); V >= 2 → one sample per
            (take, window, combination of V cameras) with a view axis.
        normalisation: `"width"` (image-width normalisation, the MotionBERT protocol) or
            `"crop"` (per-clip bounding box of the 2D, `crop_margin` times its half-size;
            for persons that are small in frame).
        action_names: ids for `action` (default: sorted names found).
        subject_names: ids for `subject` (default: sorted names found).
        cover_tail: see `window_indices`.
        crop_margin: bounding-box enlargement for `"crop"`.

    Returns:
        Arrays with a leading sample axis S: the per-sample keys of the contract (float32,
        bool for `valid`, int64 for `action`, `subject`, `image_size`) without `index`, plus
        `take (S,)` int64 (position of the record in `records`).
    """
    if not records:
        raise ValueError("records is empty: nothing to build clips from")
    actions = list(action_names or sorted({r.action for r in records}))
    subjects = list(subject_names or sorted({r.subject for r in records}))
    keys = _SINGLE_KEYS if views == 1 else _MULTI_KEYS + ("pose3d_world",)
    parts: dict[str, list[np.ndarray]] = {k: [] for k in keys + ("action", "subject", "take")}
    for i, rec in enumerate(records):
        if rec.action not in actions or rec.subject not in subjects:
            raise ValueError(f"take {rec.take!r}: action/subject not in the given name lists")
        idx = window_indices(rec.num_frames, frames, stride, cover_tail)
        arrays = _record_windows(rec, idx, normalisation, crop_margin)
        if views == 1:
            flat = {k: arrays[k].reshape((-1,) + arrays[k].shape[2:]) for k in _SINGLE_KEYS}
        else:
            groups = np.asarray(view_groups(rec.num_views, views))  # (G, V')
            flat = {
                k: arrays[k][:, groups].reshape((-1, views) + arrays[k].shape[2:])
                for k in _MULTI_KEYS
            }
            flat["pose3d_world"] = np.repeat(arrays["pose3d_world"], len(groups), axis=0)
        n = len(flat["input"])
        for k in keys:
            parts[k].append(flat[k])
        parts["action"].append(np.full(n, actions.index(rec.action)))
        parts["subject"].append(np.full(n, subjects.index(rec.subject)))
        parts["take"].append(np.full(n, i))
    out = {}
    for k, v in parts.items():
        a = np.concatenate(v)
        if k in _FLOAT_KEYS or k == "pose3d_world":
            a = a.astype(np.float32)
        elif k != "valid":
            a = a.astype(np.int64)
        out[k] = np.ascontiguousarray(a)
    return out


