"""MADS (Zhang et al., IVC 2017): reader and the `mads` DataModule.

Importing the package registers the datamodule (`datamodules.registry`).
"""

from liftbench.datamodules.mads import datamodule as datamodule
