"""Humans7.1M (SoloPose, Jeong et al.): real datasets merged into one universal frame.

`universal.py`: the AugMotion toolkit (key frame, universal references, Kabsch, `merge`);
`datamodule.py`: the `humans71m` DataModule over any registered real datasets. Importing the
package registers the datamodule (`datamodules.registry`).
"""

from liftbench.datamodules.humans71m import datamodule as datamodule
