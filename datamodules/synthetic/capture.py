"""Motion + camera rig + detector model → `SequenceRecord`s, and the `.npz` take format.

One take = one motion clip performed by one synthetic subject (body proportions varied by
`augment`), seen by a rig of synchronized cameras. Every random choice comes from a numpy
generator seeded by `(seed, motion name, subject)`, so a take is reproducible on its own.

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
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from datamodules.records import SequenceRecord
from datamodules.synthetic import augment
from datamodules.synthetic.detector import apply_detector, noise_preset
from datamodules.synthetic.motion import MOTION_GROUPS, Motion, load_motion
from datamodules.synthetic.rigs import make_rig
from geometry.cameras import project, world_to_camera

NPZ_KEYS = (
    "pose3d_world", "pose2d", "pose2d_clean", "K", "R", "t", "dist", "image_size", "valid",
    "fps", "action", "subject", "take", "group", "view_names",
)
MIN_DEPTH = 0.1  # metres: joints closer to a camera plane than this count as unseen


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


def _group_of(motion: Motion, name: str) -> str:
    for group, names in MOTION_GROUPS.items():
        if name in names or getattr(motion, "name", None) in names:
            return group
    return getattr(motion, "group", None) or "other"


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

    Returns:
        The `SequenceRecord` (labels hold the group).

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
        valid=valid, view_names=cams.names, labels={"group": group},
    )


def _perform(motion: Motion, body: np.random.Generator, rng: np.random.Generator) -> np.ndarray:
    """A subject performs the motion: their body proportions, a random heading and speed."""
    out = augment.vary_bone_lengths(motion, body)
    out = augment.scale_subject(out, body)
    out = augment.rotate_heading(out, rng)
    return out


def iter_takes(
    motions: Sequence[str],
    subjects: int = 2,
    rig: str = "ring",
    cameras: int = 4,
    noise: str = "detector",
    distortion: bool = False,
    fps: float = 50.0,
    seed: int = 0,
) -> Iterator[SequenceRecord]:
    """Generate the takes of `motions × subjects` one by one (see `capture_take`).

    Subject `Sk` keeps the same body proportions in every motion; the heading, rig placement
    and detector noise differ per take. Everything is determined by `seed`.

    Args:
        motions: clip names or BVH paths (expand groups with `resolve_motions`).
        subjects: subjects per motion.
        rig: rig kind (see `capture_take`).
        cameras: cameras per rig.
        noise: detector preset.
        distortion: mild lens distortion.
        fps: frame rate the motion is resampled to.
        seed: random seed.

    Yields:
        One `SequenceRecord` per take, take id `<action>_<subject>`.
    """
    if subjects < 1:
        raise ValueError(f"subjects must be >= 1, got {subjects}")
    for name in motions:
        motion = load_motion(name, fps=fps)
        action = getattr(motion, "name", None) or Path(str(name)).stem
        group = _group_of(motion, action)
        for s in range(subjects):
            subject = f"S{s + 1}"
            body = np.random.default_rng(_stable_seed(seed, "body", s))
            rng = np.random.default_rng(_stable_seed(seed, action, subject))
            joints = _perform(motion, body, rng)
            yield capture_take(
                joints, motion.fps, action, subject, f"{action}_{subject}", rng, rig=rig,
                cameras=cameras, noise=noise, distortion=distortion, group=group,
            )


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
