"""Synthetic multi-view capture from real motion capture: the embedded default dataset.

Motion (`motion.py`) × anthropometric subjects (`bodies.py`) × per-take variants (mirror,
speed, rig: `capture.py`) → takes, split by a named protocol (`splits.py`) into the sets of
`SyntheticDataModule` (`datamodule.py`).

Importing the package registers the `synthetic` datamodule (`datamodules.registry`).
"""

from liftbench.datamodules.synthetic import datamodule as datamodule
from liftbench.datamodules.synthetic.motion import MOTION_GROUPS, Motion, list_motions, load_motion

__all__ = ["MOTION_GROUPS", "Motion", "list_motions", "load_motion"]
