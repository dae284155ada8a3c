"""SkiPose / Ski-PosePTZ-CameraDataset (Spörri; Rhodin et al. CVPR 2018): `skipose` DataModule.

Importing the package registers the datamodule (`datamodules.registry`).
"""

from liftbench.datamodules.skipose import datamodule as datamodule
