"""D3DP (Shan et al., ICCV 2023): diffusion-based lifting with multi-hypothesis aggregation.

A MixSTE denoiser (`models/mixste.py`'s `MixSTECore`, in-channels 2D + noisy 3D = 5, plus a
sinusoidal time embedding added once at the input) predicts the clean pose x0 from the 2D input,
a noisy 3D pose x_t and the timestep t. Training noises the target at a random timestep
(`training_forward`, loss MPJPE(x0_pred, x0)); inference runs DDIM from noise with H hypotheses
and K steps (`sample`, `(B, K, H, T, J, 3)`), which the evaluation aggregates (P-Agg, J-Agg;
J-Best / P-Best are oracles). Facts and equations from the official D3DP code
(`common/diffusionpose.py`, `common/mixste.py`, see `models/diffusion.py`); parameter and buffer
names follow it, so the paper configuration (C = 512, depth 8) has exactly 34,724,867 parameters
at T = 27 (34,835,459 at T = 243) plus the 12 float64 schedule buffers of the official state dict.

`forward(x)` is the lifter contract: the P-Agg mean of the last iteration's H hypotheses, sampled
with the same seeded draws for every clip (`sample_seed`), so a clip always gives the same output.

Deviations from the official code:
- Input is liftbench's `(B, T, 17, 3)`; the confidence channel is dropped (the official denoiser
  takes x, y only), so official weights give the official numbers.
- Any T ≤ n_frames is accepted (first T rows of the temporal embedding); official: T == n_frames.
- The official non-flip sampler does not run (a missing attribute, then a dtype error); here
  `flip_average=False` works. The official one always flip-averages (the default here too).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from liftbench.geometry.skeletons import flip_keypoints
from liftbench.models.base import Lifter
from liftbench.models.diffusion import (
    clip_noise,
    ddim_sample,
    draw_training_noise,
    noise_target,
    schedule_buffers,
)
from liftbench.models.mixste import MixSTECore
from liftbench.models.registry import register_lifter

_PAPER = "Shan et al., D3DP: Diffusion-based 3D pose estimation with multi-hypothesis aggregation, ICCV 2023"  # noqa: E501


class SinusoidalTimeEmbedding(nn.Module):
    """Integer timesteps `(B,)` → `(B, C)`: `cat(sin(t·f), cos(t·f))`, `f_i = 10000^(−i/(C/2−1))`.

    Args:
        dim: C (even).
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        if dim < 4 or dim % 2:
            raise ValueError(f"time embedding dim must be even and >= 4, got {dim}")
        self.dim = dim

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        """`(B,)` timesteps (int64) → `(B, dim)` float32."""
        half = self.dim // 2
        freq = torch.exp(torch.arange(half, device=t.device) * -(math.log(10000) / (half - 1)))
        emb = t[:, None] * freq[None, :]
        return torch.cat((emb.sin(), emb.cos()), dim=-1)


