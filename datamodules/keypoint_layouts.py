"""Telling same-sized 2D joint orders apart from the data.

17 points may be COCO-17 (detectors) or H36M-17 (lifters' own files, H36M-trained 2D models);
25 points may be OpenPose BODY_25 or BODY_25B. In the face-first orders (COCO-17, BODY_25B) the
first five points are nose, eyes and ears, all inside the head; in the others they span a
limb (H36M-17: pelvis, right hip, knee, ankle, left hip; BODY_25: nose, neck, right shoulder,
elbow, wrist). So the extent of the first five points relative to the whole person's
(`FACE_RATIO`) says which order a file uses; a file where it cannot (too few confident frames,
a ratio between the two ranges) needs `--joint-set`.
"""

from __future__ import annotations

import numpy as np

from liftbench.geometry.skeletons import JOINT_SETS

# count → (face-first order, limb-first order)
CANDIDATES: dict[int, tuple[str, str]] = {17: ("coco17", "h36m17"), 25: ("body25b", "body25")}
# Median (extent of points 0-4) / (extent of the person): a head is ~0.1 of a standing person,
# a leg or an arm with the neck 0.25 or more. Between the two bounds the data do not decide.
FACE_RATIO = (0.18, 0.24)
MIN_FRAMES = 3


def face_ratio(people: list[np.ndarray], min_conf: float) -> tuple[float | None, int]:
    """Median extent ratio of points 0-4 to the whole person over confident detections.

    Args:
        people: `(J, 3)` pixels + score arrays (any frames and persons).
        min_conf: a point counts when its score is above this.

    Returns:
        `(median ratio or None, number of detections used)`.
    """
    ratios = []
    for p in people:
        ok = np.isfinite(p[:, :2]).all(-1) & (np.nan_to_num(p[:, 2], nan=0.0) > min_conf)
        if not ok[:5].all() or ok.sum() < 10:
            continue
        body = float(np.ptp(p[ok, :2], axis=0).max())
        if body > 0:
            ratios.append(float(np.ptp(p[:5, :2], axis=0).max()) / body)
    return (float(np.median(ratios)) if ratios else None), len(ratios)


def choices(count: int) -> list[str]:
    """Joint sets with `count` points (for `--joint-set` messages)."""
    return sorted(name for name, js in JOINT_SETS.items() if js.num_joints == count)


def infer_layout(people: list[np.ndarray], count: int, source: str, min_conf: float,
                 default: str | None = None) -> str:
    """The joint order of `count`-point detections, from the data (module docstring).

    Args:
        people: `(count, 3)` detections of the file.
        count: points per person (a key of `CANDIDATES`).
        source: file name for messages.
        min_conf: detection threshold of a point.
        default: the file format's own order, used when the data do not decide (e.g.
            `coco17` for a COCO results file); `None` = the data must decide.

    Returns:
        A joint-set name.

    Raises:
        ValueError: the data do not decide and there is no `default`, or they contradict
            `default`; the message lists the `--joint-set` choices.
    """
    face_first, limb_first = CANDIDATES[count]
    ratio, used = face_ratio(people, min_conf)
    decided = None
    if ratio is not None and used >= MIN_FRAMES:
        decided = face_first if ratio < FACE_RATIO[0] else limb_first \
            if ratio > FACE_RATIO[1] else None
    if decided is not None and default is not None and decided != default:
        decided = None  # the format says one order, the data another: ask
    if decided is None and default is not None and (ratio is None or used < MIN_FRAMES):
        return default
    if decided is None:
        seen = (f"points 0-4 span {ratio:.2f} of the person in {used} confident detections"
                if ratio is not None else "too few confidently detected people to tell")
        raise ValueError(
            f"{source}: cannot tell the joint order of {count} keypoints per person from the "
            f"data ({face_first} starts with the face, {limb_first} with a limb; {seen}); "
            f"pass --joint-set (joint_set=) with one of: {', '.join(choices(count))}"
        )
    return decided
