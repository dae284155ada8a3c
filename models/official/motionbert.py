"""MotionBERT (`Walter0807/MotionBERT`): `DSTformer` checkpoints.

`train.py` saves `{"epoch", "lr", "optimizer", "model_pos", "min_loss"}` with the weights of the
`nn.DataParallel`-wrapped backbone under `model_pos`. liftbench's `DSTformer` uses the official
parameter names, so the key map is the identity; only the constructor arguments need mapping.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from liftbench.models.official.family import (
    OfficialFamily,
    check_known,
    require,
    same_keys,
    warn_dropout,
)

# `lib/utils/learning.py::load_backbone` with `configs/pose3d/MB_ft_h36m.yaml`,
# plus the constructor defaults it does not pass.
PAPER_CONFIG: dict[str, Any] = {
    "dim_in": 3, "dim_out": 3, "dim_feat": 512, "dim_rep": 512, "depth": 5, "num_heads": 8,
    "mlp_ratio": 2, "norm_layer": "partial(nn.LayerNorm, eps=1e-6)", "maxlen": 243,
    "num_joints": 17, "qkv_bias": True, "qk_scale": None, "drop_rate": 0.0,
    "attn_drop_rate": 0.0, "drop_path_rate": 0.0, "att_fuse": True,
}  # fmt: skip

# What `load_backbone` reads from the YAML (the rest of the file is training settings).
YAML_KEYS = ("dim_feat", "dim_rep", "depth", "num_heads", "mlp_ratio", "maxlen", "num_joints")


def layer_norm_eps(norm_layer: Any) -> float:
    """The epsilon of an official `norm_layer` argument.

    Accepts the object (`nn.LayerNorm`, `functools.partial(nn.LayerNorm, eps=...)`) or its source
    text as the fixtures record it (`"partial(nn.LayerNorm, eps=1e-6)"`).
    """
    if isinstance(norm_layer, functools.partial):
        return float(norm_layer.keywords.get("eps", 1e-5))
    if isinstance(norm_layer, type) and norm_layer.__name__ == "LayerNorm":
        return 1e-5
    text = str(norm_layer)
    if "LayerNorm" not in text:
        raise ValueError(f"motionbert: norm_layer {norm_layer!r} is not a LayerNorm")
    found = re.search(r"eps\s*=\s*([0-9.eE+-]+)", text)
    return float(found.group(1)) if found else 1e-5


def paper_config(name: str) -> dict[str, Any]:
    """Official constructor arguments of the paper configuration (one for `motionbert`)."""
    return dict(PAPER_CONFIG)


def lifter_kwargs(config: dict[str, Any]) -> dict[str, Any]:
    """Official `DSTformer(...)` arguments → liftbench `DSTformer` arguments."""
    check_known(config, PAPER_CONFIG, "motionbert")
    require(config, "motionbert", dim_in=3, dim_out=3, qkv_bias=True, qk_scale=None,
            att_fuse=True)  # fmt: skip
    eps = layer_norm_eps(config.get("norm_layer", PAPER_CONFIG["norm_layer"]))
    if abs(eps - 1e-6) > 1e-12:
        raise ValueError(f"motionbert: LayerNorm eps {eps} is not supported (liftbench: 1e-6, "
                         "as `load_backbone` builds it)")
    warn_dropout(config, "motionbert", "drop_rate", "attn_drop_rate", "drop_path_rate")
    keys = ("depth", "dim_feat", "dim_rep", "num_heads", "mlp_ratio", "maxlen", "num_joints")
    return {k: config[k] for k in keys}


FAMILY = OfficialFamily(
    name="motionbert",
    repo="Walter0807/MotionBERT",
    lifters=("motionbert",),
    weights_keys=("model_pos", "model"),
    data_parallel=True,
    to_liftbench=same_keys,
    to_official=same_keys,
    key_to_official=lambda key: key,
    paper_config=paper_config,
    lifter_kwargs=lifter_kwargs,
    yaml_keys=YAML_KEYS,
)
