"""P-STMO (`paTRICK-swk/P-STMO`): Stage-II `model/stmo.py` `Model` checkpoints.

`run.py` saves through `common/utils.py::save_model`, i.e. `torch.save(model.state_dict())` of
the `nn.DataParallel`-wrapped model: a bare state dict with `module.` keys
(`no_refine_<epoch>_<p1>.pth`), BatchNorm running statistics included, no epoch, lr or
optimizer. Name differences (the rest keeps its official name):

- `Transformer.pos_embedding` → `vte.pos_embedding`, `Transformer.model.` → `vte.`
  (vanilla transformer encoder), `Transformer_reduce.model.` → `ste.` (strided encoder)
- `fcn.` → `head.` (centre frame), `fcn_1.` → `head_vte.` (every frame)

`Model(opt)` reads `layers`, `channel`, `d_hid`, `frames`, `stride_num`, `in_channels`,
`n_joints` and `out_joints` from the argparse namespace; other entries (training options) are
ignored here, so `vars(opt)` can be passed as it is. Without `stride_num` the `common/opt.py`
table for `frames` is used. The Stage-I pre-training model (`Model_MAE`) is another model.
"""

from __future__ import annotations

from typing import Any

from liftbench.models.official.family import (
    OfficialFamily,
    StateDict,
    rename,
    rename_key,
    require,
)
from liftbench.models.pstmo import STRIDES

TO_LIFTBENCH = (
    (r"^Transformer\.pos_embedding$", "vte.pos_embedding"),
    (r"^Transformer\.model\.", "vte."),
    (r"^Transformer_reduce\.model\.", "ste."),
    (r"^fcn\.", "head."),
    (r"^fcn_1\.", "head_vte."),
)
TO_OFFICIAL = (
    (r"^vte\.pos_embedding$", "Transformer.pos_embedding"),
    (r"^vte\.", "Transformer.model."),  # after the rule above: pos_embedding is gone
    (r"^ste\.", "Transformer_reduce.model."),
    (r"^head\.", "fcn."),
    (r"^head_vte\.", "fcn_1."),
)

# `common/opt.py` defaults with the README Stage-II command (`--layers 4`; P-STMO-S `--layers
# 3`) at T = 27 (the configuration the comparison tables count; the README models use -f 243).
PAPER_CONFIG: dict[str, Any] = {
    "layers": 4, "channel": 256, "d_hid": 512, "frames": 27, "in_channels": 2,
    "n_joints": 17, "out_joints": 17,
}  # fmt: skip
VARIANTS: dict[str, dict[str, Any]] = {"pstmo": {}, "pstmo_s": {"layers": 3}}


def paper_config(name: str) -> dict[str, Any]:
    """Official `opt` entries the model reads, for a paper configuration."""
    return {**PAPER_CONFIG, **VARIANTS[name]}


def lifter_kwargs(config: dict[str, Any]) -> dict[str, Any]:
    """Official `Model(opt)` entries → liftbench `PSTMO` arguments (other entries ignored)."""
    require(config, "pstmo", in_channels=2)
    if config["n_joints"] != config["out_joints"]:
        raise ValueError(f"pstmo: n_joints ({config['n_joints']}) must equal out_joints "
                         f"({config['out_joints']})")
    frames = int(config["frames"])
    strides = config.get("stride_num")
    if strides is None:
        if frames not in STRIDES:
            raise ValueError(f"pstmo: frames={frames} has no official stride_num (known: "
                             f"{sorted(STRIDES)}); pass stride_num")
        strides = STRIDES[frames]
    return {"layers": int(config["layers"]), "channel": int(config["channel"]),
            "d_hid": int(config["d_hid"]), "n_frames": frames,
            "stride_num": [int(s) for s in strides], "num_joints": int(config["n_joints"])}


def to_liftbench(state: StateDict) -> StateDict:
    """Official names → liftbench names."""
    return rename(state, TO_LIFTBENCH)


def to_official(state: StateDict) -> StateDict:
    """Liftbench names → official names."""
    return rename(state, TO_OFFICIAL)


FAMILY = OfficialFamily(
    name="pstmo",
    repo="paTRICK-swk/P-STMO",
    lifters=tuple(VARIANTS),
    weights_keys=(),  # a bare state dict
    data_parallel=True,
    to_liftbench=to_liftbench,
    to_official=to_official,
    key_to_official=lambda key: rename_key(key, TO_OFFICIAL),
    paper_config=paper_config,
    lifter_kwargs=lifter_kwargs,
    yaml_keys=(*PAPER_CONFIG, "stride_num"),
)