class D3DPDenoiser(MixSTECore):
    """The D3DP denoiser (`MixSTE2` of the official D3DP code): (2D, x_t, t) → x0.

    Args:
        num_frames: T of the temporal positional embedding.
        num_joints: J.
        dim: channels C.
        depth: spatial/temporal block pairs.
        num_heads: attention heads.
        mlp_ratio: MLP hidden width / C.
        drop_path_rate: stochastic depth (0.1 for the official training model).
    """

    def __init__(self, num_frames: int = 243, num_joints: int = 17, dim: int = 512,
                 depth: int = 8, num_heads: int = 8, mlp_ratio: float = 2.0,
                 drop_path_rate: float = 0.1) -> None:  # fmt: skip
        super().__init__(5, num_frames, num_joints, dim, depth, num_heads, mlp_ratio,
                         drop_path_rate)  # fmt: skip
        self.time_mlp = nn.Sequential(
            SinusoidalTimeEmbedding(dim), nn.Linear(dim, dim * 2), nn.GELU(),
            nn.Linear(dim * 2, dim),
        )
        # the official module order (time_mlp right after the patch embedding), so state-dict
        # and parameter order (an official optimizer state's indices) are the official ones
        order = ["Spatial_patch_to_embedding", "time_mlp"]
        self._modules = {
            **{k: self._modules[k] for k in order},
            **{k: v for k, v in self._modules.items() if k not in order},
        }

    def forward(self, x2d: torch.Tensor, x3d: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Predict x0.

        Args:
            x2d: `(B, T, J, 2)` 2D input.
            x3d: noisy poses `(B, T, J, 3)`, or `(B, H, T, J, 3)` for H hypotheses per clip.
            t: `(B,)` int64 timesteps (shared by the hypotheses of a clip).

        Returns:
            x0 predictions of the shape of `x3d`.
        """
        if x3d.ndim == 5:
            # repeat per hypothesis without the int B, so an exported graph keeps B dynamic
            h = x3d.shape[1]
            x2d = x2d.repeat_interleave(h, dim=0)
            t = t.repeat_interleave(h)
            return self.forward(x2d, x3d.flatten(0, 1), t).unflatten(0, (-1, h))
        x = self.embed(torch.cat((x2d, x3d), dim=-1))
        x = x + self.time_mlp(t)[:, None, None, :]
        return self.regress(self.encode(x))


class D3DP(Lifter):
    """D3DP lifter: `(B, T ≤ n_frames, 17, 3)` 2D + confidence → `(B, T, 17, 3)` (P-Agg).

    Args:
        n_frames: T the denoiser is built for (243 in the paper; 27 in the comparison tables).
        num_joints: J.
        dim: denoiser channels C (`-cs`, 512).
        depth: denoiser block pairs (`-dep`, 8).
        num_heads: attention heads (8).
        mlp_ratio: MLP ratio (2).
        drop_path_rate: stochastic depth in training (0.1).
        timesteps: diffusion steps of the schedule (1000).
        scale: the official `scale` (targets are multiplied by it before noising; 1.0).
        num_hypotheses: H used by `forward` (official README evaluation: 5).
        sampling_steps: K used by `forward` (official README evaluation: 5).
        sample_seed: seed of the noise `forward` draws (fixed, so `forward` is deterministic).
    """

    uses_confidence = False
    default_regime = "diffusion"  # trained by denoising, evaluated by sampling

    def __init__(self, n_frames: int = 243, num_joints: int = 17, dim: int = 512, depth: int = 8,
                 num_heads: int = 8, mlp_ratio: float = 2.0, drop_path_rate: float = 0.1,
                 timesteps: int = 1000, scale: float = 1.0, num_hypotheses: int = 5,
                 sampling_steps: int = 5, sample_seed: int = 0) -> None:  # fmt: skip
        super().__init__()
        if int(num_hypotheses) < 1:
            raise ValueError(f"num_hypotheses must be >= 1, got {num_hypotheses}")
        if not 1 <= int(sampling_steps) <= int(timesteps):
            raise ValueError(f"sampling_steps must lie in [1, timesteps={timesteps}], got "
                             f"{sampling_steps}")
        if not scale > 0:
            raise ValueError(f"scale must be > 0, got {scale}")
        self.num_joints, self.max_frames, self.feature_dim = num_joints, n_frames, None
        self.timesteps, self.scale = int(timesteps), float(scale)
        self.num_hypotheses, self.sampling_steps = int(num_hypotheses), int(sampling_steps)
        self.sample_seed = int(sample_seed)
        # the official model holds the schedule as persistent float64 buffers (its state dict
        # has them, so a strict load needs them)
        for name, value in schedule_buffers(self.timesteps).items():
            self.register_buffer(name, value)
        self.pose_estimator = D3DPDenoiser(n_frames, num_joints, dim, depth, num_heads,
                                           mlp_ratio, drop_path_rate)  # fmt: skip
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.pose_estimator.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def flip(self, x: torch.Tensor) -> torch.Tensor:
        """Mirror `(…, J, C)` keypoints: x negated, left/right joints swapped."""
        return flip_keypoints(x, "h36m17")

    def training_forward(self, x: torch.Tensor, target: torch.Tensor,
                         t: torch.Tensor | None = None, noise: torch.Tensor | None = None,
                         generator: torch.Generator | None = None) -> torch.Tensor:  # fmt: skip
        """The training pass: noise `target` at a random timestep and predict it back.

        Args:
            x: `(B, T, J, 3)` 2D input + confidence (the confidence is not used).
            target: `(B, T, J, 3)` root-relative targets (the root is set to 0 here, as the
                official training does).
            t: `(B,)` timesteps; drawn per sample when None.
            noise: `(B, T, J, 3)` normal draws; drawn per sample when None.
            generator: RNG of the draws (None: the global one), official draw order.

        Returns:
            `(B, T, J, 3)` x0 prediction; the D3DP loss is its MPJPE to the root-zeroed target.
        """
        self.check_input(x)
        x0 = target.clone()
        x0[..., 0, :] = 0
        b = x.shape[0]
        if t is None or noise is None:
            dt, dn = draw_training_noise(b, x0.shape[1:], self.timesteps, x.device, generator)
            t = dt if t is None else t
            noise = dn if noise is None else noise
        x_t = noise_target(self, x0, t.to(x.device).long(), noise.to(x.device), self.scale)
        return self.pose_estimator(x[..., :2], x_t, t.to(x.device).long()) * self.scale

    def sample(self, x: torch.Tensor, num_hypotheses: int | None = None,
               sampling_steps: int | None = None, generator: torch.Generator | None = None,
               noise_init: torch.Tensor | None = None, noise_steps: list | None = None,
               flip_average: bool = True) -> torch.Tensor:  # fmt: skip
        """DDIM sampling with the official flip averaging at every step.

        Args:
            x: `(B, T, J, 3)` 2D input + confidence (or `(B, T, J, 2)`).
            num_hypotheses: H (default `self.num_hypotheses`).
            sampling_steps: K (default `self.sampling_steps`).
            generator: RNG of the noise draws (None: the global one); with a seeded generator
                the samples are reproducible.
            noise_init: `(B, H, T, J, 3)` initial draw, instead of drawing it.
            noise_steps: the K−1 per-step draws, instead of drawing them.
            flip_average: average with the mirrored input at every step (official: on).

        Returns:
            `(B, K, H, T, J, 3)`: every iteration's x0 hypotheses (root not zeroed).
        """
        if x.ndim == 4 and x.shape[-1] == 3:
            self.check_input(x)
        elif x.ndim != 4 or x.shape[-2:] != (self.num_joints, 2):
            raise ValueError(f"D3DP.sample: x must have shape (B, T, {self.num_joints}, 3) or "
                             f"(B, T, {self.num_joints}, 2), got {tuple(x.shape)}")
        h = self.num_hypotheses if num_hypotheses is None else int(num_hypotheses)
        k = self.sampling_steps if sampling_steps is None else int(sampling_steps)
        if h < 1:
            raise ValueError(f"num_hypotheses must be >= 1, got {h}")
        return ddim_sample(self.pose_estimator, self.flip, self, x[..., :2].float(), h, k,
                           self.timesteps, self.scale, 1.0, generator, noise_init, noise_steps,
                           flip_average)  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, T, J, 3)` normalised 2D + confidence → `(B, T, J, 3)`: P-Agg of the last step.

        Every clip gets the same noise draws (`diffusion.clip_noise`, seeded `sample_seed`), so
        the output is a deterministic function of the clip alone (not of its batch).
        """
        self.check_input(x)
        b, t, j = x.shape[:3]
        init, steps = clip_noise(b, (self.num_hypotheses, t, j, 3), self.sampling_steps,
                                 self.sample_seed, x.device)  # fmt: skip
        return self.sample(x, noise_init=init, noise_steps=steps)[:, -1].mean(dim=1)


@register_lifter(
    paper=_PAPER,
    tiny={"n_frames": 27, "dim": 32, "depth": 2, "num_heads": 4, "drop_path_rate": 0.0,
          "num_hypotheses": 2, "sampling_steps": 2},
    paper_params=34_835_459,
)
def d3dp(**overrides: object) -> D3DP:
    """D3DP: MixSTE denoiser C = 512, depth 8, T = 243, H = K = 5 (34,835,459 params)."""
    return D3DP(**overrides)  # type: ignore[arg-type]
