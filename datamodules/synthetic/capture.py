"""Motion + subject + camera rig + detector → `SequenceRecord`s, and the `.npz` take format.

One take = one motion clip performed by one synthetic subject (`bodies.sample_body`: stature
and segment proportions from published anthropometry), in one variant: possibly mirrored
left/right (`augment.mirror`), played at another speed (`augment.time_warp`), turned to a
random heading and seen by its own rig of synchronized cameras (kind, placement, height and
distance drawn per take for `rig="mixed"`). Every random choice comes from a numpy generator
seeded by `(seed, motion name, subject, variant)`, so a take is reproducible on its own and
does not depend on which other takes are generated.

`.npz` take format (what `liftbench data synth` writes, `load_take` reads):
    pose3d_world (T, 17, 3) metres, world Z up     pose2d       (V, T, 17, 3) px + confidence
    pose2d_clean (V, T, 17, 2) px (noiseless)       K            (V, 3, 3)
    R            (V, T, 3, 3) world→camera          t            (V, T, 3) metres
    dist         (V, 5) OpenCV k1 k2 p1 p2 k3       image_size   (V, 2) (W, H)
    valid        (V, T, 17) bool (in front of the camera and inside the image)
    fps, action, subject, take, group (scalars), view_names (V,)
"""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from liftbench.datamodules.records import SequenceRecord
from liftbench.datamodules.synthetic import augment
from liftbench.datamodules.synthetic.bodies import Body, apply_body, sample_body
from liftbench.datamodules.synthetic.detector import apply_detector, noise_preset
from liftbench.datamodules.synthetic.motion import MOTION_GROUPS, group_of, load_motion
from liftbench.datamodules.synthetic.rigs import MIXED_RIGS, RIG_CHOICES, make_rig
from liftbench.geometry.cameras import project, world_to_camera

NPZ_KEYS = (
    "pose3d_world", "pose2d", "pose2d_clean", "K", "R", "t", "dist", "image_size", "valid",
    "fps", "action", "subject", "take", "group", "view_names",
)
MIN_DEPTH = 0.1  # metres: joints closer to a camera plane than this count as unseen
SPEED_RANGE = (0.8, 1.25)  # playback speeds of the variants (log-uniform), symmetric in log
PLACEMENT_TRIES = 5  # rig placements tried before a take counts as unfilmable


def resolve_motions(spec: str | Sequence[str]) -> list[str]:
    """Expand `"all"` / `"daily"` / `"sports"` (or a list mixing groups, names, paths)."""
    items = [spec] if isinstance(spec, str) else list(spec)
    out: list[str] = []
    for item in items:
        if item == "all":
            out += [m for g in ("daily", "sports") for m in MOTION_GROUPS[g]]
        elif item in MOTION_GROUPS:
            out += list(MOTION_GROUPS[item])
        else:
            out.append(str(item))
    if not out:
        raise ValueError("motions is empty: give 'all', 'daily', 'sports', clip names or paths")
    return list(dict.fromkeys(out))


def motion_label(spec: str | Path) -> tuple[str, str]:
    """`(action, group)` of a motion spec without loading it.

    The action is the clip name, or the file stem (without DeepMimic's `humanoid3d_` prefix);
    the group is its `MOTION_GROUPS` key, else `"other"` (e.g. a BVH file).
    """
    text = str(spec)
    action = Path(text).stem.removeprefix("humanoid3d_") if Path(text).suffix else text
    return action, group_of(action) or "other"


def take_id(action: str, subject: str, variant: int) -> str:
    """Take label: `<action>_<subject>` for variant 0, else `<action>_<subject>_v<variant>`."""
    return f"{action}_{subject}" if variant == 0 else f"{action}_{subject}_v{variant}"


def _stable_seed(*parts: object) -> list[int]:
    return [zlib.crc32(str(p).encode()) for p in parts]


