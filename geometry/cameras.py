"""Pinhole cameras with OpenCV lens distortion, numpy or torch, batched over leading dims.

Conventions (OpenCV): camera axes x right, y down, z forward; extrinsics map world → camera,
`X_cam = R · X_world + t`; intrinsics `K = [[fx, s, cx], [0, fy, cy], [0, 0, 1]]` in pixels;
distortion coefficients in OpenCV order `(k1, k2, p1, p2[, k3[, k4, k5, k6]])`, applied to the
normalised coordinates `(X/Z, Y/Z)` before `K`. Every function accepts numpy arrays or torch
tensors, returns the type it was given (numpy float64 unless given float32), broadcasts the
leading dimensions of its arguments against each other, and is differentiable in torch.

Points at or behind the camera plane (`Z <= 0`) project to NaN, never to a wrong finite pixel.

Also here: the scale-free "2.5D" pose with its per-frame mm factor (`docs/conventions.md`;
MotionBERT's `joint3d_image` / `2.5d_factor`). The lens models are `distortion.py`, the
width-normalised screen coordinates `screen.py`; both are re-exported here.
"""

from __future__ import annotations

import numpy as np
import torch

from liftbench.geometry._validate import (
    Array,
    as_floats,
    check_shape,
    is_torch,
    stack,
    where,
)
from liftbench.geometry.distortion import (
    DIST_SIZES,
    distort_normalized,
    distort_normalized_h36m,
    undistort_normalized,
)
from liftbench.geometry.screen import (
    check_image_size,
    denormalize_depth,
    denormalize_screen,
    normalize_depth,
    normalize_screen,
)

__all__ = [
    "DIST_SIZES", "camera_center", "camera_from_25d", "camera_to_25d", "camera_to_world",
    "check_image_size", "denormalize_depth", "denormalize_screen", "distort_normalized",
    "distort_normalized_h36m", "distort_points", "from_25d", "normalize_depth",
    "normalize_screen", "normalized_to_pixels", "pixels_to_normalized", "project",
    "projection_matrix", "undistort_normalized", "undistort_points", "unproject",
    "world_to_camera",
]


def _mv(M: Array, x: Array) -> Array:
    """Batched matrix-vector product `(..., m, n) · (..., n) -> (..., m)`."""
    return (M @ x[..., None])[..., 0]


def _transpose(M: Array) -> Array:
    return M.transpose(-1, -2) if is_torch(M) else M.swapaxes(-1, -2)


def world_to_camera(X_world: Array, R: Array, t: Array) -> Array:
    """World points into a camera frame: `X_cam = R · X_world + t`.

    Args:
        X_world: `(..., 3)` points in the world frame (any length unit).
        R: `(..., 3, 3)` world→camera rotation.
        t: `(..., 3)` world→camera translation (same unit as `X_world`).

    Returns:
        `(..., 3)` points in the camera frame (OpenCV axes), leading dims broadcast.
    """
    (X_world, R, t), _ = as_floats(X_world=X_world, R=R, t=t)
    check_shape("X_world", X_world, (3,))
    check_shape("R", R, (3, 3))
    check_shape("t", t, (3,))
    return _mv(R, X_world) + t


def camera_to_world(X_cam: Array, R: Array, t: Array) -> Array:
    """Camera-frame points back to the world: `X_world = Rᵀ (X_cam − t)`.

    Args:
        X_cam: `(..., 3)` points in the camera frame.
        R: `(..., 3, 3)` world→camera rotation (the same `R, t` as `world_to_camera`).
        t: `(..., 3)` world→camera translation.

    Returns:
        `(..., 3)` world points.
    """
    (X_cam, R, t), _ = as_floats(X_cam=X_cam, R=R, t=t)
    check_shape("X_cam", X_cam, (3,))
    check_shape("R", R, (3, 3))
    check_shape("t", t, (3,))
    return _mv(_transpose(R), X_cam - t)


def camera_center(R: Array, t: Array) -> Array:
    """Camera centre in world coordinates, `C = −Rᵀ t`.

    Args:
        R: `(..., 3, 3)` world→camera rotation.
        t: `(..., 3)` world→camera translation.

    Returns:
        `(..., 3)` centre, in the unit of `t`.
    """
    (R, t), _ = as_floats(R=R, t=t)
    check_shape("R", R, (3, 3))
    check_shape("t", t, (3,))
    return -_mv(_transpose(R), t)


