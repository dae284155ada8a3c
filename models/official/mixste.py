"""MixSTE (`JinluZhang1126/MixSTE`): `MixSTE2` checkpoints.

`run.py` saves `{"epoch", "lr", "random_state", "optimizer", "model_pos"}` (`epoch_N.bin`,
`best_epoch.bin`) with the weights of the `nn.DataParallel`-wrapped `MixSTE2` under `model_pos`;
`random_state` is the data generator's `numpy.random.RandomState`, which the safe loader rebuilds
(`safe_load.py`). liftbench's `MixSTE` uses the official parameter names, so the key map is the
identity; only the constructor arguments need mapping.
"""

from __future__ import annotations

from typing import Any

from liftbench.models.official.family import (
    OfficialFamily,
    check_known,
    require,
    same_keys,
    warn_dropout,
)

# `MixSTE2(...)` as run.py builds it (its argparse defaults `-cs 512 -dep 8`, hard-coded
# `num_heads=8, mlp_ratio=2., qkv_bias=True, qk_scale=None, in_chans=2`), at T = 27 (`-f 27`, the
# configuration the comparison tables count; the paper's best model uses `-f 243`), plus the
# constructor defaults run.py does not pass. drop_path_rate 0.1 is the training model's.
PAPER_CONFIG: dict[str, Any] = {
    "num_frame": 27, "num_joints": 17, "in_chans": 2, "embed_dim_ratio": 512, "depth": 8,
    "num_heads": 8, "mlp_ratio": 2.0, "qkv_bias": True, "qk_scale": None, "drop_rate": 0.0,
    "attn_drop_rate": 0.0, "drop_path_rate": 0.1, "norm_layer": None,
}  # fmt: skip


def paper_config(name: str) -> dict[str, Any]:
    """Official constructor arguments of the paper configuration (one for `mixste`)."""
    return dict(PAPER_CONFIG)


def lifter_kwargs(config: dict[str, Any]) -> dict[str, Any]:
    """Official `MixSTE2(...)` arguments → liftbench `MixSTE` arguments."""
    check_known(config, PAPER_CONFIG, "mixste")
    require(config, "mixste", in_chans=2, qkv_bias=True, qk_scale=None, norm_layer=None)
    warn_dropout(config, "mixste", "drop_rate", "attn_drop_rate")
    return {
        "num_frames": config["num_frame"], "num_joints": config["num_joints"],
        "dim": config["embed_dim_ratio"], "depth": config["depth"],
        "num_heads": config["num_heads"], "mlp_ratio": config["mlp_ratio"],
        "drop_path_rate": config["drop_path_rate"],
    }  # fmt: skip


FAMILY = OfficialFamily(
    name="mixste",
    repo="JinluZhang1126/MixSTE",
    lifters=("mixste",),
    weights_keys=("model_pos",),
    data_parallel=True,
    to_liftbench=same_keys,
    to_official=same_keys,
    key_to_official=lambda key: key,
    paper_config=paper_config,
    lifter_kwargs=lifter_kwargs,
    yaml_keys=tuple(PAPER_CONFIG),
)
