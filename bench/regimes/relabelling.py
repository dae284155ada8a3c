"""The pseudo-label loop as a Lightning callback (used by `regime=pseudolabel`).

At fit start, and at the end of the last epoch of every iteration but the last, the callback
lifts every multi-view take of the training set with the current lifter, calibrates, triangulates
and hands the new 2.5D labels to the DataModule (`set_training_labels`); it also empties the AdamW
moments there (the schedule restarts by itself, see `PseudoLabelRegime.configure_optimizers`).
The Trainer reloads its train loader every E epochs, so the next epoch's batches (in-process or
in worker processes) carry the new labels. One row of figures per pass goes to the regime's
`history` (logged as `pseudolabel/<metric>`, stored in the run record as `iter<k>/<metric>`).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import lightning.pytorch as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback

from liftbench.bench.metrics.functional import pa_mpjpe
from liftbench.bench.pseudolabel_metrics import evaluate_take, pool_metrics
from liftbench.bench.pseudolabels import (
    ClipIndex,
    MultiViewTake,
    labels_for_clips,
    pseudo_labels,
)
from liftbench.bench.regimes.base import flatten_views
from liftbench.geometry.calibration import CalibrationWarning


class PseudoLabelling(Callback):
    """Relabel the training set at the iteration boundaries of a `PseudoLabelRegime`."""

    def __init__(self) -> None:
        self.takes: list[MultiViewTake] = []
        self.index: ClipIndex | None = None

    # ------------------------------------------------------------------------------ hooks
    def on_fit_start(self, trainer: L.Trainer, pl_module: Any) -> None:
        """Check the set-up, rebuild the multi-view takes, hide the 3D, label iteration 0."""
        dm = trainer.datamodule
        needed = ("multiview_takes", "num_views", "clip_frames", "set_training_labels",
                  "hide_ground_truth")
        if dm is None or not all(hasattr(dm, k) for k in needed):
            raise ValueError(
                "regime=pseudolabel needs a DataModule with multi-view takes and a label API "
                "(a ClipDataModule: data=synthetic or a real multi-view dataset)"
            )
        if dm.num_views < 2:
            raise ValueError("regime=pseudolabel needs multi-view clips: data.kwargs.views >= 2")
        E = pl_module.epochs_per_iteration
        if getattr(dm, "num_workers", 0) and trainer.reload_dataloaders_every_n_epochs != E:
            raise ValueError(
                f"regime=pseudolabel with trainer.num_workers > 0 needs the Trainer to reload its "
                f"train loader every iteration (reload_dataloaders_every_n_epochs={E}; "
                "`liftbench fit` sets it), or worker processes keep stale labels"
            )
        self.takes, self.index = dm.multiview_takes()
        dm.hide_ground_truth()  # label-free training: the 3D never reaches a training batch
        self._pass(trainer, pl_module, len(pl_module.history), write=True)

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: Any) -> None:
        """Record the learning rate an iteration starts with."""
        if trainer.current_epoch % pl_module.epochs_per_iteration == 0 and pl_module.history:
            opt = trainer.optimizers[0] if trainer.optimizers else None
            pl_module.history[-1]["lr"] = float(opt.param_groups[0]["lr"]) if opt else math.nan

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: Any) -> None:
        """At the end of an iteration (but the last): restart the optimizer and relabel."""
        E = pl_module.epochs_per_iteration
        k, rem = divmod(trainer.current_epoch + 1, E)
        if rem or k >= pl_module.iterations:
            return
        pl_module.restart_optimizer()
        self._pass(trainer, pl_module, k, write=True)

    def on_train_end(self, trainer: L.Trainer, pl_module: Any) -> None:
        """Measure the final model (row K of the history) when training ran to the end."""
        if pl_module.evaluate and self.takes:
            self._pass(trainer, pl_module, len(pl_module.history), write=False)

    # ---------------------------------------------------------------------------- labelling
    def _pass(self, trainer: L.Trainer, pl_module: Any, iteration: int, write: bool) -> None:
        """Lift + calibrate + triangulate every take; write the labels and/or evaluate."""
        was_training = pl_module.lifter.training
        pl_module.lifter.eval()
        labels, valid, parts, failed, gated, warned = {}, {}, [], 0, 0, 0
        try:
            for take in self.takes:
                lifted = pl_module.predict_sequence(take.inputs)  # as `test` predicts
                try:
                    # unreliable-calibration warnings are counted per pass (a row of the
                    # history), not printed once per take and iteration
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always", CalibrationWarning)
                        result = pseudo_labels(take, lifted, pl_module.calibration)
                    warned += any(issubclass(w.category, CalibrationWarning) for w in caught)
                except ValueError:
                    # a take that cannot be calibrated (e.g. no jointly visible joints) gives
                    # no labels this iteration rather than aborting the run
                    failed += 1
                    shape = take.inputs.shape
                    labels[take.take] = np.full(shape, np.nan)
                    valid[take.take] = np.zeros(shape[:-1], dtype=bool)
                    continue
                reproj = result["diagnostics"]["reprojection_px"]
                limit = pl_module.max_reprojection_px
                if limit is not None and not reproj <= limit:
                    gated += 1
                    result["valid"] = np.zeros_like(result["valid"])
                labels[take.take], valid[take.take] = result["labels"], result["valid"]
                if pl_module.evaluate:
                    parts.append(evaluate_take(take, lifted, result, pl_module.joints_eval))
            row: dict[str, float] = {"iteration": float(iteration),
                                     "failed_takes": float(failed), "gated_takes": float(gated),
                                     "warned_takes": float(warned)}
            if pl_module.evaluate:
                row.update(pool_metrics(parts))
                row["test_mono_pa_mpjpe"] = _test_pa_mpjpe(trainer, pl_module)
        finally:
            pl_module.lifter.train(was_training)
        if failed == len(self.takes):
            raise ValueError(
                f"pseudo-labelling failed for all {failed} takes at iteration {iteration} "
                "(calibration errors); check the 2D confidences and camera count"
            )
        if write:
            T = trainer.datamodule.clip_frames
            target = labels_for_clips(self.index, labels, T)
            mask = labels_for_clips(self.index, valid, T)
            trainer.datamodule.set_training_labels(np.where(mask[..., None], target, 0.0), mask)
            row["labelled_fraction"] = float(np.mean([v.mean() for v in valid.values()]))
        pl_module.history.append(row)
        if pl_module.logger is not None:
            pl_module.logger.log_metrics({f"pseudolabel/{k}": v for k, v in row.items()},
                                         step=pl_module.global_step)


@torch.no_grad()
def _test_pa_mpjpe(trainer: L.Trainer, pl_module: Any) -> float:
    """Monocular PA-MPJPE (mm, flip TTA) on the DataModule's held-out test clips."""
    dm = trainer.datamodule
    if "test" not in getattr(dm, "datasets", {}):
        return math.nan
    total, count = 0.0, 0
    for batch in dm.test_dataloader():
        batch = flatten_views({k: v.to(pl_module.device) if torch.is_tensor(v) else v
                               for k, v in batch.items()})
        pred = pl_module.predict_pose(batch["input"])
        target = batch["target"] - batch["target"][..., :1, :]
        scale = batch["factor"][..., None, None]
        err = pa_mpjpe(pred * scale, target * scale, mask=batch.get("valid"),
                       joints=pl_module.joints_eval, reduction="none")
        ok = torch.isfinite(err)
        total += float(err[ok].sum())
        count += int(ok.sum())
    return total / count if count else math.nan
