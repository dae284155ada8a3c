"""SportsPose (Ingwersen et al., CVPRW 2023): reader and the `sportspose` DataModule.

Importing the package registers the datamodule (`datamodules.registry`).
"""

from liftbench.datamodules.sportspose import datamodule as datamodule
