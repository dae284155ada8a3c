"""The HeatPose regime (SoloPose, Jeong et al. §4.2): a volumetric head trained with cross-entropy.

Any lifter with `forward_features` `(B, T, J, C)` feeds a `HeatPoseHead`; the loss is the
cross-entropy between the head's per-joint distributions and the GMM target built from the 3D
labels (`losses/heatpose.py`). Evaluation decodes the distributions to coordinates (windowed
soft-argmax by default) and goes through the base regime's metrics and flip test-time
augmentation unchanged. `model.head=heatpose` selects this regime for a supervised run.

Note: the released SoloPose training regresses coordinates with MSE and never uses HeatPose
(official SoloPose code); this regime implements the paper's description instead.
"""

from __future__ import annotations

from typing import Any

import torch

from liftbench.bench.regimes.base import LiftingRegime, flatten_views
from liftbench.geometry.skeletons import ROOT
from liftbench.losses.heatpose import HeatPoseGrid, decode_heatpose, heatpose_ce, heatpose_target
from liftbench.losses.supervised import supervised_loss
from liftbench.models.flip import flip_average
from liftbench.models.heads import HeatPoseHead

GRID_KEYS = ("extent", "bins", "sigma", "spacing", "side_weight", "max_side")
HEAD_KEYS = ("mode", "hidden", "rank")
DECODE_KEYS = ("decoder", "window")
SUPERVISED_WEIGHTS = ("w_pos", "w_scale", "w_vel", "w_limb_var", "w_limb_gt")


class HeatPoseRegime(LiftingRegime):
    """Lifter features + HeatPose head, cross-entropy on the GMM target (`regime=heatpose`).

    Args:
        *args: the base regime's arguments (`LiftingRegime`).
        heatpose: grid, head and decoder settings: `extent` (half-width, normalised units),
            `bins`, `sigma` (σ_main, voxels), `spacing` (c / σ_main), `side_weight`, `max_side`,
            `mode` (`factorised` | `volume`), `hidden`, `rank`, `decoder` (`soft_argmax` |
            `argmax`), `window` (voxels; null = whole grid).
        **kwargs: the base regime's keyword arguments; `standardize=true` z-scores the input
            only (the targets stay in the grid's 2.5D units; `auto` is off). `loss` holds
            `w_ce` (1) and optional supervised weights (`w_pos`, `w_scale`, `w_vel`,
            `w_limb_var`, `w_limb_gt`; 0 when absent) applied to the soft-argmax-decoded
            coordinates.
    """

    regime_name = "heatpose"
    uses_3d_labels = True

    def __init__(self, *args: Any, heatpose: dict[str, Any] | None = None,
                 **kwargs: Any) -> None:  # fmt: skip
        # The heatmap grid lives in the 2.5D units, so the targets are never z-scored:
        # `standardize=true` z-scores the lifter's input only (`auto`: off, the paper's setting).
        if kwargs.get("standardize", "auto") == "auto":
            kwargs["standardize"] = False
        super().__init__(*args, **kwargs)
        cfg = dict(heatpose or {})
        unknown = sorted(set(cfg) - set(GRID_KEYS + HEAD_KEYS + DECODE_KEYS))
        if unknown:
            raise ValueError(f"regime.heatpose: unknown keys {unknown} (known: "
                             f"{', '.join(GRID_KEYS + HEAD_KEYS + DECODE_KEYS)})")
        dim = getattr(self.lifter, "feature_dim", None)
        if not dim or not hasattr(self.lifter, "forward_features"):
            raise ValueError(
                f"lifter {self.hparams['lifter']!r} has no forward_features/feature_dim: "
                f"the HeatPose head needs per-joint features (B, T, J, C)"
            )
        self.grid = HeatPoseGrid(**{k: cfg[k] for k in GRID_KEYS if k in cfg})
        self.mode = cfg.get("mode", "factorised")
        self.head = HeatPoseHead(dim, bins=self.grid.bins, mode=self.mode,
                                 hidden=int(cfg.get("hidden", 256)), rank=int(cfg.get("rank", 4)))
        self.decoder = cfg.get("decoder", "soft_argmax")
        window = cfg.get("window", 3)
        self.window = None if window is None else int(window)
        if self.decoder not in ("soft_argmax", "argmax"):
            raise ValueError(f"regime.heatpose.decoder must be soft_argmax | argmax, got "
                             f"{self.decoder!r}")

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Head logits of input `(B, T, J, 3)`: `(B, T, J, 3, N)` or `(B, T, J, N, N, N)`.

        With `standardize=true` the input is z-scored first (the logits stay on the grid).
        """
        if self.normalizer is not None:
            x = self.normalizer.normalize_input(x)
        return self.head(self.lifter.forward_features(x))

    def decode(self, logits: torch.Tensor) -> torch.Tensor:
        """Coordinates `(B, T, J, 3)` (normalised units, root-relative) from logits."""
        return decode_heatpose(logits, self.grid, self.mode, self.decoder, self.window)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Lift `(B, T, J, 3)` 2D + confidence to decoded `(B, T, J, 3)` 2.5D."""
        return self.decode(self.logits(x))

    def predict_pose(self, x: torch.Tensor) -> torch.Tensor:
        """Decoded, flip-averaged when `flip_tta`, root set to 0 (the base protocol)."""
        pred = flip_average(self, x) if self.flip_tta else self(x)
        return pred - pred[..., ROOT : ROOT + 1, :]

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        """Cross-entropy against the GMM target of the root-relative 3D labels."""
        batch = flatten_views(batch)
        target = batch["target"] - batch["target"][..., ROOT : ROOT + 1, :]
        mask = batch.get("valid")
        logits = self.logits(batch["input"])
        ce = heatpose_ce(logits, heatpose_target(target.detach(), self.grid, self.mode),
                         self.mode, mask=mask)
        total = self.loss_cfg["w_ce"] * ce
        terms = {"ce": ce}
        weights = {k: self.loss_cfg[k] for k in SUPERVISED_WEIGHTS}
        if any(weights.values()):
            pred = decode_heatpose(logits, self.grid, self.mode, "soft_argmax", self.window)
            sup = supervised_loss(pred, target, mask=mask, **weights)
            total = total + sup.pop("loss")
            terms.update(sup)
        with torch.no_grad():
            outside = (target.abs() > self.grid.extent).any(-1).float().mean()
            terms["outside_grid"] = outside  # fraction of joints the grid does not cover
        terms["loss"] = total
        bs = logits.shape[0]
        self.log_train(terms, batch_size=bs)
        return total
