"""Synthetic multi-camera scenes for the calibration tests (noise-free ground truth)."""

from __future__ import annotations

import numpy as np

# standing H36M-17 pose, metres, world z up (x right, y forward)
TEMPLATE = np.array([
    [0, 0, 0], [-0.13, 0, 0], [-0.13, 0.02, -0.45], [-0.13, 0, -0.89], [0.13, 0, 0],
    [0.13, 0.02, -0.45], [0.13, 0, -0.89], [0, 0, 0.23], [0, 0.01, 0.48], [0, 0.06, 0.56],
    [0, 0, 0.68], [0.17, 0, 0.43], [0.18, 0, 0.16], [0.19, 0.02, -0.09], [-0.17, 0, 0.43],
    [-0.18, 0, 0.16], [-0.19, 0.02, -0.09],
])  # fmt: skip


def rot_z(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])


def look_at(eye, target):
    z = target - eye
    z = z / np.linalg.norm(z)
    x = np.cross(z, [0, 0, 1.0])
    x = x / np.linalg.norm(x)
    R = np.stack([x, np.cross(z, x), z])
    return R, -R @ eye


def make_scene(C=3, T=40, seed=0, jitter=0.08):
    """A person moving and turning inside a ring of C cameras; everything noise-free."""
    rng = np.random.default_rng(seed)
    X = np.stack([
        (TEMPLATE + rng.normal(0, jitter, TEMPLATE.shape)) @ rot_z(rng.uniform(-np.pi, np.pi)).T
        + [rng.uniform(-1, 1), rng.uniform(-1, 1), 1.0]
        for _ in range(T)
    ])  # fmt: skip
    Rs, ts = [], []
    for c in range(C):
        a = 2 * np.pi * c / C + rng.uniform(-0.3, 0.3)
        d = rng.uniform(4.0, 6.0)
        R, t = look_at(np.array([d * np.cos(a), d * np.sin(a), rng.uniform(0.5, 2.5)]),
                       np.array([0, 0, 1.0]) + rng.normal(0, 0.2, 3))
        Rs.append(R)
        ts.append(t)
    R, t = np.array(Rs), np.array(ts)
    K = np.stack([np.array([[f, 0, 960], [0, f, 540], [0, 0, 1.0]])
                  for f in rng.uniform(900, 1500, C)])
    Xc = np.einsum("cij,tkj->ctki", R, X) + t[:, None, None]
    h = np.einsum("cij,ctkj->ctki", K, Xc)
    uv = h[..., :2] / h[..., 2:]
    return {"X": X, "R": R, "t": t, "K": K, "Xc": Xc, "uv": uv, "conf": np.ones(uv.shape[:-1])}
