"""KASportsFormer (`jw0r1n/KASportsFormer`) checkpoints.

`train_and_evaluate_sp.py` saves `{"epoch", "learning_rate", "optimizer", "model", "min_mpjpe",
"wandb_id"}` with the `nn.DataParallel` weights under `model`. Name differences:

- `layers_with_bone.i.` → `layers.i.`
- `*.mixer.qkv_q` / `*.mixer.qkv_kv` (cross-attention) → `*.mixer.q` / `*.mixer.kv`
- `layers_with_bone.i.fusion_three_channel` → `layers.i.fusion`
- `rep_logit.fc` → `rep`
- `bone_refusion.mlp_layers.g.{mlp_dir_x,mlp_dir_y,mlp_len}.fc{1,2}` (17 × 3 MLPs) →
  `limb_fusion.{weight1,bias1,weight2,bias2}`

The 17 × 3 per-channel limb MLPs (`Linear(|g|→H) → GELU → Linear(H→1)` for channel c = x, y,
confidence of group g, named after the bone features the code's comments describe) are packed
into liftbench's batched tensors: `weight1[m, c, :] = fc1_{g,c}.weight[:, p]` for member p of
group g at flat slot m; `bias1[g, c] = fc1.bias`; `weight2[g, c] = fc2.weight[0]`;
`bias2[g, c] = fc2.bias[0]`. The never-used `norm1_limb` LayerNorms are kept on both sides.
"""

from __future__ import annotations

from typing import Any

import torch

from liftbench.models.kasportsformer_anatomy import LIMB_GROUPS
from liftbench.models.official.family import OfficialFamily, StateDict, rename, rename_key
from liftbench.models.official.motionagformer import COMMON_CONFIG, agformer_kwargs

TO_LIFTBENCH = (
    (r"^layers_with_bone\.", "layers."),
    (r"\.mixer\.qkv_q\.", ".mixer.q."),
    (r"\.mixer\.qkv_kv\.", ".mixer.kv."),
    (r"^(layers\.\d+)\.fusion_three_channel\.", r"\1.fusion."),
    (r"^rep_logit\.fc\.", "rep."),
)
TO_OFFICIAL = (
    (r"^layers\.", "layers_with_bone."),
    (r"\.mixer\.q\.", ".mixer.qkv_q."),
    (r"\.mixer\.kv\.", ".mixer.qkv_kv."),
    (r"^(layers_with_bone\.\d+)\.fusion\.", r"\1.fusion_three_channel."),
    (r"^rep\.", "rep_logit.fc."),
)
CHANNELS = ("mlp_dir_x", "mlp_dir_y", "mlp_len")
OFFICIAL_LIMB = "bone_refusion.mlp_layers"
LIFTBENCH_LIMB = "limb_fusion"
_PACKED = ("weight1", "bias1", "weight2", "bias2")

# `configs/*.yaml` model section (identical in all four).
PAPER_CONFIG: dict[str, Any] = {
    "n_layers": 26, "dim_feat": 128, "n_frames": 27, **COMMON_CONFIG, "neighbour_num": 4,
}  # fmt: skip


def _limb_key(g: int, c: int, layer: str, param: str) -> str:
    return f"{OFFICIAL_LIMB}.{g}.{CHANNELS[c]}.{layer}.{param}"


def _official_limb_keys() -> list[str]:
    return [_limb_key(g, c, layer, p) for g in range(len(LIMB_GROUPS)) for c in range(3)
            for layer in ("fc1", "fc2") for p in ("weight", "bias")]  # fmt: skip


