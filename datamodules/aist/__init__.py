"""AIST++ (Li et al., ICCV 2021): reader and the `aist` DataModule.

Importing the package registers the datamodule (`datamodules.registry`).
"""

from liftbench.datamodules.aist import datamodule as datamodule
