"""KTPFormer (`JihuaPeng/KTPFormer`): `KTPFormer` checkpoints.

`run_ktpformer.py` saves `{"epoch", "lr", "random_state", "optimizer", "model_pos"}` (MixSTE's
layout) with the weights of the `nn.DataParallel`-wrapped model under `model_pos`, BatchNorm
running statistics included; `random_state` is a numpy `RandomState` (see `safe_load.py`).
The fixed graph matrices `adj` (skeleton) and `adj_temporal` (frame chain), the official
constructor's two positional arguments, are plain attributes and never saved: liftbench rebuilds
them as the official `graph_utils` does. liftbench's `KTPFormer` uses the official parameter names,
so the key map is the identity.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from liftbench.models.ktpformer import H36M_PARENTS, frame_chain_adjacency, prior_adjacency
from liftbench.models.official.family import (
    OfficialFamily,
    check_known,
    require,
    same_keys,
    warn_dropout,
)

# `KTPFormer(adj, adj_temporal, ...)` as run_ktpformer.py builds it (argparse defaults `-cs 512
# -dep 7`, hard-coded `num_heads=8, mlp_ratio=2., qkv_bias=True, qk_scale=None, in_chans=2`), at
# T = 27 (`-f 27`, the configuration the comparison tables count; the paper's best model uses
# `-f 243`), plus the constructor defaults the script does not pass. `adj` / `adj_temporal`:
# None means "built from the H36M skeleton / the T-frame chain" (what the script passes).
PAPER_CONFIG: dict[str, Any] = {
    "adj": None, "adj_temporal": None, "num_frame": 27, "num_joints": 17, "in_chans": 2,
    "embed_dim_ratio": 512, "depth": 7, "num_heads": 8, "mlp_ratio": 2.0, "qkv_bias": True,
    "qk_scale": None, "drop_rate": 0.0, "attn_drop_rate": 0.0, "drop_path_rate": 0.1,
    "norm_layer": None,
}  # fmt: skip


def paper_config(name: str) -> dict[str, Any]:
    """Official constructor arguments of the paper configuration (one for `ktpformer`)."""
    return dict(PAPER_CONFIG)


def _check_topology(given: Any, expected: torch.Tensor, what: str) -> None:
    """Raise unless a given official topology matrix equals the one liftbench builds."""
    if given is None:
        return
    arr = torch.as_tensor(np.asarray(given, dtype=np.float32))
    if arr.shape != expected.shape or not torch.allclose(arr, expected, atol=1e-6):
        raise ValueError(
            f"ktpformer: the given {what} {tuple(arr.shape)} is not the one liftbench builds "
            f"{tuple(expected.shape)} (H36M skeleton parents {list(H36M_PARENTS)} / frame chain, "
            "degree-normalised with unit diagonal as the official graph_utils)"
        )


def lifter_kwargs(config: dict[str, Any]) -> dict[str, Any]:
    """Official `KTPFormer(adj, adj_temporal, ...)` arguments → liftbench `KTPFormer` ones."""
    check_known(config, PAPER_CONFIG, "ktpformer")
    require(config, "ktpformer", in_chans=2, num_joints=17, qkv_bias=True, qk_scale=None,
            norm_layer=None)  # fmt: skip
    warn_dropout(config, "ktpformer", "drop_rate", "attn_drop_rate")
    _check_topology(config.get("adj"), prior_adjacency(H36M_PARENTS), "adj")
    _check_topology(config.get("adj_temporal"), frame_chain_adjacency(config["num_frame"]),
                    "adj_temporal")  # fmt: skip
    return {
        "num_frames": config["num_frame"], "dim": config["embed_dim_ratio"],
        "depth": config["depth"], "num_heads": config["num_heads"],
        "mlp_ratio": config["mlp_ratio"], "drop_path_rate": config["drop_path_rate"],
    }  # fmt: skip


FAMILY = OfficialFamily(
    name="ktpformer",
    repo="JihuaPeng/KTPFormer",
    lifters=("ktpformer",),
    weights_keys=("model_pos",),
    data_parallel=True,
    to_liftbench=same_keys,
    to_official=same_keys,
    key_to_official=lambda key: key,
    paper_config=paper_config,
    lifter_kwargs=lifter_kwargs,
    yaml_keys=tuple(k for k in PAPER_CONFIG if k not in ("adj", "adj_temporal")),
)