def projection_matrix(K: Array, R: Array, t: Array) -> Array:
    """The 3×4 pinhole projection `P = K [R | t]` (no distortion).

    Args:
        K: `(..., 3, 3)` intrinsics in pixels.
        R: `(..., 3, 3)` world→camera rotation.
        t: `(..., 3)` world→camera translation.

    Returns:
        `(..., 3, 4)`: `P · [X, 1]ᵀ ∝ [u, v, 1]ᵀ` in pixels.
    """
    (K, R, t), torch_out = as_floats(K=K, R=R, t=t)
    check_shape("K", K, (3, 3))
    check_shape("R", R, (3, 3))
    check_shape("t", t, (3,))
    lib = torch if torch_out else np
    lead = tuple(lib.broadcast_shapes(R.shape[:-2], t.shape[:-1]))
    R_b = lib.broadcast_to(R, (*lead, 3, 3))
    t_b = lib.broadcast_to(t, (*lead, 3))[..., None]
    Rt = torch.cat([R_b, t_b], dim=-1) if torch_out else np.concatenate([R_b, t_b], axis=-1)
    return K @ Rt


def _check_K(K: Array) -> None:
    check_shape("K", K, (3, 3))


def pixels_to_normalized(uv: Array, K: Array) -> Array:
    """Pixels to normalised (distorted, if the image is) coordinates, inverting `K` (with skew).

    Args:
        uv: `(..., 2)` pixel coordinates.
        K: `(..., 3, 3)` intrinsics.

    Returns:
        `(..., 2)` normalised coordinates.
    """
    (uv, K), _ = as_floats(uv=uv, K=K)
    check_shape("uv", uv, (2,))
    _check_K(K)
    fx, s, cx, fy, cy = K[..., 0, 0], K[..., 0, 1], K[..., 0, 2], K[..., 1, 1], K[..., 1, 2]
    y = (uv[..., 1] - cy) / fy
    x = (uv[..., 0] - cx - s * y) / fx
    return stack([x, y])


def normalized_to_pixels(xy: Array, K: Array) -> Array:
    """Normalised coordinates to pixels: `u = fx·x + s·y + cx`, `v = fy·y + cy`.

    Args:
        xy: `(..., 2)` normalised coordinates.
        K: `(..., 3, 3)` intrinsics.

    Returns:
        `(..., 2)` pixels.
    """
    (xy, K), _ = as_floats(xy=xy, K=K)
    check_shape("xy", xy, (2,))
    _check_K(K)
    x, y = xy[..., 0], xy[..., 1]
    u = K[..., 0, 0] * x + K[..., 0, 1] * y + K[..., 0, 2]
    return stack([u, K[..., 1, 1] * y + K[..., 1, 2]])


def project(X_cam: Array, K: Array, dist: Array | None = None) -> Array:
    """Project camera-frame points to pixels (pinhole + optional OpenCV distortion).

    Args:
        X_cam: `(..., 3)` camera-frame points (any length unit).
        K: `(..., 3, 3)` intrinsics in pixels.
        dist: optional `(..., 4|5|8)` OpenCV distortion coefficients.

    Returns:
        `(..., 2)` pixels; NaN for points with `Z <= 0` (gradients there are zero, not NaN).
    """
    (X_cam, K, dist), _ = as_floats(X_cam=X_cam, K=K, dist=dist)
    check_shape("X_cam", X_cam, (3,))
    _check_K(K)
    Z = X_cam[..., 2]
    front = Z > 0
    Z_safe = where(front, Z, Z * 0 + 1)  # keeps the unused branch finite for autograd
    xy = X_cam[..., :2] / Z_safe[..., None]
    if dist is not None:
        xy = distort_normalized(xy, dist)
    uv = normalized_to_pixels(xy, K)
    return where(front[..., None], uv, float("nan"))


def unproject(uv: Array, depth: Array, K: Array, dist: Array | None = None,
              iterations: int = 20) -> Array:
    """Back-project pixels at known depth `Z` to camera-frame points (inverse of `project`).

    Args:
        uv: `(..., 2)` pixels (distorted, if `dist` is given).
        depth: `(...)` camera-frame depth `Z` of each point (the unit of the result).
        K: `(..., 3, 3)` intrinsics.
        dist: optional `(..., 4|5|8)` distortion, removed with `undistort_normalized`.
        iterations: fixed-point steps of the undistortion.

    Returns:
        `(..., 3)` camera-frame points `(x·Z, y·Z, Z)`.
    """
    (uv, depth, K, dist), _ = as_floats(uv=uv, depth=depth, K=K, dist=dist)
    check_shape("uv", uv, (2,))
    xy = pixels_to_normalized(uv, K)
    if dist is not None:
        xy = undistort_normalized(xy, dist, iterations)
    return stack([xy[..., 0] * depth, xy[..., 1] * depth, xy[..., 0] * 0 + depth])