def pack_limbs(state: StateDict) -> StateDict:
    """Official per-(group, channel) limb MLP tensors → liftbench's four packed tensors.

    Args:
        state: official-named tensors holding every `bone_refusion.mlp_layers.*` entry
            (`fc1.weight (H, |g|)`, `fc1.bias (H,)`, `fc2.weight (1, H)`, `fc2.bias (1,)`).

    Returns:
        `{"limb_fusion.weight1": (M=55, 3, H), "limb_fusion.bias1": (17, 3, H),
        "limb_fusion.weight2": (17, 3, H), "limb_fusion.bias2": (17, 3)}`.
    """
    w1, b1, w2, b2 = [], [], [], []
    for g, group in enumerate(LIMB_GROUPS):
        fc1_w = [state[_limb_key(g, c, "fc1", "weight")] for c in range(3)]  # 3 × (H, |g|)
        if any(w.shape[1] != len(group) for w in fc1_w):
            raise ValueError(f"kasportsformer: limb group {g} has {len(group)} members, the "
                             f"checkpoint's fc1 weights {[tuple(w.shape) for w in fc1_w]}")
        w1.append(torch.stack(fc1_w, 0).permute(2, 0, 1))  # (|g|, 3, H)
        b1.append(torch.stack([state[_limb_key(g, c, "fc1", "bias")] for c in range(3)]))
        w2.append(torch.stack([state[_limb_key(g, c, "fc2", "weight")][0] for c in range(3)]))
        b2.append(torch.cat([state[_limb_key(g, c, "fc2", "bias")] for c in range(3)]))
    packed = (torch.cat(w1), torch.stack(b1), torch.stack(w2), torch.stack(b2))
    return {f"{LIFTBENCH_LIMB}.{n}": t.contiguous() for n, t in zip(_PACKED, packed, strict=True)}


def unpack_limbs(state: StateDict) -> StateDict:
    """Packed liftbench limb tensors → the official 17 × 3 × 4 tensors (inverse of `pack`)."""
    w1, b1, w2, b2 = (state[f"{LIFTBENCH_LIMB}.{n}"] for n in _PACKED)
    out: StateDict = {}
    start = 0
    for g, group in enumerate(LIMB_GROUPS):
        members = w1[start : start + len(group)]  # (|g|, 3, H)
        start += len(group)
        for c in range(3):
            out[_limb_key(g, c, "fc1", "weight")] = members[:, c, :].t().contiguous()
            out[_limb_key(g, c, "fc1", "bias")] = b1[g, c].clone()
            out[_limb_key(g, c, "fc2", "weight")] = w2[g, c][None].clone()
            out[_limb_key(g, c, "fc2", "bias")] = b2[g, c][None].clone()
    return out


def to_liftbench(state: StateDict) -> StateDict:
    """Official names → liftbench names.

    The limb MLPs are packed when all of them are present; otherwise they stay as they are, so
    a strict load lists them.
    """
    limb = set(_official_limb_keys())
    out = rename({k: v for k, v in state.items() if k not in limb}, TO_LIFTBENCH)
    if limb <= set(state):
        out.update(pack_limbs(state))
    else:
        out.update({k: v for k, v in state.items() if k in limb})
    return out


def to_official(state: StateDict) -> StateDict:
    """Rename liftbench keys to official ones (limb tensors unpacked)."""
    packed = {f"{LIFTBENCH_LIMB}.{n}" for n in _PACKED}
    out = rename({k: v for k, v in state.items() if k not in packed}, TO_OFFICIAL)
    if packed <= set(state):
        out.update(unpack_limbs(state))
    return out


def key_to_official(key: str) -> str:
    """One liftbench key's official name (`limb_fusion.*` → the MLPs it packs)."""
    if key.startswith(f"{LIFTBENCH_LIMB}."):
        return f"{OFFICIAL_LIMB}.*"
    return rename_key(key, TO_OFFICIAL)


def paper_config(name: str) -> dict[str, Any]:
    """Official constructor arguments of the released configs (K = 4 neighbours)."""
    return dict(PAPER_CONFIG)


def lifter_kwargs(config: dict[str, Any]) -> dict[str, Any]:
    """Official `KASportsFormer(...)` arguments → liftbench `KASportsFormer` arguments."""
    return {**agformer_kwargs(config, "kasportsformer"), "qkv_bias": config["qkv_bias"]}


FAMILY = OfficialFamily(
    name="kasportsformer",
    repo="jw0r1n/KASportsFormer",
    lifters=("kasportsformer",),
    weights_keys=("model",),
    data_parallel=True,
    to_liftbench=to_liftbench,
    to_official=to_official,
    key_to_official=key_to_official,
    paper_config=paper_config,
    lifter_kwargs=lifter_kwargs,
    yaml_keys=tuple(PAPER_CONFIG),
)
