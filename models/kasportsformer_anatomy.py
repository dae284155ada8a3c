"""KASportsFormer anatomy inputs: BoneExt (bone tokens) and LimbFus (per-limb channel MLPs).

Both map an H36M-17 pose sequence `(B, T, 17, 3)` to 17 three-channel tokens per frame
(the official KASportsFormer code; Yin et al. §3.2).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# The 16 H36M-17 bones as (proximal, distal) joint pairs, in the official order (child 1..16).
BONE_PROXIMAL: tuple[int, ...] = (0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
BONE_DISTAL: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16)

# The 17 limb groups of LimbFus, as the official index lists: 6 anatomical limbs (legs, spine,
# neck/head, arms) and 11 "hyper-limbs" (spine + limb, both hands, both feet, crossed arm/leg,
# shoulder + hip). Group 14 is [11, 12, 4, 5] in the code although its comment reads 11-12 + 1-2.
LIMB_GROUPS: tuple[tuple[int, ...], ...] = (
    (0, 1, 2), (3, 4, 5), (6, 7), (8, 9), (10, 11, 12), (13, 14, 15),
    (6, 7, 1, 2), (6, 7, 4, 5), (6, 7, 11, 12), (6, 7, 14, 15), (6, 7, 9),
    (14, 15, 11, 12), (1, 2, 4, 5),
    (14, 15, 4, 5), (11, 12, 4, 5),
    (10, 0), (13, 3),
)  # fmt: skip


def bone_tokens(x: torch.Tensor) -> torch.Tensor:
    """BoneExt: per-frame bone directions and lengths plus the averaged "ultra-bone".

    Only x, y are used (confidence is dropped). As in the official code the bone vector points
    from the distal joint towards the proximal one (`x[proximal] - x[distal]`); a zero length is
    replaced by 1 so that coincident joints give a zero direction instead of NaN.

    Args:
        x: `(B, T, 17, C≥2)` poses in normalised image units.

    Returns:
        `(B, T, 17, 3)` tokens `[dir_x, dir_y, length]`: 16 bones, then token 17 = the mean over
        the bones of the unit directions and of the lengths.
    """
    xy = x[..., :2]
    vec = xy[..., BONE_PROXIMAL, :] - xy[..., BONE_DISTAL, :]
    length = torch.linalg.vector_norm(vec, dim=-1, keepdim=True)
    length = torch.where(length == 0, torch.ones_like(length), length)
    bones = torch.cat((vec / length, length), dim=-1)
    return torch.cat((bones, bones.mean(dim=-2, keepdim=True)), dim=-2)


class LimbFusion(nn.Module):
    """LimbFus: one dimension-wise MLP per limb group and channel, batched over groups.

    Group g and channel c map the `|g|` member values `x[..., g, c]` through
    `Linear(|g|→hidden) → GELU → Linear(hidden→1)`, giving one 3-channel token per group. The
    17 × 3 small MLPs run as a few einsums over a limb axis (no Python loop). The first-layer
    weights are stored flat over the 55 (group, member) slots so the parameter count equals the
    official per-limb `nn.Linear`s exactly (4,323 for hidden = 16).

    Args:
        groups: member index lists, one per output token (default `LIMB_GROUPS`).
        hidden: hidden width of each MLP (paper: 16).
        channels: input channels per token (3).
    """

    def __init__(
        self,
        groups: tuple[tuple[int, ...], ...] = LIMB_GROUPS,
        hidden: int = 16,
        channels: int = 3,
    ) -> None:
        super().__init__()
        if hidden < 1:
            raise ValueError(f"LimbFusion: hidden must be >= 1, got {hidden}")
        if not groups or any(len(g) == 0 for g in groups):
            raise ValueError("LimbFusion: groups must be a non-empty list of non-empty index lists")
        self.groups = tuple(tuple(int(i) for i in g) for g in groups)
        self.num_inputs = max(max(g) for g in self.groups) + 1
        members = [i for g in self.groups for i in g]
        owner = [gi for gi, g in enumerate(self.groups) for _ in g]
        membership = torch.zeros(len(self.groups), len(members))
        membership[owner, torch.arange(len(members))] = 1.0
        self.register_buffer("member_index", torch.tensor(members), persistent=False)
        self.register_buffer("membership", membership, persistent=False)
        n_groups, n_members = len(self.groups), len(members)
        self.weight1 = nn.Parameter(torch.empty(n_members, channels, hidden))
        self.bias1 = nn.Parameter(torch.empty(n_groups, channels, hidden))
        self.weight2 = nn.Parameter(torch.empty(n_groups, channels, hidden))
        self.bias2 = nn.Parameter(torch.empty(n_groups, channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """`nn.Linear`'s default init: U(±1/√fan_in), fan_in = |g| (layer 1) or hidden (layer 2)."""
        group_bound = [1.0 / math.sqrt(len(g)) for g in self.groups]
        member_bound = [group_bound[gi] for gi, g in enumerate(self.groups) for _ in g]
        with torch.no_grad():
            w1_bound = self.weight1.new_tensor(member_bound)[:, None, None]
            self.weight1.uniform_(-1.0, 1.0).mul_(w1_bound)
            self.bias1.uniform_(-1.0, 1.0).mul_(self.bias1.new_tensor(group_bound)[:, None, None])
            bound2 = 1.0 / math.sqrt(self.weight2.shape[-1])
            self.weight2.uniform_(-bound2, bound2)
            self.bias2.uniform_(-bound2, bound2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Fuse member tokens into limb tokens.

        Args:
            x: `(B, T, N, 3)` input tokens, N > every member index (joints or bone tokens).

        Returns:
            `(B, T, G, 3)` limb tokens, G = number of groups (17).
        """
        if x.shape[-2] < self.num_inputs or x.shape[-1] != self.weight1.shape[1]:
            raise ValueError(
                f"LimbFusion: x must have shape (..., >={self.num_inputs}, "
                f"{self.weight1.shape[1]}), got {tuple(x.shape)}"
            )
        members = x[..., self.member_index, :]  # (B, T, M, 3)
        hidden = members.unsqueeze(-1) * self.weight1  # (B, T, M, 3, H)
        hidden = torch.einsum("gm,btmch->btgch", self.membership.to(x.dtype), hidden)
        hidden = F.gelu(hidden + self.bias1)
        return torch.einsum("btgch,gch->btgc", hidden, self.weight2) + self.bias2
