"""Denoising diffusion for pose lifting (D3DP, Shan et al., ICCV 2023): schedule, noising, DDIM.

The equations are those of the official D3DP code (`common/diffusionpose.py`), including its
dtypes, so a denoiser with the official weights reproduces the official samples bit for bit when
fed the same noise draws:

- Schedule: cosine (Nichol & Dhariwal, s = 0.008) over `timesteps` steps in float64,
  `betas = clip(1 − ᾱ_{t+1}/ᾱ_t, 0, 0.999)`, `ᾱ = cumprod(1 − betas)`.
- Training: per sample `t ~ U{0, …, timesteps−1}` and `ε ~ N(0, I)`,
  `x_t = clamp(√ᾱ_t·x0·s + √(1−ᾱ_t)·ε, ±1.1·s) / s` (float64, then float32); the denoiser
  predicts x0 directly and the loss is MPJPE(x0_pred, x0).
- Sampling (`ddim_sample`): DDIM with η = 1 on the grid `linspace(−1, timesteps−1, K+1)`
  (truncated to int), H hypotheses, and the official flip averaging of the x0 prediction at
  every step. Every iteration's x0 is returned, `(B, K, H, T, J, 3)`.

`s` is the official `scale` (1.0: the targets are used as they are). Units: whatever the
targets are in (metres in the official Human3.6M code, normalised 2.5D in liftbench); the
±1.1·s clamp assumes root-relative poses of about unit size.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

import torch

#: the 12 float64 schedule buffers of the official model, in its state-dict order
SCHEDULE_BUFFERS = (
    "betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod",
    "sqrt_one_minus_alphas_cumprod", "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod",
    "sqrt_recipm1_alphas_cumprod", "posterior_variance", "posterior_log_variance_clipped",
    "posterior_mean_coef1", "posterior_mean_coef2",
)  # fmt: skip
CLAMP = 1.1  # the official clamp of x_t and x0, in units of `scale`

Denoiser = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def cosine_beta_schedule(timesteps: int, s: float = 0.008) -> torch.Tensor:
    """`(timesteps,)` float64 betas of the cosine schedule (Nichol & Dhariwal 2021)."""
    if int(timesteps) < 1:
        raise ValueError(f"timesteps must be >= 1, got {timesteps}")
    # on the CPU even under a `torch.device("meta")` context: the buffers are values, and meta
    # tensors would route these ops through slow Python decompositions
    x = torch.linspace(0, timesteps, timesteps + 1, dtype=torch.float64, device="cpu")
    ac = torch.cos(((x / timesteps) + s) / (1 + s) * math.pi * 0.5) ** 2
    ac = ac / ac[0]
    return torch.clip(1 - (ac[1:] / ac[:-1]), 0, 0.999)


def schedule_buffers(timesteps: int) -> dict[str, torch.Tensor]:
    """The official model's 12 schedule buffers (float64, `(timesteps,)` each), by name."""
    betas = cosine_beta_schedule(timesteps)
    alphas = 1.0 - betas
    ac = torch.cumprod(alphas, dim=0)
    ac_prev = torch.nn.functional.pad(ac[:-1], (1, 0), value=1.0)
    post_var = betas * (1.0 - ac_prev) / (1.0 - ac)
    return {
        "betas": betas,
        "alphas_cumprod": ac,
        "alphas_cumprod_prev": ac_prev,
        "sqrt_alphas_cumprod": torch.sqrt(ac),
        "sqrt_one_minus_alphas_cumprod": torch.sqrt(1.0 - ac),
        "log_one_minus_alphas_cumprod": torch.log(1.0 - ac),
        "sqrt_recip_alphas_cumprod": torch.sqrt(1.0 / ac),
        "sqrt_recipm1_alphas_cumprod": torch.sqrt(1.0 / ac - 1),
        "posterior_variance": post_var,
        "posterior_log_variance_clipped": torch.log(post_var.clamp(min=1e-20)),
        "posterior_mean_coef1": betas * torch.sqrt(ac_prev) / (1.0 - ac),
        "posterior_mean_coef2": (1.0 - ac_prev) * torch.sqrt(alphas) / (1.0 - ac),
    }


def ddim_time_pairs(timesteps: int, steps: int) -> list[tuple[int, int]]:
    """The official DDIM grid as `(t, t_next)` pairs, `t_next = −1` last.

    `reversed(linspace(−1, timesteps−1, steps+1).int())` in float32 with truncation toward 0:
    K = 2 gives (999, 499), (499, −1); K = 3 gives 999, 665, 332.
    """
    if not 1 <= int(steps) <= int(timesteps):
        raise ValueError(f"sampling steps must lie in [1, {timesteps}], got {steps}")
    grid = torch.linspace(-1, timesteps - 1, steps=steps + 1, device="cpu")  # values, not shapes
    times = list(reversed(grid.int().tolist()))
    return list(zip(times[:-1], times[1:], strict=True))