def capture_take(
    joints: np.ndarray,
    fps: float,
    action: str,
    subject: str,
    take: str,
    rng: np.random.Generator,
    rig: str = "ring",
    cameras: int = 4,
    noise: str = "detector",
    distortion: bool = False,
    group: str = "other",
    labels: dict[str, str] | None = None,
) -> SequenceRecord:
    """Film one motion with a virtual rig and a detector model.

    Frames where the root is behind (or within `MIN_DEPTH` of) any camera are dropped with a
    warning; joints outside an image (or behind its camera) get `valid=False` and confidence 0.

    Args:
        joints: `(T, 17, 3)` world joints in metres, Z up.
        fps: frame rate in Hz.
        action: action label.
        subject: subject label.
        take: take id.
        rng: numpy generator (rig placement and detector noise).
        rig: rig kind (`rigs.RIG_KINDS`).
        cameras: number of cameras.
        noise: detector preset (`detector.NOISE_PRESETS`).
        distortion: mild lens distortion.
        group: motion group label (`daily` / `sports`).
        labels: further labels of the record (e.g. the variant's).

    Returns:
        The `SequenceRecord` (labels hold the group and `labels`).

    Raises:
        ValueError: a camera that never sees the person, or no frame left.
    """
    joints = np.asarray(joints, dtype=np.float64)
    cams = make_rig(rig, joints, cameras, rng, distortion=distortion)
    x_cam = world_to_camera(joints[None], cams.R[:, :, None], cams.t[:, :, None])  # (V,T,J,3)
    keep = (x_cam[:, :, 0, 2] > MIN_DEPTH).all(axis=0)
    if not keep.any():
        raise ValueError(f"take {take!r}: the person is behind a camera in every frame")
    if not keep.all():
        warnings.warn(
            f"take {take!r}: dropping {int((~keep).sum())} frames with the person behind a camera",
            stacklevel=2,
        )
        joints, x_cam = joints[keep], x_cam[:, keep]
        R, t = cams.R[:, keep], cams.t[:, keep]
    else:
        R, t = cams.R, cams.t
    front = x_cam[..., 2] > MIN_DEPTH
    safe = np.where(front[..., None], x_cam, x_cam[:, :, :1])  # unseen joints: root stand-in
    clean = project(safe, cams.K[:, None, None], cams.dist[:, None, None])  # (V, T, J, 2)
    w, h = cams.image_size[:, 0, None, None], cams.image_size[:, 1, None, None]
    u, v = clean[..., 0], clean[..., 1]
    valid = front & (u >= 0) & (u < w) & (v >= 0) & (v < h)
    seen = valid.any(axis=(1, 2))
    if not seen.all():
        names = [cams.names[i] for i in np.flatnonzero(~seen)]
        raise ValueError(f"take {take!r}: camera(s) {names} never see the person; re-place the rig")
    pose2d = apply_detector(clean, noise_preset(noise), rng)
    pose2d[..., 2] = np.where(valid, pose2d[..., 2], 0.0)
    return SequenceRecord(
        subject=subject, action=action, take=take, fps=fps, pose2d=pose2d, K=cams.K, R=R, t=t,
        image_size=cams.image_size, pose3d_world=joints, pose2d_clean=clean, dist=cams.dist,
        valid=valid, view_names=cams.names, labels={**(labels or {}), "group": group},
    )


@dataclass(frozen=True)
class Variant:
    """How one take of a motion × subject differs from the others.

    Attributes:
        index: variant number k (see `take_id`).
        mirrored: performed mirror-image (`augment.mirror`: left and right swapped).
        speed: playback speed factor (`augment.time_warp`; 1.25 = 25 % faster, fewer frames).
        rig: rig kind (`rigs.RIG_KINDS`) the take is filmed with.
    """

    index: int
    mirrored: bool
    speed: float
    rig: str


