"""Telling same-sized 2D joint orders apart from the data.

17 points may be COCO-17 (detectors) or H36M-17 (lifters' own files, H36M-trained 2D models);
25 points may be OpenPose BODY_25 or BODY_25B. Two independent cues decide:

- Face extent (`face_ratio`). In the face-first orders (COCO-17, BODY_25B) the first five
  points are nose, eyes and ears, all inside the head; in the others they span a limb (H36M-17:
  pelvis, right hip, knee, ankle, left hip; BODY_25: nose, neck, right shoulder, elbow, wrist).
  The median extent of points 0-4 relative to the whole person (`FACE_RATIO`) says the order
  when all five are confidently detected (score above `FACE_MIN_CONF`: the weak, scattered
  face points a detector reports for a person seen from behind do not vote).
- Body structure (`structure_costs`), which needs no face. Read in the right order, a
  skeleton's bones join neighbouring points (short relative to the person) and its left and
  right bones have matching lengths; read in the wrong order, the "bones" join far-apart points
  (ankle to head top, elbow to the other knee) and mirror bones differ. Each order gets the cost
  `log(mean bone length / mean distance between points) + mean |log(left / right length)|`
  (medians over the detections, confidently detected points only); the lower cost wins when it
  is lower by `STRUCTURE_MARGIN` or more over at least `STRUCTURE_MIN_FRAMES` detections.

When both cues decide and disagree, or neither decides (too few confident detections, a face
ratio between the two ranges, costs within the margin), the caller must name the order
(`--joint-set`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from liftbench.geometry.skeletons import JOINT_SETS, get_joint_set

# count → (face-first order, limb-first order)
CANDIDATES: dict[int, tuple[str, str]] = {17: ("coco17", "h36m17"), 25: ("body25b", "body25")}
# Median (extent of points 0-4) / (extent of the person): a head is ~0.1 of a standing person,
# a leg or an arm with the neck 0.25 or more. Between the two bounds the data do not decide.
FACE_RATIO = (0.18, 0.24)
# points 0-4 take part in the face cue only when scored above this (and the file's threshold)
FACE_MIN_CONF = 0.3
MIN_FRAMES = 3
# Structure costs of the two orders must differ by this much (natural-log units), over at least
# this many detections. On the 15 synthetic motions projected from 8 views with 2D noise of 1%
# of the person's height and the face at confidence 0, the right order is cheaper by 0.33 or
# more over whole clips (COCO-17 vs H36M-17 is the closest pair; BODY_25 vs BODY_25B 0.6); in
# 20-frame windows a crawling or rolling person seen obliquely favours the wrong 17-point order
# by up to 0.28, so shorter clips are not decided by structure alone
# (tests/datamodules/test_keypoint_layouts.py, slow tests, measures these gaps).
STRUCTURE_MARGIN = 0.3
STRUCTURE_MIN_FRAMES = 20
# a point is usable for the structure cue when confident in at least this share of detections,
# and a detection is used when at least this share of the usable points is confident in it
_USABLE_SHARE = 0.5
_COMPLETE_SHARE = 0.8


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


def structure_costs(people: list[np.ndarray], names: tuple[str, ...],
                    min_conf: float) -> tuple[dict[str, float] | None, int]:
    """Structure cost of reading the detections in each of `names` (module docstring).

    Args:
        people: `(J, 3)` pixels + score arrays, J the size of every set in `names`.
        names: joint-set names with J joints each.
        min_conf: a point counts when its score is above this.

    Returns:
        `({name: cost}, detections used)`; `None` for the costs when fewer than `MIN_FRAMES`
        detections have most points confident or fewer than six points are usable. Lower
        cost = more skeleton-like; only the difference between two names is meaningful.
    """
    people = [p for p in people if p.ndim == 2 and p.shape[1] >= 3]
    if not people:
        return None, 0
    pts = np.stack(people).astype(np.float64)  # (N, J, 3)
    ok = np.isfinite(pts[..., :2]).all(-1) & (np.nan_to_num(pts[..., 2], nan=0.0) > min_conf)
    usable = np.flatnonzero(ok.mean(0) >= _USABLE_SHARE)
    if len(usable) < 6:
        return None, 0
    rows = ok[:, usable].mean(1) >= _COMPLETE_SHARE
    pts, ok = pts[rows], ok[rows]
    if len(pts) < MIN_FRAMES:
        return None, int(len(pts))
    xy = np.where(ok[..., None], pts[..., :2], np.nan)
    sub = xy[:, usable]
    pair = np.linalg.norm(sub[:, :, None] - sub[:, None], axis=-1)  # (N, U, U), NaN if unseen
    off = ~np.eye(len(usable), dtype=bool)
    scale = np.nanmean(pair[:, off], axis=1)  # mean distance between points, per detection
    good = np.isfinite(scale) & (scale > 0)
    xy, scale = xy[good], scale[good]
    if len(xy) < MIN_FRAMES:
        return None, int(len(xy))
    keep = set(usable.tolist())
    costs = {}
    for name in names:
        js = get_joint_set(name)
        bones = [(p, c) for p, c in js.bones if p in keep and c in keep]
        if not bones:
            return None, int(len(xy))
        length = np.stack([np.linalg.norm(xy[:, p] - xy[:, c], axis=-1) for p, c in bones], 1)
        length = np.maximum(length / scale[:, None], 1e-3)  # (N, B), NaN where unseen
        compact = float(np.nanmedian(np.nanmean(length, axis=1)))
        where = {b: k for k, b in enumerate(bones)}
        mirror = []
        for (p, c), k in where.items():
            m = where.get((js.flip[p], js.flip[c]))
            if m is not None and m > k:
                mirror.append(np.nanmedian(np.abs(np.log(length[:, k] / length[:, m]))))
        costs[name] = float(np.log(compact) + (np.nanmean(mirror) if mirror else 0.0))
    return costs, int(len(xy))


@dataclass(frozen=True)
class LayoutEvidence:
    """What the data say about a file's joint order (module docstring).

    Attributes:
        face: the order the face cue picks, or None.
        ratio: the median face ratio (None: no detection with all five points 0-4).
        face_used: detections behind `ratio`.
        structure: the order the structure cue picks, or None.
        costs: structure cost per candidate order (None: too few usable detections).
        structure_used: detections behind `costs`.
    """

    face: str | None
    ratio: float | None
    face_used: int
    structure: str | None
    costs: dict[str, float] | None
    structure_used: int

    @property
    def decided(self) -> str | None:
        """The order the data decide: the cues that decide agree on it; None otherwise."""
        picks = {p for p in (self.face, self.structure) if p is not None}
        return picks.pop() if len(picks) == 1 else None

    def describe(self) -> str:
        """One-line summary of both cues, for messages."""
        if self.ratio is not None and self.face_used:
            face = f"points 0-4 span {self.ratio:.2f} of the person in {self.face_used} detections"
        else:
            face = "no detection with a confident face"
        if self.costs is not None:
            (a, ca), (b, cb) = sorted(self.costs.items(), key=lambda kv: kv[1])
            structure = (f"body structure fits {a} better than {b} by {cb - ca:.2f} over "
                         f"{self.structure_used} detections (needs {STRUCTURE_MARGIN} over "
                         f"{STRUCTURE_MIN_FRAMES})")
        else:
            structure = "too few confidently detected people for the body structure"
        return f"{face}; {structure}"


def layout_evidence(people: list[np.ndarray], count: int, min_conf: float) -> LayoutEvidence:
    """Both cues for `count`-point detections (a key of `CANDIDATES`).

    Args:
        people: `(count, 3)` pixels + score detections of one file (any frames and persons).
        count: points per person.
        min_conf: detection threshold of a point.
    """
    face_first, limb_first = CANDIDATES[count]
    ratio, used = face_ratio(people, max(min_conf, FACE_MIN_CONF))
    face = None
    if ratio is not None and used >= MIN_FRAMES:
        face = face_first if ratio < FACE_RATIO[0] else limb_first \
            if ratio > FACE_RATIO[1] else None
    costs, s_used = structure_costs(people, (face_first, limb_first), min_conf)
    structure = None
    if costs is not None and s_used >= STRUCTURE_MIN_FRAMES:
        gap = costs[limb_first] - costs[face_first]
        structure = face_first if gap >= STRUCTURE_MARGIN else limb_first \
            if gap <= -STRUCTURE_MARGIN else None
    return LayoutEvidence(face, ratio, used, structure, costs, s_used)


def choices(count: int) -> list[str]:
    """Joint sets with `count` points (for `--joint-set` messages)."""
    return sorted(name for name, js in JOINT_SETS.items() if js.num_joints == count)


def decide_layout(people: list[np.ndarray], count: int, source: str, min_conf: float,
                  default: str | None = None,
                  label: str | None = None) -> tuple[str, str | None]:
    """The joint order of `count`-point detections and, when worth telling, a note why.

    Args:
        people: `(count, 3)` detections of the file.
        count: points per person (a key of `CANDIDATES`).
        source: file name for messages.
        min_conf: detection threshold of a point.
        default: the file format's own order (e.g. `coco17` for a COCO results file): used when
            the data do not decide; data that contradict it stop with an error.
        label: an order the file's metadata claims (e.g. VideoPose3D's `layout_name`): used
            when the data do not decide; data that contradict it win, and the note says so.

    Returns:
        `(joint-set name, note or None)`.

    Raises:
        ValueError: the data do not decide and there is neither `default` nor `label`, or they
            contradict `default`; the message lists the `--joint-set` choices.
    """
    evidence = layout_evidence(people, count, min_conf)
    decided = evidence.decided
    face_first, limb_first = CANDIDATES[count]
    if decided is not None and label is not None and decided != label:
        return decided, (f"{source}: the file's metadata says {label} but the data are "
                         f"{decided} ({evidence.describe()}); read as {decided}")
    if decided is not None and (default is None or decided == default):
        return decided, None
    if decided is None and (label or default) is not None:
        return str(label or default), None
    if decided is None:
        conflict = (f"the face says {evidence.face}, the body structure {evidence.structure}; "
                    if evidence.face and evidence.structure else "")
        why = f"{conflict}{evidence.describe()}"
    else:
        why = f"the file format says {default}, the data {decided}: {evidence.describe()}"
    raise ValueError(
        f"{source}: cannot tell the joint order of {count} keypoints per person from the "
        f"data ({face_first} starts with the face, {limb_first} with a limb; {why}); "
        f"pass --joint-set (joint_set=) with one of: {', '.join(choices(count))}"
    )


def infer_layout(people: list[np.ndarray], count: int, source: str, min_conf: float,
                 default: str | None = None) -> str:
    """`decide_layout` without a metadata label: the joint-set name only."""
    return decide_layout(people, count, source, min_conf, default=default)[0]
