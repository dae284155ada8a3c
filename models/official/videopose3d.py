"""VideoPose3D (`facebookresearch/VideoPose3D`): `TemporalModel` checkpoints.

`run.py` saves `{"epoch", "lr", "random_state", "optimizer", "model_pos", "model_traj", ...}`
with the plain (not `DataParallel`) `TemporalModel` weights under `model_pos`. liftbench's
`VideoPose3D` uses the official names (`expand_conv`, `expand_bn`, `layers_conv.i`,
`layers_bn.i`, `shrink`), so the key map is the identity. The official model maps a window of
receptive-field frames to its centre frame and predicts camera-space metres; liftbench runs the
same convolutions sequence-to-sequence (edge-replicated padding), so outputs keep the units the
weights were trained for.
"""

from __future__ import annotations

import math
from typing import Any

from liftbench.models.official.family import OfficialFamily, check_known, require, same_keys

# `TemporalModel(num_joints_in, in_features, num_joints_out, filter_widths, causal, dropout,
# channels, dense)` as `run.py` builds it for Human3.6M.
COMMON_CONFIG: dict[str, Any] = {
    "num_joints_in": 17, "in_features": 2, "num_joints_out": 17, "causal": False,
    "dropout": 0.25, "channels": 1024, "dense": False,
}  # fmt: skip
FILTER_WIDTHS = {"videopose3d": [3] * 5, "videopose3d_27": [3] * 3, "videopose3d_81": [3] * 4}


def paper_config(name: str) -> dict[str, Any]:
    """Official constructor arguments (`-arc 3,3,3[,3[,3]]`, 1024 channels)."""
    return {**COMMON_CONFIG, "filter_widths": list(FILTER_WIDTHS[name])}


def lifter_kwargs(config: dict[str, Any]) -> dict[str, Any]:
    """Official `TemporalModel(...)` arguments → liftbench `VideoPose3D` arguments."""
    check_known(config, {**COMMON_CONFIG, "filter_widths": None}, "videopose3d")
    require(config, "videopose3d", in_features=2, causal=False, dense=False)
    widths = config["filter_widths"]
    if isinstance(widths, str):  # run.py's `-arc 3,3,3`
        widths = [int(w) for w in widths.split(",")]
    if any(int(w) != 3 for w in widths):
        raise ValueError(f"videopose3d: filter_widths {list(widths)} not supported (liftbench: "
                         "all 3, i.e. receptive field 27 / 81 / 243)")
    if config["num_joints_in"] != config["num_joints_out"]:
        raise ValueError("videopose3d: num_joints_in must equal num_joints_out")
    return {"receptive_field": math.prod(int(w) for w in widths),
            "num_joints": config["num_joints_in"], "channels": config["channels"],
            "dropout": config["dropout"]}  # fmt: skip


FAMILY = OfficialFamily(
    name="videopose3d",
    repo="facebookresearch/VideoPose3D",
    lifters=tuple(FILTER_WIDTHS),
    weights_keys=("model_pos",),
    data_parallel=False,
    to_liftbench=same_keys,
    to_official=same_keys,
    key_to_official=lambda key: key,
    paper_config=paper_config,
    lifter_kwargs=lifter_kwargs,
    yaml_keys=(*COMMON_CONFIG, "filter_widths"),
)
