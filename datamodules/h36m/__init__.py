"""Human3.6M: readers (VideoPose3D npz, MotionBERT pkl, mmpose npz) and the `h36m` DataModule.

Importing the package registers the datamodule (`datamodules.registry`).
"""

from liftbench.datamodules.h36m import datamodule as datamodule
