"""Official checkpoints: load the weights the original projects release, and export to them.

`load_official("motionbert", "best_epoch.bin")` reads a checkpoint exactly as the official
training script saved it (safely: `weights_only=True`) and maps its keys onto the liftbench
lifter; `official_checkpoint` goes the other way. One module per official code base holds its
key map and constructor-argument map.
"""

from liftbench.models.official.loading import (
    FAMILIES,
    family_of,
    liftbench_to_official,
    lifter_kwargs_for,
    load_official,
    load_official_state,
    official_checkpoint,
    official_config,
    official_lifters,
    official_to_liftbench,
    read_official_checkpoint,
)
from liftbench.models.official.safe_load import safe_torch_load

__all__ = [
    "FAMILIES",
    "family_of",
    "lifter_kwargs_for",
    "liftbench_to_official",
    "load_official",
    "load_official_state",
    "official_checkpoint",
    "official_config",
    "official_lifters",
    "official_to_liftbench",
    "read_official_checkpoint",
    "safe_torch_load",
]
