"""Pseudo-label fine-tuning (Suzuki et al., CVPRW 2024; `regime=pseudolabel`).

K iterations of: lift every view of every unlabelled multi-view take with the current lifter
(flip TTA) → calibrate each take's cameras from the lifted bone directions (Lee et al.) →
confidence-weighted triangulation → per-camera 2.5D pseudo-labels (`bench/pseudolabels.py`) →
fine-tune on them with the supervised loss (MPJPE + 0.5·N-MPJPE + 20·velocity).

Mapping onto Lightning: iteration `k` covers epochs `[k·E, (k+1)·E)` (E = `epochs_per_iteration`).
The labels of iteration 0 are computed in `on_fit_start` (before the first batch is fetched),
later ones in `on_train_epoch_start`; they overwrite the `target` and `valid` arrays of the
training set in place (the 3D ground-truth arrays are removed from it), so the DataModule must
serve batches in-process (`trainer.num_workers=0`). At every iteration start the AdamW state is
cleared and the learning rate reset to its initial value with the schedule restarted, which is
what re-creating the optimizer does (the paper's protocol).

A resumed run (`ckpt_path=`) re-labels at fit start from the restored weights (Lightning restores
the epoch counter only after `on_fit_start`, so that row is numbered 0) and continues the
iteration schedule from the restored epoch.

Per-iteration figures, with the ground truth used for evaluation only: monocular PA-MPJPE on the
training takes and on the held-out test clips, multi-view (triangulated) PA-MPJPE and SPA-MPJPE,
PA-MPJPE of the 2.5D labels, extrinsic errors (rotation in degrees, camera centres after a
similarity alignment, relative to the rig size). Row `k` is measured with the model that starts
iteration `k`; a last row (k = K) with the final model is added when training ends. They are
logged as `pseudolabel/<metric>` and stored in the run record as `iter<k>/<metric>`.

Deviations from the official code (also in the README): the model carried into the next
iteration is the last epoch's (the official runner picks the best epoch against held-out
pseudo-labels); labels are 2.5D rather than in calibration units (see `bench/pseudolabels.py`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from bench.metrics.functional import pa_mpjpe
from bench.pseudolabels import (
    MultiViewTake,
    evaluate_take,
    labels_for_clips,
    lift_views,
    load_clip_arrays,
    pool_metrics,
    pseudo_labels,
    strip_ground_truth,
    takes_from_clips,
)
from bench.regimes.base import flatten_views
from bench.regimes.supervised import SupervisedRegime
from datamodules.clips import flip_batch

_SCHEDULES = ("exponential", "constant")


class PseudoLabelRegime(SupervisedRegime):
    """Iterative pseudo-label fine-tuning on unlabelled multi-view clips.

    Args:
        iterations: K, the number of re-calibrate + re-label rounds (paper: 5).
        epochs_per_iteration: epochs per round (default `trainer.max_epochs // iterations`);
            set `trainer.max_epochs = iterations × epochs_per_iteration`.
        calibration: keyword arguments of `geometry.calibration.calibrate` (`solver`,
            `orthonormalize`, `ransac`, `bundle_adjust`, `min_confidence`, ...).
        evaluate: compute the per-iteration ground-truth figures (evaluation only).
        max_reprojection_px: a take whose calibrated, triangulated joints reproject worse than
            this (mean, pixels; label-free) gets no labels that iteration. None (default, as
            the paper) labels every take that calibrates.
        *args: see `LiftingRegime`.
        **kwargs: see `LiftingRegime` (`optim.schedule` must be `exponential` or `constant`).
    """

    regime_name = "pseudolabel"
    uses_3d_labels = False  # trains on triangulated labels, never on the set's 3D

    def __init__(
        self,
        *args: Any,
        iterations: int = 5,
        epochs_per_iteration: int | None = None,
        calibration: dict[str, Any] | None = None,
        evaluate: bool = True,
        max_reprojection_px: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if int(iterations) < 1:
            raise ValueError(f"regime.iterations must be >= 1, got {iterations}")
        if epochs_per_iteration is not None and int(epochs_per_iteration) < 1:
            raise ValueError(
                f"regime.epochs_per_iteration must be >= 1, got {epochs_per_iteration}")
        schedule = self.optim_cfg.get("schedule", "exponential")
        if schedule not in _SCHEDULES:
            raise ValueError(
                f"regime=pseudolabel restarts the schedule every iteration; regime.optim.schedule "
                f"must be one of {_SCHEDULES}, got {schedule!r}"
            )
        self.iterations = int(iterations)
        self._epochs_per_iteration = epochs_per_iteration
        self.calibration = dict(calibration or {})
        self.evaluate = bool(evaluate)
        self.max_reprojection_px = None if max_reprojection_px is None else float(
            max_reprojection_px)
        self.history: list[dict[str, float]] = []
        self._takes: list[MultiViewTake] = []
        self._index = None
        self._dataset = None

    # training_step: SupervisedRegime's loss, against the current pseudo-labels (`target`)

    @property
    def epochs_per_iteration(self) -> int:
        """E: epochs per iteration (explicit, or `max_epochs // iterations`)."""
        if self._epochs_per_iteration is not None:
            return int(self._epochs_per_iteration)
        max_epochs = self.trainer.max_epochs
        if max_epochs is None or max_epochs < 1:
            raise ValueError(
                "regime=pseudolabel needs regime.epochs_per_iteration when trainer.max_epochs "
                "is not set"
            )
        return max(1, max_epochs // self.iterations)

    def on_fit_start(self) -> None:
        """Rebuild the multi-view takes of the training set and make iteration 0's labels."""
        dm = self.trainer.datamodule
        needed = ("cache_path", "config", "datasets", "train_on")
        if dm is None or not all(hasattr(dm, k) for k in needed):
            raise ValueError(
                "regime=pseudolabel needs the synthetic DataModule (data=synthetic), whose "
                "cached multi-view takes it re-labels"
            )
        if getattr(dm, "num_workers", 0):
            raise ValueError(
                "regime=pseudolabel rewrites the training targets in place every iteration; "
                "set trainer.num_workers=0 (worker processes would keep stale copies)"
            )
        if dm.config["views"] < 2:
            raise ValueError("regime=pseudolabel needs multi-view clips: data.kwargs.views >= 2")
        arrays = load_clip_arrays(dm.cache_path / dm.train_on)
        self._takes, self._index = takes_from_clips(arrays, dm.config["cameras"],
                                                    dm.config["stride"])
        self._dataset = dm.datasets[dm.train_on]
        # label-free training: the 3D ground truth never reaches a training batch
        self._dataset.arrays = strip_ground_truth(self._dataset.arrays)
        self._dataset._stacked = strip_ground_truth(self._dataset._stacked)
        self._relabel(0)

    def on_train_epoch_start(self) -> None:
        """At an iteration boundary: restart the optimizer, re-lift, re-calibrate, re-label."""
        epoch = self.current_epoch
        k, rem = divmod(epoch, self.epochs_per_iteration)
        if epoch == 0 or rem or k >= self.iterations:
            return
        self._restart_optimizer()
        self._relabel(k)

    def on_train_end(self) -> None:
        """Measure the final model (row K of the history) when training ran to the end."""
        if self.evaluate and self._takes:
            self._pass(len(self.history), write=False)

    def _restart_optimizer(self) -> None:
        """Empty the AdamW state, reset the lr and restart the schedule (= a new optimizer)."""
        for opt in self.trainer.optimizers:
            opt.state.clear()
            for group in opt.param_groups:
                group["lr"] = group.get("initial_lr", group["lr"])
        for cfg in self.trainer.lr_scheduler_configs:
            sched = cfg.scheduler
            sched.last_epoch = 0
            sched._last_lr = [g["lr"] for g in sched.optimizer.param_groups]

    # ---------------------------------------------------------------------------- labelling
    def _relabel(self, iteration: int) -> None:
        self._pass(iteration, write=True)

    def _pass(self, iteration: int, write: bool) -> None:
        """Lift + calibrate + triangulate every take; write the labels and/or evaluate."""
        was_training = self.lifter.training
        self.lifter.eval()
        labels, valid, parts, failed, gated = {}, {}, [], 0, 0
        try:
            for take in self._takes:
                lifted = lift_views(self.standalone_lifter(), take.inputs, flip=self.flip_tta)
                try:
                    result = pseudo_labels(take, lifted, self.calibration)
                except ValueError:
                    # a take that cannot be calibrated (e.g. no jointly visible joints) gives
                    # no labels this iteration rather than aborting the run
                    failed += 1
                    shape = take.inputs.shape
                    labels[take.take] = np.full(shape, np.nan)
                    valid[take.take] = np.zeros(shape[:-1], dtype=bool)
                    continue
                reproj = result["diagnostics"]["reprojection_px"]
                if self.max_reprojection_px is not None and not reproj <= self.max_reprojection_px:
                    gated += 1
                    result["valid"] = np.zeros_like(result["valid"])
                labels[take.take], valid[take.take] = result["labels"], result["valid"]
                if self.evaluate:
                    parts.append(evaluate_take(take, lifted, result, self.joints_eval))
            row: dict[str, float] = {"iteration": float(iteration),
                                     "failed_takes": float(failed), "gated_takes": float(gated)}
            if self.evaluate:
                row.update(pool_metrics(parts))
                row["test_mono_pa_mpjpe"] = self._test_pa_mpjpe()
        finally:
            self.lifter.train(was_training)
        if failed == len(self._takes):
            raise ValueError(
                f"pseudo-labelling failed for all {failed} takes at iteration {iteration} "
                "(calibration errors); check the 2D confidences and camera count"
            )
        if write:
            self._write_labels(labels, valid)
            row["labelled_fraction"] = float(np.mean([v.mean() for v in valid.values()]))
            row["lr"] = float(self.trainer.optimizers[0].param_groups[0]["lr"]) \
                if self.trainer.optimizers else math.nan
        self.history.append(row)
        logger = self.logger
        if logger is not None:
            logger.log_metrics({f"pseudolabel/{k}": v for k, v in row.items()},
                               step=self.global_step)

    def _write_labels(self, labels: dict[int, np.ndarray], valid: dict[int, np.ndarray]) -> None:
        ds = self._dataset
        T = ds.arrays["input"].shape[2]
        target = labels_for_clips(self._index, labels, T)
        mask = labels_for_clips(self._index, valid, T)
        target = np.where(mask[..., None], target, 0.0).astype(np.float32)
        ds.arrays["target"], ds.arrays["valid"] = target, mask
        if ds.flip:
            flipped = flip_batch({"target": torch.from_numpy(target),
                                  "valid": torch.from_numpy(mask)},
                                 torch.ones(len(target), dtype=torch.bool))
            for key in ("target", "valid"):
                ds._stacked[key] = np.concatenate([ds.arrays[key], flipped[key].numpy()])

    @torch.no_grad()
    def _test_pa_mpjpe(self) -> float:
        """Monocular PA-MPJPE (mm, flip TTA) on the DataModule's held-out test clips."""
        dm = self.trainer.datamodule
        if "test" not in getattr(dm, "datasets", {}):
            return math.nan
        total, count = 0.0, 0
        for batch in dm.test_dataloader():
            batch = flatten_views({k: v.to(self.device) if torch.is_tensor(v) else v
                                   for k, v in batch.items()})
            pred = self.predict_pose(batch["input"])
            target = batch["target"] - batch["target"][..., :1, :]
            scale = batch["factor"][..., None, None]
            err = pa_mpjpe(pred * scale, target * scale, mask=batch.get("valid"),
                           joints=self.joints_eval, reduction="none")
            ok = torch.isfinite(err)
            total += float(err[ok].sum())
            count += int(ok.sum())
        return total / count if count else math.nan

    # ------------------------------------------------------------------------------- record
    def on_test_epoch_end(self) -> None:
        """Test metrics as the base regime, plus the per-iteration history for the run record."""
        super().on_test_epoch_end()
        overall = self.last_test_results.setdefault("overall", {})
        for row in self.history:
            k = int(row["iteration"])
            for name, value in row.items():
                if name != "iteration":
                    overall[f"iter{k}/{name}"] = float(value)