def _extract(a: torch.Tensor, t: torch.Tensor, ndim: int) -> torch.Tensor:
    """`a[t]` shaped `(B, 1, …, 1)` to broadcast over a tensor of `ndim` dims."""
    return a.gather(-1, t).reshape(-1, *((1,) * (ndim - 1)))  # -1: a traced batch stays dynamic


def _ddim_coefficients(ac: torch.Tensor, time: int, time_next: int,
                       eta: float) -> tuple[float | torch.Tensor, ...]:  # fmt: skip
    """`(√ᾱ_next, c, σ)` of one DDIM step, in float64, applied to float32 tensors by the caller.

    Python floats, not the official 0-dim float64 tensors: an exported graph holds them as
    constants, where ONNX ran the traced scalar ops in float32 and `1 − ᾱ_next − σ²` (≈ 1e-9 at
    t = 999) rounded below 0, a NaN sample. IEEE +, −, ×, ÷ and √ round the same either way, so
    the values are the official ones. On the meta device (FLOP counting) there are no values:
    the same ops run as tensors there.
    """
    if ac.is_meta:
        alpha, alpha_next = ac[time], ac[time_next]
        sigma = eta * ((1 - alpha / alpha_next) * (1 - alpha_next) / (1 - alpha)).sqrt()
        return alpha_next.sqrt(), (1 - alpha_next - sigma * sigma).sqrt(), sigma
    alpha, alpha_next = float(ac[time]), float(ac[time_next])
    sigma = eta * math.sqrt((1 - alpha / alpha_next) * (1 - alpha_next) / (1 - alpha))
    return math.sqrt(alpha_next), math.sqrt(1 - alpha_next - sigma * sigma), sigma


