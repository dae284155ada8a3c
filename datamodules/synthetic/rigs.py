"""Virtual camera rigs around a moving person: ring, random, broadcast and panning.

All rigs return per-frame extrinsics (world→camera, OpenCV axes: +x right, +y down, +z forward;
world Z up, metres), so static and moving cameras share one format. Placement is framed on the
motion itself: the distance (or the zoom) is chosen so that the whole trajectory, or for the
panning rig the person, fits the field of view with a margin. Every placement (azimuth,
elevation, distance, roll, zoom) is drawn per call, so each take gets its own cameras; the
capture's `rig="mixed"` also draws the kind per take (`MIXED_RIGS`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# name: (W, H, horizontal field of view in degrees). Phones: ~26 mm-equivalent main lenses
# (~70° HFOV); the sports camera is a 4K broadcast body whose zoom `make_rig` sets per camera.
INTRINSICS: dict[str, tuple[int, int, float]] = {
    "phone_1080p": (1920, 1080, 69.0),
    "phone_4k": (3840, 2160, 69.0),
    "sports_4k": (3840, 2160, 40.0),
}
RIG_KINDS = ("ring", "random", "broadcast", "panning")
# `rig="mixed"` in the capture draws one of these per take (static cameras, so every take can
# serve the per-sequence multi-view regimes); the panning rig is used only when asked for.
MIXED_RIGS = ("ring", "random", "broadcast")
RIG_CHOICES = (*RIG_KINDS, "mixed")
_UP = np.array([0.0, 0.0, 1.0])


@dataclass
class Rig:
    """Synchronized cameras for one take.

    Attributes:
        K: `(V, 3, 3)` intrinsics in pixels.
        dist: `(V, 5)` OpenCV distortion `k1, k2, p1, p2, k3` (zeros without distortion).
        R: `(V, T, 3, 3)` world→camera rotations.
        t: `(V, T, 3)` world→camera translations, metres.
        image_size: `(V, 2)` int64 `(W, H)`.
        names: camera names.
    """

    K: np.ndarray
    dist: np.ndarray
    R: np.ndarray
    t: np.ndarray
    image_size: np.ndarray
    names: tuple[str, ...]

    @property
    def centers(self) -> np.ndarray:
        """Camera centres in the world, `(V, T, 3)` metres."""
        return -np.einsum("vtji,vtj->vti", self.R, self.t)


def look_at(eye: np.ndarray, target: np.ndarray, roll: np.ndarray | float = 0.0) -> tuple:
    """World→camera rotation and translation of cameras at `eye` looking at `target`.

    Args:
        eye: `(..., 3)` camera centres (metres).
        target: `(..., 3)` points on the optical axis.
        roll: rotation about the optical axis in radians (broadcastable to `(...)`).

    Returns:
        `(R (..., 3, 3), t (..., 3))` with image "up" along world +Z before the roll.
    """
    z = target - eye
    norm = np.linalg.norm(z, axis=-1, keepdims=True)
    if (norm < 1e-9).any():
        raise ValueError("look_at: eye and target coincide")
    z = z / norm
    x = np.cross(z, _UP)
    xn = np.linalg.norm(x, axis=-1, keepdims=True)
    if (xn < 1e-6).any():
        raise ValueError("look_at: camera looks straight up or down; the roll is undefined")
    x = x / xn
    y = np.cross(z, x)
    c, s = np.cos(roll)[..., None], np.sin(roll)[..., None]
    x, y = c * x + s * y, -s * x + c * y
    R = np.stack([x, y, z], axis=-2)
    return R, -np.einsum("...ij,...j->...i", R, eye)


def intrinsics(name: str, hfov_deg: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """`(K (3, 3), image_size (2,))` of a preset, square pixels, centred principal point."""
    if name not in INTRINSICS:
        raise ValueError(f"unknown intrinsics {name!r}; known: {', '.join(INTRINSICS)}")
    w, h, fov = INTRINSICS[name]
    f = w / 2 / np.tan(np.radians(hfov_deg or fov) / 2)
    K = np.array([[f, 0, w / 2], [0, f, h / 2], [0, 0, 1.0]])
    return K, np.array([w, h], dtype=np.int64)


def _distortion(rng: np.random.Generator, n: int, enabled: bool) -> np.ndarray:
    """Mild lens distortion typical of phone / action cameras after vendor correction."""
    if not enabled:
        return np.zeros((n, 5))
    k1 = rng.uniform(-0.12, 0.08, n)
    k2 = rng.uniform(-0.03, 0.03, n)
    p = rng.uniform(-1e-3, 1e-3, (n, 2))
    return np.column_stack([k1, k2, p, np.zeros(n)])


def _framing(joints: np.ndarray) -> tuple[np.ndarray, float]:
    """Centre and radius (metres) of a sphere holding every joint of every frame."""
    lo, hi = joints.reshape(-1, 3).min(0), joints.reshape(-1, 3).max(0)
    centre = (lo + hi) / 2
    return centre, float(np.linalg.norm(joints - centre, axis=-1).max())


def _distance_to_fit(radius: float, K: np.ndarray, size: np.ndarray, fill: float) -> float:
    """Distance at which a sphere of `radius` spans `fill` of the shorter image half-extent."""
    half_fov = np.arctan(min(size) / 2 / K[0, 0])
    return radius / np.sin(half_fov * fill)


def _smooth(x: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average along axis 0 with edge padding (for panning targets)."""
    window = max(1, min(window, len(x)))
    pad = np.pad(x, [(window // 2, window - 1 - window // 2)] + [(0, 0)] * (x.ndim - 1), "edge")
    kernel = np.ones(window) / window
    return np.apply_along_axis(lambda v: np.convolve(v, kernel, "valid"), 0, pad)


def make_rig(
    kind: str,
    joints: np.ndarray,
    num_cameras: int,
    rng: np.random.Generator,
    camera: str | None = None,
    distortion: bool = False,
) -> Rig:
    """Place `num_cameras` synchronized cameras around a motion.

    Args:
        kind: `"ring"` (static, evenly spaced around the trajectory, 2.5–5 m, eye height),
            `"random"` (static, random azimuth/elevation/distance/roll, phone intrinsics mixed),
            `"broadcast"` (static, 25–60 m away and elevated, 4K zoom so the person is small in
            frame, as in ASPset/WorldPose), `"panning"` (fixed tripods that rotate every frame
            to follow the person, half of them also dolly along with the person).
        joints: `(T, J, 3)` world joints in metres (Z up) the rig is framed on.
        num_cameras: 2–8.
        rng: numpy random generator (the only source of randomness).
        camera: intrinsics preset from `INTRINSICS` (default per kind).
        distortion: add mild random OpenCV lens distortion.

    Returns:
        The `Rig` (per-frame extrinsics even for static cameras).
    """
    if kind not in RIG_KINDS:
        raise ValueError(f"rig must be one of {', '.join(RIG_KINDS)}, got {kind!r}")
    if not 1 <= num_cameras <= 8:
        raise ValueError(f"num_cameras must be in 1..8, got {num_cameras}")
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[-1] != 3 or not np.isfinite(joints).all():
        raise ValueError(f"joints must be finite (T, J, 3) metres, got shape {joints.shape}")
    n, v = len(joints), num_cameras
    default = {"broadcast": "sports_4k"}.get(kind, "phone_1080p")
    presets = [camera or default] * v
    if kind == "random" and camera is None:
        presets = list(rng.choice(["phone_1080p", "phone_4k"], v))
    centre, radius = _framing(joints)
    azimuth = rng.uniform(0, 2 * np.pi) + np.arange(v) * 2 * np.pi / v
    Ks, sizes, eyes, targets, rolls = [], [], [], [], []
    for i in range(v):
        hfov = None
        if kind == "broadcast":
            dist_m = rng.uniform(25.0, 60.0)
            elev = np.radians(rng.uniform(8.0, 20.0))
            # zoom so the trajectory spans ~60 % of the frame height, never tighter than 12° HFOV
            w, h, _ = INTRINSICS[presets[i]]
            half_v = np.arcsin(min(radius / dist_m / 0.6, 0.99))
            hfov = max(12.0, np.degrees(2 * np.arctan(np.tan(half_v) * w / h)))
        K, size = intrinsics(presets[i], hfov)
        if kind == "ring":
            dist_m = max(2.5, _distance_to_fit(radius, K, size, 0.85)) * rng.uniform(1.0, 1.15)
            elev = np.radians(rng.uniform(0.0, 12.0))
            az, roll, tgt = azimuth[i], 0.0, centre
        elif kind == "random":
            dist_m = max(2.0, _distance_to_fit(radius, K, size, 0.85)) * rng.uniform(1.0, 1.6)
            elev = np.radians(rng.uniform(-5.0, 35.0))
            az, roll = rng.uniform(0, 2 * np.pi), np.radians(rng.normal(0, 3))
            tgt = centre + rng.normal(0, 0.1 * radius, 3)
        elif kind == "panning":
            person = np.linalg.norm(joints - joints[:, :1], axis=-1).max()
            dist_m = max(2.0, _distance_to_fit(person * 1.3, K, size, 0.8)) * rng.uniform(1.0, 1.3)
            elev = np.radians(rng.uniform(0.0, 15.0))
            az, roll, tgt = azimuth[i], 0.0, centre
        else:
            az, roll, tgt = azimuth[i], 0.0, centre
        ce = np.cos(elev)
        offset = dist_m * np.array([ce * np.cos(az), ce * np.sin(az), np.sin(elev)])
        Ks.append(K)
        sizes.append(size)
        eyes.append(np.broadcast_to(tgt + offset, (n, 3)).copy())
        targets.append(np.broadcast_to(tgt, (n, 3)).copy())
        rolls.append(roll)
    eyes_a, targets_a = np.stack(eyes), np.stack(targets)
    if kind == "panning":
        follow = _smooth(joints[:, 0], max(3, n // 10))  # the operator lags a little
        targets_a = np.broadcast_to(follow, (v, n, 3)).copy()
        dolly = np.arange(v) % 2 == 1
        move = follow - follow[:1]
        move[:, 2] = 0.0
        eyes_a[dolly] += 0.7 * move
    for i in range(v):
        eyes_a[i, :, 2] = np.maximum(eyes_a[i, :, 2], 0.3)  # keep tripods above the floor
    R, t = look_at(eyes_a, targets_a, np.asarray(rolls)[:, None])
    names = tuple(f"{kind}{i}" for i in range(v))
    return Rig(np.stack(Ks), _distortion(rng, v, distortion), R, t, np.stack(sizes), names)
