"""HeatPose (SoloPose, Jeong et al. §4.2): the GMM volumetric target, its cross-entropy, decoding.

Per joint k the target is a Gaussian mixture on a regular voxel grid: a main Gaussian at the
joint (σ_main) plus side Gaussians at transitional points along each kinematic neighbour's bone,
the i-th one `i·c` away from the joint with `σ_i = i²·σ_main` (paper Eq. 7), as many as fit
strictly inside the bone (`N_s = D / c`, Eq. 6). Components are normalised pdfs (Eq. 8's N),
so the i-th side peaks `i⁶` times lower than the main one.

Choices (the paper's description leaves them open; each is declared here and in the README):
- one volume per joint (the paper and its commented code sum all joints into one volume, which
  cannot be decoded into identified joints);
- side components carry a weight `side_weight` < 1: with σ_1 = σ_main and unit weight the first
  side Gaussian would be exactly as high as the main one, and the peak would leave the joint;
- the CE target is the mixture normalised to sum 1 over the grid (a per-joint softmax over
  voxels), `gmm_volume(normalise="max")` is Eq. 8's heatmap with peak 1;
- `factorised` mode trains on the three axis marginals of the same mixture (exact: an isotropic
  Gaussian's marginal is the 1D Gaussian with the same σ), so memory is `3·N` logits per joint
  instead of `N³`.

Coordinates are root-relative normalised 2.5D units (README "Conventions"); the grid is
`linspace(-extent, extent, bins)` per axis (voxel centres), odd `bins` put the root on a centre.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from liftbench.geometry.skeletons import get_joint_set


@dataclass(frozen=True)
class HeatPoseGrid:
    """The voxel grid and the GMM parameters of the HeatPose target.

    Attributes:
        extent: half-width of the cube, normalised 2.5D units (root-relative).
        bins: voxel centres per axis N (the cube has N³ voxels).
        sigma: σ_main in voxels.
        spacing: c, the distance between transitional points, in units of σ_main.
        side_weight: total weight of the side Gaussians of one index i relative to the main
            one, split evenly over the joint's kinematic neighbours (< 1).
        max_side: largest i of a side Gaussian per neighbour (σ_i = i²σ_main grows fast; i > 4
            contributes < 1e-4 of the peak).
    """

    extent: float = 0.6
    bins: int = 65
    sigma: float = 1.5
    spacing: float = 3.0
    side_weight: float = 0.2
    max_side: int = 4

    def __post_init__(self) -> None:
        if not self.extent > 0:
            raise ValueError(f"extent must be > 0 (normalised units), got {self.extent}")
        if self.bins < 2:
            raise ValueError(f"bins must be >= 2, got {self.bins}")
        if not self.sigma > 0 or not self.spacing > 0:
            raise ValueError(f"sigma and spacing must be > 0, got {self.sigma}, {self.spacing}")
        if not 0 <= self.side_weight <= 1:
            raise ValueError(f"side_weight must be in [0, 1], got {self.side_weight}")
        if self.max_side < 0:
            raise ValueError(f"max_side must be >= 0, got {self.max_side}")

    @property
    def step(self) -> float:
        """Voxel size, normalised units."""
        return 2 * self.extent / (self.bins - 1)

    @property
    def sigma_units(self) -> float:
        """σ_main in normalised units."""
        return self.sigma * self.step

    def centers(self, device: torch.device | None = None,
                dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Voxel centres of one axis, `(N,)`, normalised units."""
        # symmetric about 0 by construction (linspace can miss 0 by one ulp)
        i = torch.arange(self.bins, device=device, dtype=torch.float64) - (self.bins - 1) / 2
        return (i * self.step).to(dtype)