def draw_variant(
    index: int,
    rng: np.random.Generator,
    first_mirrored: bool,
    mirror: bool = True,
    speed: tuple[float, float] = SPEED_RANGE,
    rig: str = "mixed",
) -> Variant:
    """Draw variant `index` of a motion × subject.

    With `mirror`, variants alternate between the original and the mirror image, starting with
    `first_mirrored` (drawn once per motion × subject), so any two consecutive variants hold
    one of each. The speed is log-uniform in `speed`; `rig="mixed"` draws the rig kind from
    `rigs.MIXED_RIGS`, any other kind is used as given.

    Args:
        index: variant number >= 0.
        rng: the take's generator (advanced by the draws).
        first_mirrored: whether variant 0 is mirrored.
        mirror: use mirrored variants at all.
        speed: `(low, high)` playback speed range, `0 < low <= high`.
        rig: rig kind or `"mixed"`.
    """
    low, high = speed
    if not 0 < low <= high:
        raise ValueError(f"speed must be (low, high) with 0 < low <= high, got {speed}")
    if rig not in RIG_CHOICES:
        raise ValueError(f"rig must be one of {', '.join(RIG_CHOICES)}, got {rig!r}")
    factor = float(np.exp(rng.uniform(np.log(low), np.log(high)))) if high > low else float(low)
    kind = str(rng.choice(MIXED_RIGS)) if rig == "mixed" else rig
    return Variant(index, mirror and (index % 2 == 1) != first_mirrored, factor, kind)


def perform(
    joints: np.ndarray, fps: float, body: Body, variant: Variant, rng: np.random.Generator
) -> np.ndarray:
    """A subject performs a motion in one variant.

    `body`'s proportions, then the mirror image (if `variant.mirrored`), the speed change
    (resampled back to `fps`) and a uniform random heading.

    Args:
        joints: `(T, 17, 3)` motion in metres, world Z up, at `fps` Hz.
        fps: frame rate in Hz.
        body: the subject.
        variant: mirror / speed of this take.
        rng: the take's generator (the heading).

    Returns:
        `(T', 17, 3)` metres at `fps` Hz, `T' ≈ (T - 1) / speed + 1`; constant bone lengths.
    """
    out = apply_body(joints, body)
    if variant.mirrored:
        out = augment.mirror(out)
    if variant.speed != 1.0:
        out = augment.time_warp(out, fps, variant.speed)
    return augment.rotate_heading(out, rng)


