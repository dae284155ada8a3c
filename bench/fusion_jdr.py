"""2D joint detection rate (JDR) of the self-fusion module's refined 2D, under injected outliers.

CVSF's claim about its fusion module: the 2D it refines (joints below the confidence threshold,
re-estimated from the other views' lifted poses and the predicted camera rotations) is more
often correct than the detector's. Measured on the multi-view test clips: a share
(`outlier_rate`) of the refinable joints is moved by `outlier_shift` (normalised units, 2 = image
width) in a random direction with a low confidence (0.05–0.3), then JDR (error < ½ head–thorax
segment, `bench.metrics.functional.jdr`) of the input 2D, of the fusion-refined 2D, and of the
same module fed the true 3D pose and rotations (an upper bound). Used by `liftbench reproduce
selffusion` (`evaluate: fusion_jdr`) and `liftbench perf adaptation --part selffusion`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

JDR_KEYS = ("input", "refined", "oracle", "refined_joints_input", "refined_joints_out")


def inject_outliers(x: torch.Tensor, rate: float, shift: float, keep: tuple[int, ...],
                    gen: torch.Generator) -> torch.Tensor:
    """`x (B, V, T, J, 3)` with `rate` of the joints not in `keep` moved, confidence low."""
    hit = torch.rand(x.shape[:-1], generator=gen) < rate
    hit[..., list(keep)] = False
    angle = torch.rand(x.shape[:-1], generator=gen) * 2 * torch.pi
    offset = shift * torch.stack((angle.cos(), angle.sin()), -1)
    conf = 0.05 + 0.25 * torch.rand(x.shape[:-1], generator=gen)
    out = x.clone()
    out[..., :2] = torch.where(hit[..., None], x[..., :2] + offset, x[..., :2])
    out[..., 2] = torch.where(hit, conf, x[..., 2])
    return out


@torch.no_grad()
def jdr_of_fusion(regime: Any, loader: Any, rate: float = 0.1, shift: float = 0.1,
                  seed: int = 0) -> dict[str, float]:
    """JDR (%) of the input and of the fusion-refined 2D over a multi-view test loader.

    Args:
        regime: a `SelfFusionRegime` (eval mode) with its lifter and fusion module.
        loader: batches with `input (B, V, T, J, 3)`, `pose3d_world`, `R`, `t`, `K`, `image_size`.
        rate: share of refinable joints replaced by outliers.
        shift: outlier displacement (normalised units).
        seed: outlier draw seed.

    Returns:
        `jdr_input`, `jdr_refined`, `jdr_refined_oracle_pose`, `jdr_miss_input`,
        `jdr_miss_refined` (100 − JDR), `refined_joint_fraction`, and on the joints the module
        replaced: `jdr_input_on_refined_joints`, `jdr_output_on_refined_joints`.
    """
    from liftbench.bench.metrics.functional import jdr
    from liftbench.geometry.cameras import normalize_screen, project, world_to_camera
    from liftbench.losses.canonical import canonicalize_2d

    sums: dict[str, float] = {k: 0.0 for k in (*JDR_KEYS, "count", "n_refined")}
    order = (0, 2, 1, 3, 4)  # the fusion module works per frame: (B, T, V, J, ·)
    gen = torch.Generator().manual_seed(seed)
    for batch in loader:
        x = inject_outliers(batch["input"], rate, shift, regime.fusion.except_joints, gen)
        conf = x[..., 2]
        canon, root, norm = canonicalize_2d(x[..., :2])
        b, v, t, j, _ = x.shape
        pose, rot = regime.pose_and_rotation(torch.cat((canon, conf[..., None]), -1).flatten(0, 1))
        refined, replaced = regime.fusion(
            canon.permute(order), conf.transpose(1, 2), pose.view(b, v, t, j, 3).permute(order),
            rot.view(b, v, t, 3, 3).permute(0, 2, 1, 3, 4))
        refined = refined.permute(order) * norm[..., None, None] + root[..., None, :]
        replaced = replaced.transpose(1, 2)
        world = batch["pose3d_world"][:, None].expand(b, v, t, j, 3)
        cam = world_to_camera(world, batch["R"][..., None, :, :], batch["t"][..., None, :])
        px = project(cam, batch["K"][:, :, None, None])
        gt = normalize_screen(px, batch["image_size"][:, :, None, None].float())
        oracle, _ = regime.fusion(  # the same module fed the true 3D pose and rotations
            canon.permute(order), conf.transpose(1, 2),
            (world - world[..., :1, :]).permute(order), batch["R"].permute(0, 2, 1, 3, 4))
        oracle = oracle.permute(order) * norm[..., None, None] + root[..., None, :]
        head = torch.linalg.vector_norm(gt[..., 10, :] - gt[..., 8, :], dim=-1)
        ok = head > 0
        n_ok = float(ok.sum())
        sums["count"] += n_ok
        sums["input"] += float(jdr(x[..., :2][ok], gt[ok], head[ok])) * n_ok
        sums["refined"] += float(jdr(refined[ok], gt[ok], head[ok])) * n_ok
        sums["oracle"] += float(jdr(oracle[ok], gt[ok], head[ok])) * n_ok
        sel = replaced & ok[..., None]
        n = float(sel.sum())
        sums["n_refined"] += n
        if n:
            h = head[..., None].expand_as(sel)[sel]
            sums["refined_joints_input"] += float(
                jdr(x[..., :2][sel][:, None], gt[sel][:, None], h)) * n
            sums["refined_joints_out"] += float(jdr(refined[sel][:, None], gt[sel][:, None], h)) * n
    total, n_ref = sums["count"], sums["n_refined"]
    if not total:
        raise ValueError("fusion JDR: the loader gave no frame with a valid head segment")
    out = {"jdr_input": sums["input"] / total, "jdr_refined": sums["refined"] / total,
           "jdr_refined_oracle_pose": sums["oracle"] / total,
           "refined_joint_fraction": n_ref / (total * 17)}
    out["jdr_miss_input"], out["jdr_miss_refined"] = 100 - out["jdr_input"], 100 - out[
        "jdr_refined"]
    if n_ref:
        out["jdr_input_on_refined_joints"] = sums["refined_joints_input"] / n_ref
        out["jdr_output_on_refined_joints"] = sums["refined_joints_out"] / n_ref
    return out


def fusion_jdr(cfg: Any, checkpoint: str | Path, rate: float = 0.1, shift: float = 0.1
               ) -> dict[str, float]:
    """`jdr_of_fusion` of a `regime=selffusion` run (its config and checkpoint), keys `fusion/*`."""
    from liftbench.bench.checkpoints import read_checkpoint
    from liftbench.bench.runner import build_datamodule, build_module

    if cfg.regime.name != "selffusion":
        raise ValueError(f"fusion_jdr needs a regime=selffusion run, got {cfg.regime.name!r}")
    dm = build_datamodule(cfg)
    dm.prepare_data()
    dm.setup("test")
    regime = build_module(cfg, dm)
    regime.load_state_dict(read_checkpoint(checkpoint)["state_dict"])
    regime.eval()
    res = jdr_of_fusion(regime, dm.test_dataloader(), rate, shift, seed=int(cfg.seed))
    return {f"fusion/{k}": float(v) for k, v in res.items()}
