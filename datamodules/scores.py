"""Keypoint confidence scores from any detector → probabilities in [0, 1].

Detectors and annotation tools write the third keypoint value on different scales: scores in
[0, 1] (most), percentages, raw logits (negative values), COCO visibility flags (0/1/2), -1 for
a missing point, or small uncalibrated scores whose maximum is far below 1. A reader that
treats all of them as probabilities drops every point of a file whose scores are all below its
detection threshold. `normalise_scores` recognises the scale from the whole file's values and
maps it to [0, 1], or stops with a message naming the file when no rule fits.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Points at or below this score do not count as detected (boxes, main-person tracking).
THRESHOLD = 0.05
# A file whose 99th-percentile positive score is below this is "uncalibrated" and rescaled.
TINY = 0.1


def normalise_scores(scores: np.ndarray, source: str) -> tuple[np.ndarray, str]:
    """Map a file's scores to [0, 1] probabilities.

    Rules, in order (on the file's finite scores; NaN stays NaN = missing point):
    1. values only in {0, 1, 2} with some 2 → COCO visibility flags: labelled (1, 2) → 1;
    2. negatives that are all -1 with the rest in [0, 1] → -1 marks a missing point → 0;
    3. other negatives → logits → sigmoid;
    4. maximum in (1, 100] → percentages → / 100;
    5. then, if the 99th percentile of the positive scores is below `TINY` (uncalibrated
       detector scores), divide by that percentile and clip to 1.

    Args:
        scores: any shape, the file's raw scores.
        source: file name for messages.

    Returns:
        `(scores in [0, 1] (same shape, NaN kept), description of the scale found)`.

    Raises:
        ValueError: a maximum above 100 (no known scale), naming the file.
    """
    s = np.asarray(scores, dtype=np.float64).copy()
    finite = np.isfinite(s)
    values = s[finite]
    if values.size == 0:
        return s, "no scores"
    steps: list[str] = []
    unique = np.unique(values)
    if unique.size <= 3 and set(unique.tolist()) <= {0.0, 1.0, 2.0} and 2.0 in unique:
        s[finite] = (values > 0).astype(np.float64)
        return s, "COCO visibility flags 0/1/2 (labelled points = 1)"
    if values.min() < 0:
        negative = values[values < 0]
        if np.all(negative == -1.0) and values.max() <= 1.0:
            s[finite & (s == -1.0)] = 0.0
            steps.append("-1 = missing point (score 0)")
        else:
            s[finite] = 1.0 / (1.0 + np.exp(-np.clip(values, -60, 60)))
            steps.append(f"logits in [{values.min():.3g}, {values.max():.3g}] -> sigmoid")
    elif values.max() > 100:
        raise ValueError(
            f"{source}: keypoint scores reach {values.max():.4g}; expected probabilities in "
            "[0, 1], percentages (0-100), logits or COCO visibility flags — rescale the "
            "scores to [0, 1]"
        )
    elif values.max() > 1:
        s[finite] = values / 100.0
        steps.append("percentages -> / 100")
    positive = s[finite & (s > 0)]
    if positive.size:
        top = float(np.quantile(positive, 0.99))
        if top < TINY:
            s[finite] = np.minimum(s[finite] / top, 1.0)
            steps.append(f"uncalibrated (99% of scores below {top:.3g}) -> / {top:.3g}")
    return s, "; ".join(steps) if steps else "probabilities [0, 1]"


def confidence_report(conf: np.ndarray, scale: str) -> dict[str, Any]:
    """How many lifter-input joints are at or below `THRESHOLD`.

    Args:
        conf: `(V, T, J)` confidences of the joints fed to the lifter.
        scale: description of the file's score scale (`normalise_scores`).

    Returns:
        `{"scale", "threshold", "joints": V·T·J, "below_threshold": count,
        "below_threshold_per_joint": [J counts]}`.
    """
    low = ~(np.nan_to_num(conf, nan=0.0) > THRESHOLD)
    return {
        "scale": scale, "threshold": THRESHOLD, "joints": int(low.size),
        "below_threshold": int(low.sum()),
        "below_threshold_per_joint": low.reshape(-1, low.shape[-1]).sum(0).astype(int).tolist(),
    }
