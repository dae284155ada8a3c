"""The regime base: a LightningModule that wraps any registered lifter.

Subclasses implement `training_step` (their losses). The base owns what every regime shares:
building the lifter, the optimiser and the papers' schedules, test-time flip, and evaluation in
millimetres (`val/…`, `test/…`) with per-action breakdowns.

Evaluation protocol (MotionBERT / MotionAGFormer / KASportsFormer): prediction and target are
made root-relative, multiplied by the clip's per-frame 2.5D `factor` (mm per normalised unit) and
compared; so a perfect prediction scores exactly 0 (comparing with the true camera-frame
millimetres instead would add the weak-perspective error of the 2.5D convention; README
"Conventions").
"""

from __future__ import annotations

import math
from typing import Any

import lightning as L
import torch

from liftbench.bench.evaluation import EvalMetrics
from liftbench.geometry.skeletons import ROOT
from liftbench.models import create_lifter
from liftbench.models.flip import flip_average
from liftbench.models.normalization import PoseNormalizer, StandardizedLifter
from liftbench.models.trivial import MeanPose


def flatten_views(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Fold a multi-view batch `(B, V, ...)` into single-view `(B·V, ...)` for evaluation."""
    x = batch["input"]
    if x.ndim == 4:
        return batch
    b, v = x.shape[:2]
    out = {}
    for key in ("input", "target", "factor", "valid", "target_mm"):
        if key in batch:
            out[key] = batch[key].flatten(0, 1)
    for key in ("action", "subject"):
        if key in batch:
            out[key] = batch[key].repeat_interleave(v)
    if "index" in batch:
        out["index"] = (batch["index"][:, None] * v + torch.arange(v, device=x.device)).flatten()
    return out


FRAME_KWARGS = ("n_frames", "maxlen")  # how the sequence lifters name their built T


def build_lifter_for(name: str, size: str, kwargs: dict[str, Any],
                     frames: int | None) -> torch.nn.Module:
    """`create_lifter(name, size, **kwargs)`, rebuilt for `frames` when it was built for fewer.

    An explicit frame count in `kwargs` is respected; if it is too small the error says so.
    """
    lifter = create_lifter(name, size=size, **kwargs)
    built = getattr(lifter, "max_frames", None)
    if frames is None or built is None or built >= frames:
        return lifter
    explicit = [k for k in FRAME_KWARGS if k in kwargs]
    if explicit:
        raise ValueError(
            f"lifter {name!r} is built for T={built} ({explicit[0]}={kwargs[explicit[0]]}) but the "
            f"data clips have T={frames}: set model.kwargs.{explicit[0]}={frames} or "
            f"data.kwargs.frames={built}"
        )
    import inspect

    params = inspect.signature(type(lifter).__init__).parameters
    for key in FRAME_KWARGS:
        if key in params:
            return create_lifter(name, size=size, **{**kwargs, key: frames})
    raise ValueError(
        f"lifter {name!r} accepts at most T={built} frames but the data clips have T={frames}; "
        f"set data.kwargs.frames={built}"
    )


class LiftingRegime(L.LightningModule):
    """Base LightningModule of all regimes.

    Args:
        lifter: registry name of the lifter (`liftbench models`).
        size: `"paper"` or `"tiny"`.
        lifter_kwargs: constructor overrides of the lifter.
        optim: optimiser and schedule settings (`bench/configs/regime/*.yaml`, key `optim`).
        loss: loss weights of the regime (key `loss`).
        flip_tta: test-time flip averaging.
        action_names: names of the evaluation groups (per-action breakdown).
        joints_eval: joint indices that enter the metrics (default all).
        frames: clip length T of the data; a lifter built for fewer frames (e.g. a tiny
            MotionAGFormer with `n_frames=9`) is rebuilt for T unless its frame count was set
            explicitly in `lifter_kwargs`.
        standardize: `"auto"` (the lifter's paper setting, `Lifter.standardize`), `True` or
            `False`: z-score inputs and targets with training-set statistics
            (`models.normalization.PoseNormalizer`, saved in the checkpoint).
    """

    regime_name = "base"
    # The evaluation space, a protocol field of every record: the prediction and the 2.5D target
    # are both multiplied by the clip's mm `factor`. Tables never rank rows of different scales
    # together.
    eval_scale = "2.5D x factor"
    # Whether training reads the 3D targets of the `train_on` set (then the normaliser may be
    # fitted on them); adaptation regimes must take their statistics from a pre-trained checkpoint.
    uses_3d_labels = False

    def __init__(
        self,
        lifter: str,
        size: str = "paper",
        lifter_kwargs: dict[str, Any] | None = None,
        optim: dict[str, Any] | None = None,
        loss: dict[str, Any] | None = None,
        flip_tta: bool = True,
        action_names: list[str] | None = None,
        joints_eval: list[int] | None = None,
        frames: int | None = None,
        standardize: bool | str = "auto",
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.hparams["lifter_name"] = lifter
        self.lifter = build_lifter_for(lifter, size, lifter_kwargs or {}, frames)
        if standardize == "auto":
            standardize = bool(getattr(self.lifter, "standardize", False))
        if not isinstance(standardize, bool):
            raise ValueError(f"regime.standardize must be auto | true | false, got {standardize!r}")
        if isinstance(self.lifter, MeanPose) and not standardize:
            raise ValueError(f"lifter {lifter!r} only works with regime.standardize=true|auto")
        self.normalizer = PoseNormalizer(int(getattr(self.lifter, "num_joints", 17))) \
            if standardize else None
        self.optim_cfg = dict(optim or {})
        self.loss_cfg = dict(loss or {})
        self.flip_tta = flip_tta
        self.action_names = list(action_names or ["all"])
        self.joints_eval = list(joints_eval) if joints_eval is not None else None
        self.val_metrics = EvalMetrics(len(self.action_names), joints=self.joints_eval)
        self.test_metrics = EvalMetrics(len(self.action_names), joints=self.joints_eval)
        self.last_test_results: dict[str, Any] = {}

    # ----------------------------------------------------------------------------- inference
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Lift `(B, T, J, 3)` normalised 2D + confidence to `(B, T, J, 3)` 2.5D."""
        return self.lift(x)

    def lift(self, x: torch.Tensor) -> torch.Tensor:
        """The lifter between the normaliser's maps (when standardising): `(B,T,J,3)` → 2.5D."""
        if self.normalizer is None:
            return self.lifter(x)
        return self.normalizer.denormalize_output(self.lifter(self.normalizer.normalize_input(x)))

    def standalone_lifter(self) -> torch.nn.Module:
        """The lifter with the normaliser's maps folded in: `(B, T, J, 3)` → 2.5D.

        For callers that run it outside the regime (pseudo-label passes).
        """
        if self.normalizer is None:
            return self.lifter
        return StandardizedLifter(self.lifter, self.normalizer)

    def fit_normalizer(self, inputs: Any, targets: Any | None) -> bool:
        """Fit the normaliser on training `(N, T, J, 3)` inputs / targets; False if none.

        `targets=None` fits the input statistics only (a regime without 3D labels).
        """
        if self.normalizer is None:
            return False
        self.normalizer.fit(inputs, targets)
        return True

    def predict_pose(self, x: torch.Tensor) -> torch.Tensor:
        """Evaluation-time prediction: flip-averaged when `flip_tta`, root set to 0."""
        pred = flip_average(self.lift, x) if self.flip_tta else self.lift(x)
        return pred - pred[..., ROOT : ROOT + 1, :]

    def transfer_batch_to_device(self, batch: Any, device: torch.device,
                                 dataloader_idx: int) -> Any:
        """Move a batch to `device`; on the CPU our batches are already there.

        Lightning's generic recursive walk over the batch dict is pure per-step overhead there.
        """
        if device.type == "cpu":
            return batch
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

    # ----------------------------------------------------------------------------- evaluation
    def _eval_step(self, batch: dict[str, torch.Tensor], metrics: EvalMetrics) -> None:
        batch = flatten_views(batch)
        pred = self.predict_pose(batch["input"])
        target = batch["target"] - batch["target"][..., ROOT : ROOT + 1, :]
        scale = batch["factor"][..., None, None]
        groups = batch.get("action")
        if groups is None:
            groups = torch.zeros(pred.shape[0], dtype=torch.long, device=pred.device)
        metrics.update(pred * scale, target * scale, mask=batch.get("valid"), groups=groups)

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        """Accumulate the validation metrics."""
        self._eval_step(batch, self.val_metrics)

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        """Accumulate the test metrics."""
        self._eval_step(batch, self.test_metrics)

    def _log_metrics(self, stage: str, metrics: EvalMetrics) -> dict[str, Any]:
        results = metrics.compute(self.action_names)
        metrics.reset()
        for name, value in results["overall"].items():
            if math.isfinite(value):
                self.log(f"{stage}/{name}", value, prog_bar=name in ("mpjpe", "pa_mpjpe"),
                         sync_dist=False, rank_zero_only=False)
        return results

    def log_train(self, terms: dict[str, torch.Tensor], batch_size: int) -> None:
        """Log `train/<term>` (0-dim tensors), only on the steps the logger writes.

        Each Lightning `self.log` call costs a sizeable fraction of a tiny lifter's CPU step
        (`liftbench perf train` measures the loop), so only every `trainer.log_every_n_steps`-th
        step logs; the values are that step's (not averages).
        """
        trainer = self._trainer
        if trainer is not None and trainer.global_step % max(1, trainer.log_every_n_steps):
            return
        for name, value in terms.items():
            self.log(f"train/{name}", value.detach(), prog_bar=name == "loss",
                     batch_size=batch_size)

    def on_validation_epoch_end(self) -> None:
        """Compute (DDP-synchronised), log `val/<metric>` and reset."""
        self._log_metrics("val", self.val_metrics)

    def on_test_epoch_end(self) -> None:
        """Compute, log `test/<metric>`, keep the per-action breakdown for the run record."""
        self.last_test_results = self._log_metrics("test", self.test_metrics)

    # ----------------------------------------------------------------------------- optimisation
    def configure_optimizers(self) -> Any:
        """AdamW with the papers' schedules.

        `exponential` (MotionBERT / MotionAGFormer): lr × `lr_decay` after every epoch.
        `warmup_plateau` (KASportsFormer): linear warm-up over `warmup_epochs`, then halve the lr
        when `val/mpjpe` stops improving for `plateau_patience` epochs.
        """
        cfg = self.optim_cfg
        name = cfg.get("name", "adamw")
        if name != "adamw":
            raise ValueError(f"regime.optim.name must be 'adamw', got {name!r}")
        params = [p for p in self.parameters() if p.requires_grad]
        if not params:  # a trivial baseline: nothing to optimise
            return None
        # foreach: one fused kernel per op over all parameters (the CPU default is a Python
        # loop over tensors, which dominates the step of a small lifter)
        opt = torch.optim.AdamW(
            params, lr=float(cfg.get("lr", 5e-4)),
            weight_decay=float(cfg.get("weight_decay", 0.01)), foreach=True,
        )
        schedule = cfg.get("schedule", "exponential")
        if schedule == "exponential":
            sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=float(cfg.get("lr_decay",
                                                                                    0.99)))
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}
        if schedule == "warmup_plateau":
            warm = int(cfg.get("warmup_epochs", 0))
            plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
                opt, mode="min", factor=float(cfg.get("plateau_factor", 0.5)),
                patience=int(cfg.get("plateau_patience", 5)),
            )
            scheds = [{"scheduler": plateau, "interval": "epoch", "monitor": "val/mpjpe",
                       "strict": False}]
            if warm > 0:
                lin = torch.optim.lr_scheduler.LambdaLR(opt, lambda e: min(1.0, (e + 1) / warm))
                scheds.insert(0, {"scheduler": lin, "interval": "epoch"})
            return [opt], scheds
        if schedule == "constant":
            return opt
        raise ValueError(
            f"regime.optim.schedule must be exponential | warmup_plateau | constant, got "
            f"{schedule!r}"
        )
