"""KASportsFormer (Yin et al., MMSports@MM'25): kinematic-anatomy enhanced transformer.

Three token streams per frame: joints (raw x, y, confidence), bones (BoneExt) and limbs (LimbFus),
each embedded by `Linear(3→C)` plus a zero-initialised joint-position parameter. Each of the N
layers runs three parallel branches, spatial then temporal: MHSA, GCN (kNN frame graph) and the
anatomy mixer (multi-head cross-attention: stream queries, limb keys/values), blended per token
by a softmax gate. Head: `LN → Linear(C→512) + Tanh → Linear(512→3)`.

Architecture facts follow the official KASportsFormer code; the paper config
(26 layers, C = 128, 8 heads, T = 27) has exactly 29,365,668 parameters.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from liftbench.models.base import Lifter
from liftbench.models.kasportsformer_anatomy import (
    BONE_DISTAL,
    BONE_PROXIMAL,
    LimbFusion,
    bone_tokens,
)
from liftbench.models.kasportsformer_block import FormerBlock
from liftbench.models.kasportsformer_mixers import GraphMixer, TokenAttention
from liftbench.models.registry import register_lifter

NUM_JOINTS = 17


def skeleton_adjacency() -> torch.Tensor:
    """Symmetric `(17, 17)` 0/1 adjacency of the H36M-17 bones, no self-loops (32 entries).

    KASportsFormer's graph is symmetric (MotionAGFormer's lacks 0←4, 8←11 and 8←14).
    """
    adj = torch.zeros(NUM_JOINTS, NUM_JOINTS)
    adj[BONE_PROXIMAL, BONE_DISTAL] = 1.0
    adj[BONE_DISTAL, BONE_PROXIMAL] = 1.0
    return adj


class AnatomyLayer(nn.Module):
    """One KASportsFormer layer: attention, graph and anatomy branches, then adaptive blending.

    Args:
        dim: channels C.
        num_heads: attention heads (MHSA and MHCA).
        n_frames: frame count the temporal GCN's BatchNorm is built for.
        neighbours: k of the temporal kNN graph.
        mlp_ratio: MLP width / C in every block.
        layer_scale_init: initial layer-scale value.
        qkv_bias: bias on the attention projections.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        n_frames: int,
        neighbours: int,
        mlp_ratio: float = 4.0,
        layer_scale_init: float = 1e-5,
        qkv_bias: bool = False,
    ) -> None:
        super().__init__()

        def block(mixer: nn.Module) -> FormerBlock:
            return FormerBlock(dim, mixer, mlp_ratio, layer_scale_init)

        adj = skeleton_adjacency()
        self.att_spatial = block(TokenAttention(dim, num_heads, "spatial", qkv_bias=qkv_bias))
        self.att_temporal = block(TokenAttention(dim, num_heads, "temporal", qkv_bias=qkv_bias))
        self.graph_spatial = block(GraphMixer(dim, "spatial", NUM_JOINTS, adjacency=adj))
        self.graph_temporal = block(GraphMixer(dim, "temporal", n_frames, neighbours=neighbours))
        self.bone_spatial = block(TokenAttention(dim, num_heads, "spatial", True, qkv_bias))
        self.bone_temporal = block(TokenAttention(dim, num_heads, "temporal", True, qkv_bias))
        self.fusion = nn.Linear(3 * dim, 3)
        nn.init.zeros_(self.fusion.weight)
        nn.init.constant_(self.fusion.bias, 1.0 / 3.0)

    def forward(
        self, x: torch.Tensor, limbs: torch.Tensor, query: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Run the three branches and blend them.

        Args:
            x: `(B, T, J, C)` joint stream (the fused stream after layer 0).
            limbs: `(B, T, J, C)` limb embedding, the fixed keys/values of the anatomy mixer.
            query: `(B, T, J, C)` anatomy-branch query stream; None → `x` (layer 0 passes the
                bone embedding here).

        Returns:
            `(B, T, J, C)` blended stream.
        """
        x_attn = self.att_temporal(self.att_spatial(x))
        x_graph = self.graph_temporal(self.graph_spatial(x))
        q = x if query is None else query
        x_bone = self.bone_temporal(self.bone_spatial(q, limbs), limbs)
        # Linear(3C→3) on cat[attn, graph, bone], applied as three slices of one weight so the
        # (B, T, J, 3C) concatenation is never materialised (same maths, less memory).
        w = self.fusion.weight.chunk(3, dim=1)
        logits = F.linear(x_attn, w[0], self.fusion.bias) + F.linear(x_graph, w[1])
        alpha = (logits + F.linear(x_bone, w[2])).softmax(dim=-1)
        return x_attn * alpha[..., 0:1] + x_graph * alpha[..., 1:2] + x_bone * alpha[..., 2:3]


class KASportsFormer(Lifter):
    """KASportsFormer lifter: `(B, T≤n_frames, 17, 3)` 2D + confidence → `(B, T, 17, 3)` 2.5D.

    Input channels are x, y normalised by image width and the detector confidence (the joint
    stream and, by default, LimbFus read all three; BoneExt uses x, y only). Output is the
    root-relative 2.5D pose in the same normalised units.

    Args:
        n_layers: number of layers N (paper 26).
        dim_feat: channels C (paper 128).
        dim_rep: width of the Tanh representation returned by `forward_features` (512).
        num_heads: attention heads h (paper 8).
        mlp_ratio: MLP width / C (4).
        n_frames: frame count T the model is built for (27); shorter clips are accepted.
        neighbour_num: k of the temporal kNN graph. Default 4 as in the released configs (the
            paper text says K = 2; pass 2 for that reading).
        limb_hidden: hidden width of each LimbFus MLP (paper 16).
        limb_input: `"joints"` (official code: LimbFus reads the raw joints x, y, confidence, so
            its index lists pick joints 0..15) or `"bones"` (the paper's reading: the BoneExt
            tokens).
        layer_scale_init: initial layer-scale value (1e-5).
        qkv_bias: bias on the q/k/v projections (False).
    """

    uses_confidence = True
    joint_set = "h36m17"
    num_joints = NUM_JOINTS

    def __init__(
        self,
        n_layers: int = 26,
        dim_feat: int = 128,
        dim_rep: int = 512,
        num_heads: int = 8,
        mlp_ratio: float = 4.0,
        n_frames: int = 27,
        neighbour_num: int = 4,
        limb_hidden: int = 16,
        limb_input: str = "joints",
        layer_scale_init: float = 1e-5,
        qkv_bias: bool = False,
    ) -> None:
        super().__init__()
        if n_layers < 1 or n_frames < 1 or dim_feat < 1 or dim_rep < 1:
            raise ValueError(
                "n_layers, n_frames, dim_feat and dim_rep must be >= 1, got "
                f"{n_layers}, {n_frames}, {dim_feat}, {dim_rep}"
            )
        if limb_input not in ("joints", "bones"):
            raise ValueError(f"limb_input must be 'joints' or 'bones', got {limb_input!r}")
        self.max_frames = n_frames
        self.feature_dim = dim_rep
        self.limb_input = limb_input
        c = dim_feat
        self.joints_embed = nn.Linear(3, c)
        self.bone_embed = nn.Linear(3, c)
        self.limb_embed = nn.Linear(3, c)
        self.pos_embed = nn.Parameter(torch.zeros(1, NUM_JOINTS, c))
        self.bone_pos_embed = nn.Parameter(torch.zeros(1, NUM_JOINTS, c))
        self.limb_pos_embed = nn.Parameter(torch.zeros(1, NUM_JOINTS, c))
        self.limb_fusion = LimbFusion(hidden=limb_hidden)
        self.layers = nn.ModuleList(
            AnatomyLayer(c, num_heads, n_frames, neighbour_num, mlp_ratio, layer_scale_init,
                         qkv_bias)
            for _ in range(n_layers)
        )  # fmt: skip
        self.norm = nn.LayerNorm(c)
        self.rep = nn.Linear(c, dim_rep)
        self.head = nn.Linear(dim_rep, 3)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The Tanh motion representation `(B, T, 17, dim_rep)` from `x` `(B, T, 17, 3)`."""
        self.check_input(x)
        bones = bone_tokens(x)
        limbs = self.limb_fusion(x if self.limb_input == "joints" else bones)
        h = self.joints_embed(x) + self.pos_embed
        h_bone = self.bone_embed(bones) + self.bone_pos_embed
        h_limb = self.limb_embed(limbs) + self.limb_pos_embed
        for i, layer in enumerate(self.layers):
            # Layer 0's anatomy branch queries with the bone embedding, later ones with the
            # fused stream; the limb embedding is never updated (official code).
            h = layer(h, h_limb, query=h_bone if i == 0 else None)
        return torch.tanh(self.rep(self.norm(h)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Lift `(B, T, 17, 3)` to root-relative 2.5D `(B, T, 17, 3)`."""
        return self.head(self.forward_features(x))


@register_lifter(
    paper="Yin et al., KASportsFormer, MMSports@MM 2025",
    tiny={"n_layers": 2, "dim_feat": 32, "dim_rep": 64, "num_heads": 4},
    paper_params=29_365_668,
)
def kasportsformer(**overrides: object) -> KASportsFormer:
    """KASportsFormer paper config: 26 layers, C = 128, 8 heads, T = 27 (29,365,668 params)."""
    return KASportsFormer(**overrides)  # type: ignore[arg-type]