def undistort_points(uv: Array, K: Array, dist: Array, iterations: int = 20) -> Array:
    """Remove lens distortion from pixel coordinates (output in the same `K`).

    Args:
        uv: `(..., 2)` distorted pixels.
        K: `(..., 3, 3)` intrinsics.
        dist: `(..., 4|5|8)` OpenCV coefficients.
        iterations: fixed-point steps (see `undistort_normalized`).

    Returns:
        `(..., 2)` undistorted pixels, i.e. where an ideal pinhole camera `K` would see the point.
    """
    (uv, K, dist), _ = as_floats(uv=uv, K=K, dist=dist)
    xy = undistort_normalized(pixels_to_normalized(uv, K), dist, iterations)
    return normalized_to_pixels(xy, K)


def distort_points(uv: Array, K: Array, dist: Array) -> Array:
    """Apply lens distortion to ideal pinhole pixel coordinates (inverse of `undistort_points`).

    Args:
        uv: `(..., 2)` undistorted pixels.
        K: `(..., 3, 3)` intrinsics.
        dist: `(..., 4|5|8)` OpenCV coefficients.

    Returns:
        `(..., 2)` distorted pixels.
    """
    (uv, K, dist), _ = as_floats(uv=uv, K=K, dist=dist)
    return normalized_to_pixels(distort_normalized(pixels_to_normalized(uv, K), dist), K)


def camera_to_25d(
    X_cam: Array, K: Array, image_size: Array, root: int = 0
) -> tuple[Array, Array]:
    """Camera-frame 3D joints (mm) to the scale-free root-relative 2.5D target and its factor.

    With `(u, v)` the pinhole projection by `K` (no lens distortion, as LCN / MotionBERT's
    `joint3d_image`), `W` the image width and `f = fx = K[0, 0]`::

        pose25d[..., j, 0:2] = normalize_screen(u_j, v_j) − normalize_screen(u_root, v_root)
                             = 2·(u_j − u_root, v_j − v_root) / W
        pose25d[..., j, 2]   = (Z_j − Z_root) · f / Z_root · 2 / W
        factor               = Z_root · W / (2 f)          (mm per normalised unit)

    `from_25d(pose25d, factor) = pose25d · factor` then gives, relative to the root:

    * z: exactly `Z_j − Z_root` (mm).
    * x, y (no skew, `fx = fy`): `(X_j, Y_j)·Z_root/Z_j − (X_root, Y_root)`, i.e. the true offset
      `(X_j − X_root, Y_j − Y_root)` plus the weak-perspective error
      `e_j = (X_j, Y_j) · (Z_root − Z_j) / Z_j` (absolute camera-frame X_j, Y_j of the joint).
      It is zero for joints at the root's depth and |e_j| <= |(X_j, Y_j)|·|Z_j − Z_root| / Z_j;
      e.g. a joint 1 m off the optical axis, 300 mm in front of / behind a root 5 m away: ≈ 60 mm.
    * `fx ≠ fy`: the factor uses fx, so y comes out multiplied by `fy/fx` (H36M: ≈ 0.999); with
      skew `s`, x also picks up `s/fx · (Y_j/Z_j·Z_root − Y_root)`.

    The root joint is exactly (0, 0, 0). Deviation: LCN's box-based λ uses `(box_w + 1)/2000`
    (an extra pixel); this factor is the exact weak-perspective scale without it.

    Args:
        X_cam: `(..., J, 3)` camera-frame joints in mm (any unit works: the factor has that unit).
        K: `(..., 3, 3)` intrinsics in pixels, broadcast over the frame dims (not over J).
        image_size: `(..., 2)` image `(W, H)` in pixels, broadcast over the frame dims.
        root: index of the root joint (H36M-17: 0, the pelvis).

    Returns:
        `(pose25d (..., J, 3), factor (...))`; NaN for frames whose root has `Z <= 0` (and
        NaN x, y for any joint behind the camera).

    Raises:
        ValueError: bad shapes, non-positive image size, or `root` out of range.
    """
    (X_cam, K, size), _ = as_floats(X_cam=X_cam, K=K, image_size=image_size)
    check_shape("X_cam", X_cam, (None, 3), expected="(..., J, 3)")
    _check_K(K)
    check_image_size(size)
    J = X_cam.shape[-2]
    if not -J <= int(root) < J:
        raise ValueError(f"root must index one of the J={J} joints of X_cam, got {root}")
    uv = project(X_cam, K[..., None, :, :])
    W = size[..., 0]
    xy = 2 * (uv - uv[..., root : root + 1, :]) / W[..., None, None]
    Z = X_cam[..., 2]
    Z_root = Z[..., root]
    front = Z_root > 0
    Z_root_safe = where(front, Z_root, Z_root * 0 + 1)
    f = K[..., 0, 0]
    z = (Z - Z_root[..., None]) * (f / Z_root_safe)[..., None] * 2 / W[..., None]
    factor = where(front, Z_root_safe * W / (2 * f), float("nan"))
    pose = stack([xy[..., 0], xy[..., 1], where(front[..., None], z, float("nan"))])
    return pose, factor


