"""ASPset-510 (Nibali et al., IVC 2021): C3D joints reader and the `aspset` DataModule.

Importing the package registers the datamodule (`datamodules.registry`).
"""

from liftbench.datamodules.aspset import datamodule as datamodule
