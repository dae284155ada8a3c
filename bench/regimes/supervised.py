"""The supervised regime: 3D labels, MPJPE + N-MPJPE + velocity (the papers' default loss)."""

from __future__ import annotations

import torch

from liftbench.bench.regimes.base import LiftingRegime, flatten_views
from liftbench.losses.supervised import supervised_loss


class SupervisedRegime(LiftingRegime):
    """Supervised training on 2.5D targets (`regime=supervised`).

    Loss weights (`regime.loss`): `w_pos` (MPJPE, 1), `w_scale` (N-MPJPE, 0.5), `w_vel`
    (velocity, 20), optional `w_limb_var`, `w_limb_gt` (0) — MotionBERT / MotionAGFormer /
    KASportsFormer as configured in their repositories.
    """

    regime_name = "supervised"
    uses_3d_labels = True

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        """One optimisation step on a (single- or multi-view, folded) batch of clips."""
        batch = flatten_views(batch)
        pred = self.lift(batch["input"])
        terms = supervised_loss(pred, batch["target"], mask=batch.get("valid"), **self.loss_cfg)
        bs = pred.shape[0]
        self.log_train(terms, batch_size=bs)
        return terms["loss"]
