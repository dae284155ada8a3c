"""Real datasets: the `RealDataModule` base and what every dataset's reader shares.

- `datamodule.py`: `RealDataModule`, the base a dataset package subclasses (records cache,
  splits by subject, detections; the clips and loaders come from `ClipDataModule`);
- `reader_helpers.py`: the units check, ground-truth projection and take segmenting that
  readers use;
- `record_cache.py`: the records cache (`.npz` per take) and its summary;
- `prepare.py`: `liftbench data prepare` (read a dataset once, print its summary).

The base class and the reader helpers are re-exported here, the names a new dataset needs.
"""

from liftbench.datamodules.real.datamodule import RealDataModule
from liftbench.datamodules.real.reader_helpers import (
    PERSON_EXTENT_M,
    check_person_scale,
    finite_segments,
    project_views,
    slice_record,
)

__all__ = [
    "PERSON_EXTENT_M",
    "RealDataModule",
    "check_person_scale",
    "finite_segments",
    "project_views",
    "slice_record",
]