def draw_training_noise(
    batch: int, shape: Sequence[int], timesteps: int, device: torch.device | str = "cpu",
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """Per-sample `t` `(B,)` int64 and `ε` `(B, *shape)` float32, drawn as the official code does.

    The official loop draws `t` then `ε` for sample 0, then for sample 1, … from one stream; with
    the same generator state this gives the same numbers.
    """
    ts, noises = [], []
    for _ in range(batch):
        ts.append(torch.randint(0, timesteps, (1,), generator=generator, device=device))
        noises.append(torch.randn(*shape, generator=generator, device=device))
    return torch.cat(ts).long(), torch.stack(noises)


def noise_target(
    buffers: dict[str, torch.Tensor] | torch.nn.Module, x0: torch.Tensor, t: torch.Tensor,
    noise: torch.Tensor, scale: float = 1.0,
) -> torch.Tensor:  # fmt: skip
    """The noisy target `x_t` fed to the denoiser in training (float32).

    Args:
        buffers: the schedule (`schedule_buffers` or a module holding them as attributes).
        x0: clean targets `(B, T, J, 3)`, root joint at 0.
        t: `(B,)` int64 timesteps.
        noise: `(B, T, J, 3)` standard normal draws.
        scale: the official `scale` (x0 is multiplied by it, x_t divided by it).

    Returns:
        `(B, T, J, 3)` float32 `clamp(√ᾱ_t·x0·s + √(1−ᾱ_t)·ε, ±1.1·s) / s`.
    """
    get = buffers.__getitem__ if isinstance(buffers, dict) else lambda k: getattr(buffers, k)
    x_start = x0 * scale
    out = (_extract(get("sqrt_alphas_cumprod"), t, x0.ndim) * x_start
           + _extract(get("sqrt_one_minus_alphas_cumprod"), t, x0.ndim) * noise)  # float64
    out = torch.clamp(out, min=-CLAMP * scale, max=CLAMP * scale) / scale
    return out.float()


def clip_noise(
    batch: int, shape: Sequence[int], steps: int, seed: int, device: torch.device | str = "cpu",
) -> tuple[torch.Tensor, list[torch.Tensor]]:  # fmt: skip
    """Sampler draws that are the same for every clip: `(noise_init, noise_steps)`.

    One `(1, *shape)` draw for the start and one per non-final step from a generator seeded
    `seed`, expanded over the batch. A clip's samples then depend on the clip alone, not on the
    batch it is in (batch size, DDP shard, `predict` windows vs `test` batches).

    Args:
        batch: B.
        shape: `(H, T, J, 3)`.
        steps: K (K − 1 step draws are made).
        seed: generator seed.
        device: where the draws are made and returned.

    Returns:
        `(B, *shape)` initial draw and a list of K − 1 draws of that shape (expanded views).
    """
    dev = torch.device(device)
    if dev.type == "meta":  # shape-only (parameter / FLOP counts): no generator there
        draws = tuple(torch.randn(1, *shape, device=dev) for _ in range(int(steps)))
    else:
        draws = _seeded_draws(tuple(int(s) for s in shape), int(steps), int(seed), str(dev))
    full = [d.expand(batch, *shape) for d in draws]
    return full[0], full[1:]


@functools.lru_cache(maxsize=16)
def _seeded_draws(shape: tuple[int, ...], steps: int, seed: int,
                  device: str) -> tuple[torch.Tensor, ...]:
    """`steps` draws of `(1, *shape)` from a generator seeded `seed` (made once, then reused).

    Reusing them is what makes the sampler a fixed function of its input: an exported graph
    (`liftbench export`) holds them as constants instead of calling a random generator.
    """
    gen = torch.Generator(device=device).manual_seed(seed)
    return tuple(torch.randn(1, *shape, generator=gen, device=device) for _ in range(steps))


def ddim_sample(
    denoise: Denoiser, flip: Callable[[torch.Tensor], torch.Tensor],
    buffers: dict[str, torch.Tensor] | torch.nn.Module, x2d: torch.Tensor, hypotheses: int,
    steps: int, timesteps: int, scale: float = 1.0, eta: float = 1.0,
    generator: torch.Generator | None = None, noise_init: torch.Tensor | None = None,
    noise_steps: Sequence[torch.Tensor] | None = None, flip_average: bool = True,
) -> torch.Tensor:  # fmt: skip
    """DDIM sampling of `hypotheses` poses per clip, official D3DP `ddim_sample_flip`.

    Args:
        denoise: `denoise(x2d (B,T,J,2), x_t (B,H,T,J,3), t (B,) int64) -> x0 (B,H,T,J,3)`.
        flip: the mirror of `(…, J, C)` keypoints (x negated, left/right swapped); it flips
            the 2D input and the hypotheses, and un-flips the mirrored prediction.
        buffers: the schedule (`schedule_buffers` or a module holding them).
        x2d: `(B, T, J, 2)` 2D input.
        hypotheses: H.
        steps: K, the number of denoiser iterations (each is 2 calls with flip averaging).
        timesteps: length of the schedule (1000).
        scale: the official `scale`.
        eta: DDIM η (1 in D3DP).
        generator: draws the initial `(B, H, T, J, 3)` noise and one draw of that shape per
            non-final step, in that order (the official order); None uses the global RNG.
        noise_init: the initial draw, given instead of drawn.
        noise_steps: the K−1 per-step draws, given instead of drawn.
        flip_average: average the x0 predictions of the input and of its mirror (official: on).

    Returns:
        `(B, K, H, T, J, 3)`: the x0 prediction of every iteration (the answer is `[:, -1]`);
        the root joint is not zeroed (the official evaluation zeroes it afterwards).
    """
    get = buffers.__getitem__ if isinstance(buffers, dict) else lambda k: getattr(buffers, k)
    b, t_len, j = x2d.shape[:3]
    shape = (b, int(hypotheses), t_len, j, 3)
    pairs = ddim_time_pairs(timesteps, steps)
    if noise_init is None:
        img = torch.randn(shape, generator=generator, device=x2d.device)
    else:
        img = noise_init.to(x2d.device, torch.float32)
        if tuple(img.shape) != shape:
            raise ValueError(f"noise_init must have shape {shape}, got {tuple(img.shape)}")
    if noise_steps is not None and len(noise_steps) != len(pairs) - 1:
        raise ValueError(f"noise_steps must hold {len(pairs) - 1} draws (one per non-final "
                         f"step), got {len(noise_steps)}")
    x2d_flip = flip(x2d) if flip_average else None
    ac = get("alphas_cumprod")
    outputs = []
    for i, (time, time_next) in enumerate(pairs):
        # built from the input (not from the int B), so an exported graph keeps B dynamic
        time_cond = torch.full_like(x2d[:, 0, 0, 0], time, dtype=torch.long)
        x_t = torch.clamp(img, min=-CLAMP * scale, max=CLAMP * scale) / scale
        pred = denoise(x2d, x_t, time_cond)
        if flip_average:
            pred_flip = flip(denoise(x2d_flip, flip(x_t), time_cond))
            pred = (pred + pred_flip) / 2
        x_start = torch.clamp(pred * scale, min=-CLAMP * scale, max=CLAMP * scale)
        # uses the unclamped img; float64 through the schedule buffers, as the official code
        eps = ((_extract(get("sqrt_recip_alphas_cumprod"), time_cond, img.ndim) * img - x_start)
               / _extract(get("sqrt_recipm1_alphas_cumprod"), time_cond, img.ndim)).float()
        outputs.append(x_start)
        if time_next < 0:
            continue
        sqrt_alpha_next, c, sigma = _ddim_coefficients(ac, time, time_next, eta)
        if noise_steps is None:
            draw = torch.randn(shape, generator=generator, device=x2d.device)
        else:
            draw = noise_steps[i].to(x2d.device, torch.float32)
        img = x_start * sqrt_alpha_next + c * eps + sigma * draw
    return torch.stack(outputs, dim=1)
