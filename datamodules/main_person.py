"""Following one person through a video of multi-person 2D detections (`pick_main_person`).

Used by the keypoint import (`keypoints.py`) when a file holds several people per frame.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Frames = list[list[np.ndarray]]  # per frame, per person: (J, 3) px + confidence


def person_box(p: np.ndarray, min_conf: float) -> tuple[np.ndarray, float, float] | None:
    """`(box centre (2,) px, box area px², mean score)` of one person's `(J, 3)` detections.

    Only joints scored above `min_conf` count; None when fewer than two do.
    """
    ok = np.isfinite(p).all(-1) & (p[:, 2] > min_conf)
    if ok.sum() < 2:
        return None
    lo, hi = p[ok, :2].min(0), p[ok, :2].max(0)
    return (lo + hi) / 2, float(np.prod(hi - lo)), float(p[ok, 2].mean())


def _assign_tracks(boxes: list[list[tuple | None]]) -> list[list[Any]]:
    """Per-frame track ids by greedy frame-to-frame association.

    A detection continues the track whose last box centre is nearest, if within 1.5 box sizes
    (√area), closest pairs first; otherwise it starts a new track.
    """
    tracks: list[list[Any]] = []
    last: dict[int, tuple] = {}
    for bx in boxes:
        ids: list[Any] = [None] * len(bx)
        pairs = sorted(
            (float(np.linalg.norm(b[0] - lb[0])), j, t)
            for j, b in enumerate(bx) if b is not None for t, lb in last.items()
            if np.linalg.norm(b[0] - lb[0]) <= 1.5 * np.sqrt(max(lb[1], 1.0))
        )
        used: set[int] = set()
        for _, j, t in pairs:
            if ids[j] is None and t not in used:
                ids[j] = t
                used.add(t)
        for j, b in enumerate(bx):
            if b is not None and ids[j] is None:
                ids[j] = len(last)
            if ids[j] is not None:
                last[ids[j]] = b
        tracks.append(ids)
    return tracks


def pick_main_person(
    frames: Frames, tracks: list[list[Any]] | None = None, min_conf: float = 0.05
) -> np.ndarray:
    """Follow the main person through a video of per-frame detections.

    The main person is the track with the largest summed `box area × mean score` over the
    video, so a passer-by who is briefly larger does not take over. Tracks are the detector's
    ids when it gives them (AlphaPose `idx`), else a greedy nearest-centre association across
    consecutive frames (`_assign_tracks`).

    Args:
        frames: per frame a list of `(J, 3)` persons (px, px, score); NaN = missing joint.
        tracks: optional per-frame track ids parallel to `frames`.
        min_conf: joints at or below this score do not count for boxes.

    Returns:
        `(T, J, 3)` pixels + score; frames without the main person get score 0 and the
        coordinates of the nearest frame that has it (all-zero when nothing was detected).
    """
    n = len(frames)
    joints = next((p.shape[0] for fr in frames for p in fr), 0)
    out = np.zeros((n, joints, 3))
    picked = np.zeros(n, bool)
    boxes = [[person_box(p, min_conf) for p in fr] for fr in frames]
    if tracks is None or not any(t is not None for tr in tracks for t in tr):
        tracks = _assign_tracks(boxes)
    totals: dict[Any, float] = {}
    for tr, bx in zip(tracks, boxes):
        for t, b in zip(tr, bx):
            if t is not None and b is not None:
                totals[t] = totals.get(t, 0.0) + b[1] * b[2]
    if totals:
        main = max(totals, key=totals.get)
        for i, tr in enumerate(tracks):
            if main in tr:
                out[i], picked[i] = frames[i][tr.index(main)], True
    missing = ~np.isfinite(out[..., :2]).all(-1)
    out = np.where(np.isfinite(out), out, 0.0)
    out[..., 2][missing] = 0.0  # a missed joint: (0, 0) with score 0, the OpenPose convention
    if picked.any() and not picked.all():
        idx = np.flatnonzero(picked)
        nearest = idx[np.abs(np.arange(n)[:, None] - idx[None]).argmin(1)]
        fill = out[nearest]
        fill[..., 2] = 0.0
        out = np.where(picked[:, None, None], out, fill)
    return out