def _neighbours(joint_set: str, num_joints: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Kinematic neighbours (parent and children) per joint, padded: `(J, A)` index and mask."""
    js = get_joint_set(joint_set)
    if js.num_joints != num_joints:
        raise ValueError(
            f"joints must have shape (..., {js.num_joints}, 3) for joint set {js.name!r}, "
            f"got J={num_joints}"
        )
    nbrs: list[list[int]] = [[] for _ in range(num_joints)]
    for parent, child in js.bones:
        nbrs[parent].append(child)
        nbrs[child].append(parent)
    width = max(len(n) for n in nbrs)
    index = torch.tensor([n + [0] * (width - len(n)) for n in nbrs])
    mask = torch.tensor([[True] * len(n) + [False] * (width - len(n)) for n in nbrs])
    return index, mask


def gmm_components(
    joints: torch.Tensor, grid: HeatPoseGrid, joint_set: str = "h36m17"
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Means, σ and weights of every joint's mixture.

    Args:
        joints: `(..., J, 3)` root-relative joint positions, normalised units.
        grid: grid and GMM parameters.
        joint_set: skeleton giving the kinematic neighbours.

    Returns:
        `mu (..., J, K, 3)`, `sigma (K,)` in normalised units and `weight (..., J, K)` (0 for
        padding and for transitional points beyond the neighbour), `K = 1 + A·max_side`.
    """
    if joints.ndim < 2 or joints.shape[-1] != 3:
        raise ValueError(f"joints must have shape (..., J, 3), got {tuple(joints.shape)}")
    index, mask = _neighbours(joint_set, joints.shape[-2])
    index, mask = index.to(joints.device), mask.to(joints.device)
    s = grid.sigma_units
    c = grid.spacing * s
    i = torch.arange(1, grid.max_side + 1, device=joints.device, dtype=joints.dtype)  # (S,)
    delta = joints[..., index, :] - joints[..., None, :]  # (..., J, A, 3) towards neighbours
    dist = torch.linalg.vector_norm(delta, dim=-1, keepdim=True)  # (..., J, A, 1)
    unit = delta / dist.clamp_min(1e-12)
    side_mu = joints[..., None, None, :] + (i * c)[:, None] * unit[..., None, :]  # (.., J,A,S,3)
    # transitional points lie strictly between the joint and its neighbour (N_s = D / c)
    inside = (i * c < dist) & mask[..., None]  # (..., J, A, S)
    # side_weight is shared by the neighbours (the thorax has 4): side Gaussians that happen to
    # cluster on one side then still weigh less than the main one, so the peak stays put
    share = grid.side_weight / mask.sum(-1).clamp_min(1).to(joints.dtype)  # (J,)
    side_w = share[:, None, None] * inside.to(joints.dtype)
    lead = joints.shape[:-1]
    mu = torch.cat([joints[..., None, :], side_mu.flatten(-3, -2)], dim=-2)
    weight = torch.cat([torch.ones(*lead, 1, dtype=joints.dtype, device=joints.device),
                        side_w.flatten(-2)], dim=-1)
    sigma = torch.cat([torch.ones(1, dtype=joints.dtype, device=joints.device),
                       (i**2).repeat(index.shape[1])]) * s
    return mu, sigma, weight


def _axis_profiles(mu: torch.Tensor, sigma: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    """1D normalised Gaussian pdfs `(..., K, 3, N)` of each component on each axis.

    Their product over the axes is the 3D isotropic pdf; each one is its axis marginal.
    """
    sig = sigma[:, None, None]
    # in place: one (..., K, 3, N) buffer instead of six (it dominated the HeatPose step)
    prof = centers - mu[..., None]
    return prof.div_(sig).square_().mul_(-0.5).exp_().mul_((2 * math.pi * sig**2) ** -0.5)


def gmm_volume(
    joints: torch.Tensor, grid: HeatPoseGrid, joint_set: str = "h36m17",
    normalise: str = "sum",
) -> torch.Tensor:  # fmt: skip
    """The HeatPose target volume of every joint (paper Eq. 8, one volume per joint).

    Memory: `(..., J, N, N, N)` floats; 65³ voxels × 17 joints are 19 MB per frame in fp32.

    Args:
        joints: `(..., J, 3)` root-relative positions, normalised units.
        grid: grid and GMM parameters.
        joint_set: skeleton giving the kinematic neighbours.
        normalise: `"sum"` (a distribution over voxels, the CE target) or `"max"` (Eq. 8's
            heatmap, peak exactly 1).

    Returns:
        `(..., J, N, N, N)` with axes (x, y, z).
    """
    if normalise not in ("sum", "max"):
        raise ValueError(f"normalise must be 'sum' or 'max', got {normalise!r}")
    mu, sigma, weight = gmm_components(joints, grid, joint_set)
    prof = _axis_profiles(mu, sigma, grid.centers(joints.device, joints.dtype))
    # isotropic Gaussians factorise over axes: the volume is a sum of K rank-1 tensors
    vol = torch.einsum("...k,...kx,...ky,...kz->...xyz", weight, prof[..., 0, :],
                       prof[..., 1, :], prof[..., 2, :])
    flat = vol.flatten(-3)
    den = flat.sum(-1) if normalise == "sum" else flat.amax(-1)
    return vol / den.clamp_min(1e-30)[..., None, None, None]


def gmm_marginals(joints: torch.Tensor, grid: HeatPoseGrid,
                  joint_set: str = "h36m17") -> torch.Tensor:  # fmt: skip
    """The three axis marginals of each joint's mixture, each summing to 1: `(..., J, 3, N)`.

    Only the components with a non-zero weight are evaluated: the padded neighbour slots and
    the transitional points beyond short bones weigh 0, and the exp of the profiles dominated a
    HeatPose training step.

    Args:
        joints: `(..., J, 3)` root-relative positions, normalised units.
        grid: grid and GMM parameters.
        joint_set: skeleton giving the kinematic neighbours.
    """
    mu, sigma, weight = gmm_components(joints, grid, joint_set)
    lead, k = weight.shape[:-1], weight.shape[-1]
    mu, weight = mu.reshape(-1, k, 3), weight.reshape(-1, k)
    owner, comp = weight.nonzero(as_tuple=True)  # (M,) each: the live components
    # one row per live component, (M, 3, N), summed into its owner's marginals below
    centers = grid.centers(joints.device, joints.dtype)
    prof = _axis_profiles(mu[owner, comp], sigma[comp], centers)
    prof.mul_(weight[owner, comp][:, None, None])
    marg = prof.new_zeros(weight.shape[0], 3, grid.bins).index_add_(0, owner, prof)
    marg = marg.view(*lead, 3, grid.bins)
    return marg / marg.sum(-1, keepdim=True).clamp_min(1e-30)


def heatpose_target(joints: torch.Tensor, grid: HeatPoseGrid, mode: str,
                    joint_set: str = "h36m17") -> torch.Tensor:  # fmt: skip
    """The CE target of a head's `mode`: `(..., J, 3, N)` factorised, `(..., J, N, N, N)` volume."""
    if mode == "factorised":
        return gmm_marginals(joints, grid, joint_set)
    if mode == "volume":
        return gmm_volume(joints, grid, joint_set, normalise="sum")
    raise ValueError(f"mode must be 'factorised' or 'volume', got {mode!r}")


def _flat_logits(logits: torch.Tensor, mode: str, bins: int) -> torch.Tensor:
    """Logits as `(..., J, D, M)` distributions (D = 3 axes of N, or one of N³)."""
    if mode == "factorised":
        if logits.shape[-2:] != (3, bins):
            raise ValueError(f"factorised logits must have shape (..., J, 3, {bins}), got "
                             f"{tuple(logits.shape)}")
        return logits
    if mode == "volume":
        if logits.shape[-3:] != (bins, bins, bins):
            raise ValueError(f"volume logits must have shape (..., J, {bins}, {bins}, {bins}), "
                             f"got {tuple(logits.shape)}")
        return logits.flatten(-3)[..., None, :]
    raise ValueError(f"mode must be 'factorised' or 'volume', got {mode!r}")


def heatpose_ce(
    logits: torch.Tensor, target: torch.Tensor, mode: str, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Cross-entropy `−Σ_x p(x) log softmax(z)(x)` per joint, mean over valid joints.

    In `factorised` mode the three axis CEs are summed (the CE of the product distribution
    against the product of the target marginals).

    Args:
        logits: `(B, T, J, 3, N)` (factorised) or `(B, T, J, N, N, N)` (volume).
        target: same shape, each distribution summing to 1 (`heatpose_target`).
        mode: `"factorised"` or `"volume"`.
        mask: optional boolean `(B, T, J)` of valid joints.

    Returns:
        0-dim loss in nats.
    """
    if logits.shape != target.shape:
        raise ValueError(f"logits and target must have the same shape, got "
                         f"{tuple(logits.shape)} and {tuple(target.shape)}")
    bins = logits.shape[-1]
    z = _flat_logits(logits, mode, bins)
    p = _flat_logits(target, mode, bins)
    ce = -(p * torch.log_softmax(z.float(), dim=-1)).sum(-1).sum(-1)  # (B, T, J)
    if mask is None:
        return ce.mean()
    if mask.shape != ce.shape:
        raise ValueError(f"mask must have shape {tuple(ce.shape)} (B, T, J), got "
                         f"{tuple(mask.shape)}")
    m = mask.to(ce.dtype)
    return (ce * m).sum() / m.sum().clamp_min(1.0)


def _decode_1d(z: torch.Tensor, centers: torch.Tensor, method: str,
               window: int | None) -> torch.Tensor:  # fmt: skip
    """Decode distributions over the last axis of `z` `(..., N)` to coordinates `(...)`."""
    idx = z.argmax(-1)
    if method == "argmax":
        return centers[idx]
    if window is not None:
        # soft-argmax inside a window around the mode: the side Gaussians would otherwise pull
        # the expectation towards the neighbouring joints
        pos = torch.arange(z.shape[-1], device=z.device)
        z = z.masked_fill((pos - idx[..., None]).abs() > window, float("-inf"))
    return (torch.softmax(z.float(), dim=-1) * centers).sum(-1)


def decode_heatpose(
    logits: torch.Tensor, grid: HeatPoseGrid, mode: str, method: str = "soft_argmax",
    window: int | None = 3,
) -> torch.Tensor:  # fmt: skip
    """Coordinates from HeatPose logits.

    Args:
        logits: `(..., J, 3, N)` (factorised) or `(..., J, N, N, N)` (volume); log-probabilities
            of a target decode like logits.
        grid: the grid the logits live on.
        mode: `"factorised"` or `"volume"`.
        method: `"argmax"` (voxel centre, error ≤ step/2 per axis) or `"soft_argmax"`
            (expectation, sub-voxel; differentiable).
        window: soft-argmax only over voxels within `window` of the argmax per axis (None: the
            whole grid).

    Returns:
        `(..., J, 3)` normalised units.
    """
    if method not in ("argmax", "soft_argmax"):
        raise ValueError(f"method must be 'argmax' or 'soft_argmax', got {method!r}")
    if window is not None and window < 0:
        raise ValueError(f"window must be >= 0 or None, got {window}")
    n = grid.bins
    _flat_logits(logits, mode, n)  # shape check
    centers = grid.centers(logits.device, torch.float32)
    if mode == "factorised":
        return _decode_1d(logits, centers, method, window)
    flat = logits.flatten(-3)
    idx = flat.argmax(-1)
    ijk = torch.stack([idx // (n * n), (idx // n) % n, idx % n], dim=-1)  # (..., J, 3)
    if method == "argmax":
        return centers[ijk]
    if window is not None:
        pos = torch.arange(n, device=logits.device)
        far = (pos - ijk[..., None]).abs() > window  # (..., J, 3, N) per axis
        outside = far[..., 0, :, None, None] | far[..., 1, None, :, None] | far[..., 2, None,
                                                                               None, :]
        logits = logits.masked_fill(outside, float("-inf"))
    prob = torch.softmax(logits.float().flatten(-3), dim=-1).view(logits.shape)
    return torch.stack([
        (prob.sum((-2, -1)) * centers).sum(-1),
        (prob.sum((-3, -1)) * centers).sum(-1),
        (prob.sum((-3, -2)) * centers).sum(-1),
    ], dim=-1)  # fmt: skip
