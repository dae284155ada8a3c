"""Pure loss functions (supervised, reprojection, consistency, canonical, HeatPose)."""
