"""Lens distortion of normalised image coordinates: the OpenCV model and Human3.6M's own.

OpenCV coefficients come in OpenCV order `(k1, k2, p1, p2[, k3[, k4, k5, k6]])` and act on the
normalised coordinates `(X/Z, Y/Z)` before `K`; numpy or torch, batched over leading dims
(the conventions of `cameras.py`, which applies them in `project` / `unproject`).
"""

from __future__ import annotations

from liftbench.geometry._validate import Array, as_floats, check_shape, shape_error, stack

DIST_SIZES = (4, 5, 8)


def _check_dist(dist: Array) -> None:
    check_shape("dist", dist, (None,), expected="(..., 4|5|8) OpenCV k1,k2,p1,p2[,k3[,k4,k5,k6]]")
    if dist.shape[-1] not in DIST_SIZES:
        raise shape_error("dist", dist, "(..., 4|5|8) OpenCV k1,k2,p1,p2[,k3[,k4,k5,k6]]")


def _coeff(dist: Array, i: int) -> Array:
    """Coefficient `i` of `dist (..., n)` as `(...)`, zero when the model has fewer."""
    return dist[..., i] if dist.shape[-1] > i else dist[..., 0] * 0


def _radial_tangential(xy: Array, dist: Array) -> tuple[Array, Array, Array]:
    """`(radial factor (...), tangential dx (...), dy (...))` of the OpenCV model at `xy`."""
    x, y = xy[..., 0], xy[..., 1]
    k1, k2, p1, p2, k3 = (_coeff(dist, i) for i in range(5))
    r2 = x * x + y * y
    radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    if dist.shape[-1] == 8:
        k4, k5, k6 = dist[..., 5], dist[..., 6], dist[..., 7]
        radial = radial / (1 + r2 * (k4 + r2 * (k5 + r2 * k6)))
    dx = 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    dy = p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return radial, dx, dy


def distort_normalized(xy: Array, dist: Array) -> Array:
    """Apply OpenCV lens distortion to normalised image coordinates.

    Args:
        xy: `(..., 2)` undistorted normalised coordinates `(X/Z, Y/Z)` (unitless).
        dist: `(..., 4|5|8)` OpenCV coefficients `k1, k2, p1, p2[, k3[, k4, k5, k6]]`.

    Returns:
        `(..., 2)` distorted normalised coordinates.
    """
    (xy, dist), _ = as_floats(xy=xy, dist=dist)
    check_shape("xy", xy, (2,))
    _check_dist(dist)
    radial, dx, dy = _radial_tangential(xy, dist)
    return stack([xy[..., 0] * radial + dx, xy[..., 1] * radial + dy])


def undistort_normalized(xy_distorted: Array, dist: Array, iterations: int = 20) -> Array:
    """Invert `distort_normalized` by OpenCV's fixed-point iteration.

    Each step is `x ← (x_d − tangential(x)) / radial(x)` (as `cv::undistortPoints`). It is a
    contraction for moderate distortion (converges to machine precision in well under 20 steps
    for |k1| ≲ 0.3 inside the image); for extreme wide-angle lenses raise `iterations`.

    Args:
        xy_distorted: `(..., 2)` distorted normalised coordinates.
        dist: `(..., 4|5|8)` OpenCV coefficients.
        iterations: number of fixed-point steps (>= 1).

    Returns:
        `(..., 2)` undistorted normalised coordinates.

    Raises:
        ValueError: bad shapes or `iterations < 1`.
    """
    if int(iterations) < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations}")
    (xy_d, dist), _ = as_floats(xy_distorted=xy_distorted, dist=dist)
    check_shape("xy_distorted", xy_d, (2,))
    _check_dist(dist)
    xy = xy_d
    for _ in range(int(iterations)):
        radial, dx, dy = _radial_tangential(xy, dist)
        xy = stack([(xy_d[..., 0] - dx) / radial, (xy_d[..., 1] - dy) / radial])
    return xy


def distort_normalized_h36m(xy: Array, k: Array, p: Array) -> Array:
    """Human3.6M's own lens model (its MATLAB `ProjectPointRadial`, VideoPose3D `project_to_2d`).

    `xy_d = xy·(radial + p·xy) + p·r²`, `radial = 1 + k1 r² + k2 r⁴ + k3 r⁶`, `p·xy = p1 x + p2 y`.
    Its tangential part is NOT the OpenCV one (no factor 2, different cross terms), so no OpenCV
    coefficient vector reproduces it exactly; the dataset's 2D ground truth was made with this
    form (it reproduces the mmpose fixture's `part` to < 1e-4 px; the OpenCV form with the same
    coefficients is off by up to ~0.3 px). `p` is in VideoPose3D order (`common/h36m_dataset.py`);
    mmpose's `cameras.pkl` stores it reversed.

    Args:
        xy: `(..., 2)` undistorted normalised coordinates.
        k: `(..., 3)` radial coefficients k1, k2, k3.
        p: `(..., 2)` tangential coefficients in VideoPose3D order.

    Returns:
        `(..., 2)` distorted normalised coordinates.
    """
    (xy, k, p), _ = as_floats(xy=xy, k=k, p=p)
    check_shape("xy", xy, (2,))
    check_shape("k", k, (3,), expected="(..., 3) as k1, k2, k3")
    check_shape("p", p, (2,), expected="(..., 2) in VideoPose3D order")
    r2 = (xy * xy).sum(-1)
    radial = 1 + r2 * (k[..., 0] + r2 * (k[..., 1] + r2 * k[..., 2]))
    tan = (p * xy).sum(-1)
    return xy * (radial + tan)[..., None] + p * r2[..., None]