def iter_takes(
    motions: Sequence[str],
    subjects: int = 2,
    rig: str = "mixed",
    cameras: int = 4,
    noise: str = "detector",
    distortion: bool = False,
    fps: float = 50.0,
    seed: int = 0,
    variants: int = 1,
    mirror: bool = True,
    speed: tuple[float, float] = SPEED_RANGE,
    select: Callable[[str, str, int], bool] | None = None,
    bvh_options: dict[str, Any] | None = None,
) -> Iterator[SequenceRecord]:
    """Generate the takes of `motions × subjects × variants` one by one (see `capture_take`).

    Subject `Sk` has the body `bodies.sample_body(k - 1, seed)` in every motion; mirror,
    speed, rig kind, heading, rig placement and detector noise differ per take. A rig that
    cannot film the person is re-placed (up to `PLACEMENT_TRIES` times).

    Args:
        motions: clip names or BVH paths (expand groups with `resolve_motions`).
        subjects: subjects per motion.
        rig: rig kind (`rigs.RIG_KINDS`) or `"mixed"` (drawn per take, `rigs.MIXED_RIGS`).
        cameras: cameras per rig.
        noise: detector preset.
        distortion: mild lens distortion.
        fps: frame rate the motion is resampled to, Hz.
        seed: random seed.
        variants: takes per motion × subject.
        mirror: alternate original and mirror-image variants (`draw_variant`).
        speed: `(low, high)` playback speed range; `(1, 1)` keeps the motion's speed.
        select: `select(action, subject, variant)` → generate this take? (default: all).
            Skipped takes cost nothing and do not change the others.
        bvh_options: options for the BVH motions (`bvh_mapping.bvh_to_h36m`: `name_map`,
            `flavour`, `unit`, `up`); clips by name take none.

    Yields:
        One `SequenceRecord` per take, take id `take_id(action, subject, variant)`, labels
        `group`, `variant`, `mirrored` ("0"/"1"), `speed` and `rig`.
    """
    if subjects < 1 or variants < 1:
        raise ValueError(f"subjects and variants must be >= 1, got {subjects}, {variants}")
    bodies = [sample_body(s, seed) for s in range(subjects)]
    for name in motions:
        action, group = motion_label(name)
        wanted = [(b, v) for b in bodies for v in range(variants)
                  if select is None or select(action, b.name, v)]
        if not wanted:
            continue
        is_bvh = Path(str(name)).suffix.lower() == ".bvh"
        motion = load_motion(name, fps=fps, **((bvh_options or {}) if is_bvh else {}))
        for body, v in wanted:
            parity = np.random.default_rng(_stable_seed(seed, action, body.name, "mirror"))
            rng = np.random.default_rng(_stable_seed(seed, action, body.name, v))
            variant = draw_variant(v, rng, bool(parity.integers(2)), mirror, speed, rig)
            joints = perform(motion.joints, motion.fps, body, variant, rng)
            labels = {"group": group, "variant": str(v), "mirrored": str(int(variant.mirrored)),
                      "speed": f"{variant.speed:.4f}", "rig": variant.rig}
            for attempt in range(PLACEMENT_TRIES):
                try:
                    rec = capture_take(
                        joints, motion.fps, action, body.name,
                        take_id(action, body.name, v), rng, rig=variant.rig, cameras=cameras,
                        noise=noise, distortion=distortion, group=group, labels=labels,
                    )
                    break
                except ValueError:
                    if attempt == PLACEMENT_TRIES - 1:
                        raise
            yield rec


def synthesize(motions: Sequence[str], **kwargs: object) -> list[SequenceRecord]:
    """All takes of `iter_takes(motions, **kwargs)` as a list."""
    return list(iter_takes(motions, **kwargs))


def save_take(rec: SequenceRecord, path: str | Path) -> None:
    """Write a record in the `.npz` take format (module docstring)."""
    if rec.pose3d_world is None or rec.pose2d_clean is None:
        raise ValueError(f"take {rec.take!r}: the take format needs pose3d_world and pose2d_clean")
    np.savez_compressed(
        path, pose3d_world=rec.pose3d_world, pose2d=rec.pose2d, pose2d_clean=rec.pose2d_clean,
        K=rec.K, R=rec.R, t=rec.t, dist=rec.dist, image_size=rec.image_size, valid=rec.valid,
        fps=np.float64(rec.fps), action=rec.action, subject=rec.subject, take=rec.take,
        group=rec.labels.get("group", "other"), view_names=np.asarray(rec.view_names),
    )


def load_take(path: str | Path) -> SequenceRecord:
    """Read a `.npz` take; a missing file or key raises a clear error."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no take file at {path}")
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable .npz take ({exc})") from None
    missing = [k for k in NPZ_KEYS if k not in data.files]
    if missing:
        raise ValueError(f"{path}: not a take file, missing keys {missing}")
    return SequenceRecord(
        subject=str(data["subject"]), action=str(data["action"]), take=str(data["take"]),
        fps=float(data["fps"]), pose2d=data["pose2d"], K=data["K"], R=data["R"], t=data["t"],
        image_size=data["image_size"], pose3d_world=data["pose3d_world"],
        pose2d_clean=data["pose2d_clean"], dist=data["dist"], valid=data["valid"],
        view_names=tuple(str(v) for v in data["view_names"]), labels={"group": str(data["group"])},
    )
