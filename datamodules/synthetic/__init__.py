"""Synthetic multi-view capture from real motion capture: the embedded default dataset.

Importing the package registers the `synthetic` datamodule (`datamodules.registry`).
"""

from datamodules.synthetic import datamodule as datamodule
from datamodules.synthetic.motion import MOTION_GROUPS, Motion, list_motions, load_motion

__all__ = ["MOTION_GROUPS", "Motion", "list_motions", "load_motion"]