def from_25d(pose25d: Array, factor: Array) -> Array:
    """Scale a 2.5D pose to root-relative millimetres, `pose25d · factor`.

    See `camera_to_25d` for what is exact (z; x, y at the root's depth) and the weak-perspective
    error elsewhere.

    Args:
        pose25d: `(..., J, 3)` 2.5D pose in width-normalised units.
        factor: `(...)` mm per normalised unit, one per frame.

    Returns:
        `(..., J, 3)` root-relative pose in mm, image-aligned axes (x right, y down, z forward).
    """
    (pose25d, factor), _ = as_floats(pose25d=pose25d, factor=factor)
    check_shape("pose25d", pose25d, (None, 3), expected="(..., J, 3)")
    return pose25d * factor[..., None, None]


def camera_from_25d(
    pose25d: Array, root_uv: Array, K: Array, image_size: Array, root_depth: Array | float = 1.0,
) -> Array:
    """Camera-frame 3D (up to scale) from a 2.5D pose and its root's pixel.

    The inverse of `camera_to_25d` given the one quantity the scale-free 2.5D lacks (the root
    depth).

    With `W` the image width and `f = K[0, 0]` (see `camera_to_25d`)::

        u_j = u_root + x_j·W/2,   v_j = v_root + y_j·W/2
        Z_j = Z_root·(1 + z_j·W/(2f))
        X_j = Z_j · K⁻¹ [u_j, v_j, 1]ᵀ

    Exact for any `root_depth` up to the global scale: `camera_to_25d(camera_from_25d(p, uv_root,
    K, size), K, size)` returns `p`, so bone *directions* (what extrinsic calibration uses) are
    those of the true camera-frame pose (not those of the raw 2.5D array, whose x, y are image
    offsets: treating it as 3D distorts every direction off the optical axis).

    Args:
        pose25d: `(..., J, 3)` root-relative 2.5D pose (width-normalised units).
        root_uv: `(..., 2)` the root joint's (undistorted) pixel.
        K: `(..., 3, 3)` intrinsics in pixels (broadcast over the frame dims, not over J).
        image_size: `(..., 2)` image `(W, H)` in pixels.
        root_depth: `(...)` or scalar `Z_root`, the unit of the result (default 1).

    Returns:
        `(..., J, 3)` camera-frame points `(X, Y, Z)`, OpenCV axes, in `root_depth`'s unit.
    """
    (p, uv_r, K, size), _ = as_floats(pose25d=pose25d, root_uv=root_uv, K=K,
                                      image_size=image_size)
    check_shape("pose25d", p, (None, 3), expected="(..., J, 3)")
    check_shape("root_uv", uv_r, (2,))
    _check_K(K)
    check_image_size(size)
    W = size[..., 0][..., None]  # (..., 1)
    f = K[..., 0, 0][..., None]
    uv = uv_r[..., None, :] + p[..., :2] * W[..., None] / 2
    rel = 1 + p[..., 2] * W / (2 * f)
    Z = rel * (root_depth if isinstance(root_depth, (int, float)) else root_depth[..., None])
    return unproject(uv, Z, K[..., None, :, :])
