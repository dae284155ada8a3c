"""MPI-INF-3DHP: readers (raw release, mmpose npz) and the `mpi_inf_3dhp` DataModule.

Importing the package registers the datamodule (`datamodules.registry`).
"""

from liftbench.datamodules.mpi_inf_3dhp import datamodule as datamodule
