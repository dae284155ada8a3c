"""A 2D keypoint-detector error model applied to clean projections.

Errors are in units of the person's size in the image (the diagonal of the per-frame 2D box),
as detector errors are: a person twice as large gets twice the pixel jitter. Components:
temporally correlated jitter (AR(1) per joint and axis), heavy-tailed outlier joints (Student-t
displacements in short bursts), left/right swaps of whole limbs for a few frames, occlusion
misses (a joint is lost for a run of frames: large error and low confidence), and a confidence
that decreases with the joint's actual error. `NOISE_PRESETS["clean"]` returns the clean 2D
with confidence 1 (ground-truth-2D experiments).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# H36M-17 limb groups swapped together (as detectors confuse whole legs or arms): joint pairs.
_SWAP_GROUPS = (((1, 4), (2, 5), (3, 6)), ((11, 14), (12, 15), (13, 16)), ((3, 6),), ((13, 16),))


@dataclass(frozen=True)
class DetectorNoise:
    """Parameters of the detector error model (fractions are of the person's box diagonal).

    Attributes:
        jitter: standard deviation of the correlated jitter.
        correlation: AR(1) coefficient between consecutive frames (0 = white noise).
        outlier_rate: probability per joint and frame that an outlier burst starts.
        outlier_scale: scale of the Student-t (3 dof) outlier displacement.
        outlier_frames: mean burst length in frames.
        swap_rate: probability per frame that a left/right limb swap starts.
        swap_frames: mean swap length in frames.
        miss_rate: probability per joint and frame that an occlusion miss starts.
        miss_frames: mean miss length in frames.
        miss_scale: displacement scale of a missed joint.
        confidence_scale: error at which the confidence falls to exp(-1/2) of its peak.
        clean: if True, no noise at all and confidence 1.
    """

    jitter: float = 0.012
    correlation: float = 0.85
    outlier_rate: float = 0.004
    outlier_scale: float = 0.08
    outlier_frames: float = 3.0
    swap_rate: float = 0.004
    swap_frames: float = 6.0
    miss_rate: float = 0.002
    miss_frames: float = 10.0
    miss_scale: float = 0.15
    confidence_scale: float = 0.05
    clean: bool = False


NOISE_PRESETS: dict[str, DetectorNoise] = {
    "clean": DetectorNoise(clean=True),
    "detector": DetectorNoise(),
    "hard": DetectorNoise(
        jitter=0.02, outlier_rate=0.01, swap_rate=0.01, miss_rate=0.006, outlier_scale=0.12
    ),
}


def noise_preset(name: str) -> DetectorNoise:
    """Look up a preset of `NOISE_PRESETS` with a clear error for unknown names."""
    if name not in NOISE_PRESETS:
        raise ValueError(f"unknown noise {name!r}; known: {', '.join(NOISE_PRESETS)}")
    return NOISE_PRESETS[name]


def person_size(px: np.ndarray) -> np.ndarray:
    """Diagonal of the per-frame 2D bounding box, `(..., T, J, 2)` px → `(..., T)` px."""
    return np.linalg.norm(px.max(axis=-2) - px.min(axis=-2), axis=-1)


def _bursts(
    rng: np.random.Generator, shape: tuple[int, ...], rate: float, mean_len: float
) -> np.ndarray:
    """Boolean on/off runs along axis 1 (frames): starts with prob `rate`, geometric lengths."""
    on = np.zeros(shape, dtype=bool)
    if rate <= 0:
        return on
    starts = np.argwhere(rng.random(shape) < rate)
    lengths = rng.geometric(1.0 / max(mean_len, 1.0), len(starts))
    for (a, f, *rest), n in zip(starts, lengths):
        on[(a, slice(f, f + n), *rest)] = True
    return on


def apply_detector(
    clean_px: np.ndarray,
    noise: DetectorNoise,
    rng: np.random.Generator,
) -> np.ndarray:
    """Corrupt clean 2D projections like a 2D keypoint detector.

    Args:
        clean_px: `(V, T, J, 2)` noiseless projections in pixels.
        noise: the error model (`NOISE_PRESETS`).
        rng: numpy random generator.

    Returns:
        `(V, T, J, 3)` float64 pixels + confidence in [0, 1].
    """
    clean_px = np.asarray(clean_px, dtype=np.float64)
    if clean_px.ndim != 4 or clean_px.shape[-1] != 2 or not np.isfinite(clean_px).all():
        raise ValueError(f"clean_px must be finite (V, T, J, 2) pixels, got {clean_px.shape}")
    v, n, j, _ = clean_px.shape
    if noise.clean:
        return np.concatenate([clean_px, np.ones((v, n, j, 1))], axis=-1)
    size = np.maximum(person_size(clean_px), 1.0)[..., None, None]  # (V, T, 1, 1)
    rho = float(np.clip(noise.correlation, 0.0, 0.999))
    eps = rng.normal(size=(v, n, j, 2))
    ar = np.empty_like(eps)
    ar[:, 0] = eps[:, 0]
    innovation = np.sqrt(1 - rho**2)
    for f in range(1, n):  # a loop over frames of vectorised (V, J, 2) updates
        ar[:, f] = rho * ar[:, f - 1] + innovation * eps[:, f]
    err = noise.jitter * ar
    out_on = _bursts(rng, (v, n, j), noise.outlier_rate, noise.outlier_frames)
    heavy = rng.standard_t(3, size=(v, 1, j, 2)) * noise.outlier_scale
    err = np.where(out_on[..., None], err + heavy, err)
    miss = _bursts(rng, (v, n, j), noise.miss_rate, noise.miss_frames)
    lost = rng.normal(size=(v, 1, j, 2)) * noise.miss_scale
    err = np.where(miss[..., None], err + lost, err)
    px = clean_px + err * size
    swap = _bursts(rng, (v, n, len(_SWAP_GROUPS)), noise.swap_rate, noise.swap_frames)
    for g, pairs in enumerate(_SWAP_GROUPS):
        for a, b in pairs:
            m = swap[:, :, g, None]
            pa, pb = px[:, :, a].copy(), px[:, :, b].copy()
            px[:, :, a] = np.where(m, pb, pa)
            px[:, :, b] = np.where(m, pa, pb)
    # Confidence falls with the true error (what a heatmap peak does); misses are flagged low.
    rel = np.linalg.norm(px - clean_px, axis=-1) / size[..., 0]
    peak = np.clip(rng.normal(0.92, 0.04, (v, n, j)), 0.5, 1.0)
    conf = peak * np.exp(-0.5 * (rel / noise.confidence_scale) ** 2)
    conf = np.where(miss, np.minimum(conf, rng.uniform(0.02, 0.2, (v, n, j))), conf)
    return np.concatenate([px, np.clip(conf, 0.0, 1.0)[..., None]], axis=-1)
