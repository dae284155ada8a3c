"""Width-normalised screen coordinates and depths (pixels ↔ the lifters' input units).

`x' = 2u/W − 1`, `y' = 2v/W − H/W`, `z' = 2z/W` (MotionBERT's normalisation; see
`docs/conventions.md`); numpy or torch, batched over leading dims.
"""

from __future__ import annotations

from liftbench.geometry._validate import Array, as_floats, check_positive, check_shape, stack


def check_image_size(image_size: Array) -> None:
    """Raise `ValueError` unless `image_size` is `(..., 2)` of positive `(W, H)`."""
    check_shape("image_size", image_size, (2,), expected="(..., 2) as (W, H)")
    check_positive("image_size", image_size)


def normalize_screen(uv: Array, image_size: Array) -> Array:
    """Pixels to width-normalised screen coordinates: `x' = 2u/W − 1`, `y' = 2v/W − H/W`.

    Both axes are divided by the width, so the aspect ratio is kept: x' spans [−1, 1] and
    y' spans [−H/W, H/W] (MotionBERT's normalisation, VideoPose3D `normalize_screen_coordinates`).

    Args:
        uv: `(..., 2)` pixels.
        image_size: `(..., 2)` image `(W, H)` in pixels, broadcast against `uv`.

    Returns:
        `(..., 2)` normalised coordinates (unitless).
    """
    (uv, size), _ = as_floats(uv=uv, image_size=image_size)
    check_shape("uv", uv, (2,))
    check_image_size(size)
    W, H = size[..., 0], size[..., 1]
    return stack([2 * uv[..., 0] / W - 1, 2 * uv[..., 1] / W - H / W])


def denormalize_screen(xy: Array, image_size: Array) -> Array:
    """Inverse of `normalize_screen`: `u = (x' + 1)·W/2`, `v = (y' + H/W)·W/2`.

    Args:
        xy: `(..., 2)` width-normalised coordinates.
        image_size: `(..., 2)` image `(W, H)` in pixels.

    Returns:
        `(..., 2)` pixels.
    """
    (xy, size), _ = as_floats(xy=xy, image_size=image_size)
    check_shape("xy", xy, (2,))
    check_image_size(size)
    W, H = size[..., 0], size[..., 1]
    return stack([(xy[..., 0] + 1) * W / 2, (xy[..., 1] + H / W) * W / 2])


def normalize_depth(z: Array, width: Array) -> Array:
    """Pixel-unit depth to normalised units, `z' = 2z/W` (the 2.5D z rule).

    Args:
        z: `(...)` depth in pixel units (e.g. `(Z − Z_root)·f/Z_root`).
        width: `(...)` image width W in pixels, broadcast against `z`.

    Returns:
        `(...)` depth in width-normalised units.
    """
    (z, width), _ = as_floats(z=z, width=width)
    check_positive("width", width)
    return 2 * z / width


def denormalize_depth(z: Array, width: Array) -> Array:
    """Inverse of `normalize_depth`: `z = z'·W/2` (pixel units)."""
    (z, width), _ = as_floats(z=z, width=width)
    check_positive("width", width)
    return z * width / 2
