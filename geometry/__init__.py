"""Pure math and skeletal data (numpy + torch, no Lightning)."""

from liftbench.geometry.calibration import calibrate, extrinsic_errors
from liftbench.geometry.cameras import (
    camera_center,
    camera_to_25d,
    camera_to_world,
    denormalize_depth,
    denormalize_screen,
    distort_normalized,
    distort_normalized_h36m,
    distort_points,
    from_25d,
    normalize_depth,
    normalize_screen,
    normalized_to_pixels,
    pixels_to_normalized,
    project,
    projection_matrix,
    undistort_normalized,
    undistort_points,
    unproject,
    world_to_camera,
)
from liftbench.geometry.procrustes import kabsch, procrustes, similarity_align
from liftbench.geometry.triangulation import triangulate

__all__ = [
    "calibrate",
    "extrinsic_errors",
    "camera_center",
    "camera_to_25d",
    "camera_to_world",
    "denormalize_depth",
    "denormalize_screen",
    "distort_normalized",
    "distort_normalized_h36m",
    "distort_points",
    "from_25d",
    "normalize_depth",
    "normalize_screen",
    "normalized_to_pixels",
    "pixels_to_normalized",
    "project",
    "projection_matrix",
    "triangulate",
    "kabsch",
    "procrustes",
    "similarity_align",
    "undistort_normalized",
    "undistort_points",
    "unproject",
    "world_to_camera",
]
