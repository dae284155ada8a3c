"""STCFormer (`zhenhuat/STCFormer`): `model/stcformer.py` `Model` checkpoints.

`run_stc.py` saves through `common/utils.py::save_model`, i.e. `torch.save(model.state_dict())`
of the plain (not `DataParallel`) model: a bare state dict (`no_refine_<epoch>_<p1>.pth`), no
epoch, lr or optimizer. Name differences: `stcformer.stc_block.i.` → `blocks.i.`,
`regress_head` → `head`; everything inside a block keeps its official name.

`Model(opt)` reads `layers`, `d_hid`, `frames`, `n_joints` and `out_joints` from the argparse
namespace; other entries of that namespace (training options) are ignored here, so `vars(opt)`
can be passed as it is. `frames` does not change the model (no parameter depends on T).
"""

from __future__ import annotations

from typing import Any

from liftbench.models.official.family import OfficialFamily, StateDict, rename, rename_key

TO_LIFTBENCH = ((r"^stcformer\.stc_block\.", "blocks."), (r"^regress_head\.", "head."))
TO_OFFICIAL = ((r"^blocks\.", "stcformer.stc_block."), (r"^head\.", "regress_head."))

# `common/opt.py` defaults with the README command (`--layers 6 -f 27`); STCFormer-L is d_hid 512.
PAPER_CONFIG: dict[str, Any] = {
    "layers": 6, "d_hid": 256, "frames": 27, "n_joints": 17, "out_joints": 17,
}  # fmt: skip
VARIANTS: dict[str, dict[str, Any]] = {"stcformer": {}, "stcformer_l": {"d_hid": 512}}


def paper_config(name: str) -> dict[str, Any]:
    """Official `opt` entries the model reads, for a paper configuration."""
    return {**PAPER_CONFIG, **VARIANTS[name]}


def lifter_kwargs(config: dict[str, Any]) -> dict[str, Any]:
    """Official `Model(opt)` entries → liftbench `STCFormer` arguments (other entries ignored)."""
    if config["n_joints"] != config["out_joints"]:
        raise ValueError(f"stcformer: n_joints ({config['n_joints']}) must equal out_joints "
                         f"({config['out_joints']})")
    return {"layers": int(config["layers"]), "d_hid": int(config["d_hid"]),
            "num_joints": int(config["n_joints"])}  # fmt: skip


def to_liftbench(state: StateDict) -> StateDict:
    """Official names → liftbench names."""
    return rename(state, TO_LIFTBENCH)


def to_official(state: StateDict) -> StateDict:
    """Liftbench names → official names."""
    return rename(state, TO_OFFICIAL)


FAMILY = OfficialFamily(
    name="stcformer",
    repo="zhenhuat/STCFormer",
    lifters=tuple(VARIANTS),
    weights_keys=(),  # a bare state dict
    data_parallel=False,
    to_liftbench=to_liftbench,
    to_official=to_official,
    key_to_official=lambda key: rename_key(key, TO_OFFICIAL),
    paper_config=paper_config,
    lifter_kwargs=lifter_kwargs,
    yaml_keys=tuple(PAPER_CONFIG),
)
