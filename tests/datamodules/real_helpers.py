"""Synthetic ground truth and cameras for the format-faithful dataset copies in the tests."""

from __future__ import annotations

import numpy as np

from liftbench.datamodules.synthetic import load_motion


def motion_m(name: str = "walk", frames: int = 40, offset=(0.0, 0.0, 0.0), up: str = "z"):
    """(T, 17, 3) H36M-17 world joints in metres of a DeepMimic clip (z-up; or y-up/-y)."""
    j = load_motion(name).joints[:frames].astype(np.float64) + np.asarray(offset)
    if up == "y":  # y-up world: (x, y, z) <- (x, z, -y)
        j = np.stack([j[..., 0], j[..., 2], -j[..., 1]], -1)
    elif up == "-y":  # y-down world (ASPset): (x, -z, y)
        j = np.stack([j[..., 0], -j[..., 2], j[..., 1]], -1)
    return j


def look_at(centre, target=(0.0, 0.0, 0.9), up=(0.0, 0.0, 1.0)):
    """World→camera (R, t) of a camera at `centre` looking at `target` (OpenCV axes)."""
    c, tg, u = (np.asarray(v, float) for v in (centre, target, up))
    z = tg - c
    z /= np.linalg.norm(z)
    x = np.cross(z, u)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z])
    return R, -R @ c


def ring(n: int, radius: float = 5.0, height: float = 1.5, target=(0.0, 0.0, 0.9), up="z"):
    """n cameras on a circle around the target."""
    out = []
    for i in range(n):
        a = 2 * np.pi * i / n + 0.3
        if up == "z":
            c, upv = (radius * np.cos(a), radius * np.sin(a), height), (0, 0, 1)
        elif up == "y":
            c, upv = (radius * np.cos(a), height, radius * np.sin(a)), (0, 1, 0)
        else:
            c, upv = (radius * np.cos(a), -height, radius * np.sin(a)), (0, -1, 0)
        out.append(look_at(c, target, upv))
    return out


def intrinsics(f=1100.0, w=1000, h=1000, skew_c=(3.0, -4.0)):
    return np.array([[f, 0, w / 2 + skew_c[0]], [0, f * 1.001, h / 2 + skew_c[1]], [0, 0, 1]])


def project_cv(X_world, R, t, K, dist=None):
    """Independent OpenCV projection (numpy loop-free reference)."""
    Xc = X_world @ R.T + t
    x, y = Xc[..., 0] / Xc[..., 2], Xc[..., 1] / Xc[..., 2]
    if dist is not None:
        k1, k2, p1, p2, k3 = dist
        r2 = x * x + y * y
        rad = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
        x, y = (x * rad + 2 * p1 * x * y + p2 * (r2 + 2 * x * x),
                y * rad + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y)
    return np.stack([K[0, 0] * x + K[0, 1] * y + K[0, 2], K[1, 1] * y + K[1, 2]], -1)
