"""WorldPose (Jiang et al., ECCV 2024): SMPL-label reader and the `worldpose` DataModule.

Importing the package registers the datamodule (`datamodules.registry`).
"""

from liftbench.datamodules.worldpose import datamodule as datamodule
