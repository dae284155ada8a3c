"""MotionAGFormer (`TaatiTeam/MotionAGFormer`): XS / S / B / L checkpoints.

`train.py` saves `{"epoch", "lr", "optimizer", "model", "min_mpjpe", "wandb_id"}` with the
`nn.DataParallel` weights under `model` (BatchNorm running statistics included). Every name
matches liftbench's `MotionAGFormer` except the representation layer: the official
`rep_logit` is `Sequential(fc=Linear, act=Tanh)`, liftbench's a bare `Linear`.
"""

from __future__ import annotations

from typing import Any

from liftbench.models.official.family import (
    OfficialFamily,
    StateDict,
    check_known,
    rename,
    rename_key,
    require,
    warn_dropout,
)

TO_LIFTBENCH = ((r"^rep_logit\.fc\.", "rep_logit."),)
TO_OFFICIAL = ((r"^rep_logit\.", "rep_logit.fc."),)

# The arguments `utils/learning.py::load_model` passes, with the values every released
# `configs/h36m/*.yaml` shares. KASportsFormer's builder passes the same set.
COMMON_CONFIG: dict[str, Any] = {
    "dim_in": 3, "dim_rep": 512, "dim_out": 3, "mlp_ratio": 4, "act_layer": "gelu",
    "attn_drop": 0.0, "drop": 0.0, "drop_path": 0.0, "use_layer_scale": True,
    "layer_scale_init_value": 1e-5, "use_adaptive_fusion": True, "num_heads": 8,
    "qkv_bias": False, "qkv_scale": None, "hierarchical": False, "num_joints": 17,
    "use_temporal_similarity": True, "temporal_connection_len": 1, "use_tcn": False,
    "graph_only": False, "neighbour_num": 2,
}  # fmt: skip
VARIANTS: dict[str, dict[str, int]] = {
    "motionagformer_xs": {"n_layers": 12, "dim_feat": 64, "n_frames": 27},
    "motionagformer_s": {"n_layers": 26, "dim_feat": 64, "n_frames": 81},
    "motionagformer_b": {"n_layers": 16, "dim_feat": 128, "n_frames": 243},
    "motionagformer_l": {"n_layers": 26, "dim_feat": 128, "n_frames": 243},
}
CONSTRUCTOR_KEYS = ("n_layers", "dim_feat", "n_frames", *COMMON_CONFIG)


def is_gelu(act_layer: Any) -> bool:
    """Whether an official `act_layer` (YAML string, source text or class) is GELU."""
    name = act_layer.__name__ if isinstance(act_layer, type) else str(act_layer)
    return name.lower().removeprefix("nn.") == "gelu"


def agformer_kwargs(config: dict[str, Any], family: str) -> dict[str, Any]:
    """Validate MotionAGFormer-style official arguments; return the shared liftbench ones."""
    check_known(config, dict.fromkeys(CONSTRUCTOR_KEYS), family)
    require(config, family, dim_in=3, dim_out=3, use_layer_scale=True, use_adaptive_fusion=True,
            qkv_scale=None, hierarchical=False, num_joints=17, use_temporal_similarity=True,
            use_tcn=False, graph_only=False)  # fmt: skip
    if not is_gelu(config["act_layer"]):
        raise ValueError(f"{family}: act_layer {config['act_layer']!r} is not supported "
                         "(liftbench: gelu)")
    warn_dropout(config, family, "attn_drop", "drop", "drop_path")
    return {
        "n_layers": config["n_layers"], "dim_feat": config["dim_feat"],
        "dim_rep": config["dim_rep"], "num_heads": config["num_heads"],
        "n_frames": config["n_frames"], "neighbour_num": config["neighbour_num"],
        "mlp_ratio": config["mlp_ratio"], "layer_scale_init": config["layer_scale_init_value"],
    }  # fmt: skip


def paper_config(name: str) -> dict[str, Any]:
    """Official constructor arguments of a MotionAGFormer variant's released config."""
    return {**VARIANTS[name], **COMMON_CONFIG}


def lifter_kwargs(config: dict[str, Any]) -> dict[str, Any]:
    """Official `MotionAGFormer(...)` arguments → liftbench `MotionAGFormer` arguments."""
    require(config, "motionagformer", qkv_bias=False)
    return agformer_kwargs(config, "motionagformer")


def to_liftbench(state: StateDict) -> StateDict:
    """Official names → liftbench names."""
    return rename(state, TO_LIFTBENCH)


def to_official(state: StateDict) -> StateDict:
    """Rename liftbench keys to official ones."""
    return rename(state, TO_OFFICIAL)


FAMILY = OfficialFamily(
    name="motionagformer",
    repo="TaatiTeam/MotionAGFormer",
    lifters=tuple(VARIANTS),
    weights_keys=("model",),
    data_parallel=True,
    to_liftbench=to_liftbench,
    to_official=to_official,
    key_to_official=lambda key: rename_key(key, TO_OFFICIAL),
    paper_config=paper_config,
    lifter_kwargs=lifter_kwargs,
    yaml_keys=CONSTRUCTOR_KEYS,
)
