"""Pseudo-label fine-tuning (Suzuki et al., CVPRW 2024; `regime=pseudolabel`).

K iterations of: lift every view of every unlabelled multi-view take with the current lifter
(flip TTA) → calibrate each take's cameras from the lifted bone directions (Lee et al.) →
confidence-weighted triangulation → per-camera 2.5D pseudo-labels (`bench/pseudolabels.py`) →
fine-tune on them with the supervised loss (MPJPE + 0.5·N-MPJPE + 20·velocity).

Mapping onto Lightning: iteration `k` covers epochs `[k·E, (k+1)·E)` (E = `epochs_per_iteration`).
The labelling runs in a callback (`bench/regimes/relabelling.py`, added by `configure_callbacks`):
iteration 0's labels at fit start, later ones at the end of each iteration's last epoch. They reach
the training set through the DataModule (`set_training_labels`, after `hide_ground_truth`), and
the Trainer reloads its train loader every E epochs (`liftbench fit` sets
`reload_dataloaders_every_n_epochs`), so worker processes (`num_workers > 0`) see them. At every
iteration start the AdamW state is emptied and the schedule restarts: the learning rate is
`lr · lr_decay^(epoch mod E)`, which is what re-creating the optimizer does (the paper's protocol).

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

from typing import Any

import torch
from lightning.pytorch.callbacks import Callback

from liftbench.bench.regimes.supervised import SupervisedRegime

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
        self.history: list[dict[str, float]] = []  # one row per labelling pass

    # training_step: SupervisedRegime's loss, against the current pseudo-labels (`target`)

    def iteration_epochs(self, max_epochs: int | None) -> int:
        """E for a run of `max_epochs` epochs (explicit, or `max_epochs // iterations`)."""
        if self._epochs_per_iteration is not None:
            return int(self._epochs_per_iteration)
        if max_epochs is None or max_epochs < 1:
            raise ValueError(
                "regime=pseudolabel needs regime.epochs_per_iteration when trainer.max_epochs "
                "is not set"
            )
        return max(1, max_epochs // self.iterations)

    @property
    def epochs_per_iteration(self) -> int:
        """E: epochs per iteration of this fit."""
        return self.iteration_epochs(self.trainer.max_epochs)

    def configure_callbacks(self) -> list[Callback]:
        """The labelling loop runs as a callback at the iteration boundaries."""
        from liftbench.bench.regimes.relabelling import PseudoLabelling

        return [PseudoLabelling()]

    def configure_optimizers(self) -> Any:
        """AdamW with a schedule that restarts every iteration.

        `exponential`: `lr · lr_decay^(epoch mod E)`; `constant`: `lr`.
        """
        out = super().configure_optimizers()
        if self.optim_cfg.get("schedule", "exponential") != "exponential":
            return out
        opt = out["optimizer"]
        decay, E = float(self.optim_cfg.get("lr_decay", 0.99)), self.epochs_per_iteration
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda epoch: decay ** (epoch % E))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}

    def restart_optimizer(self) -> None:
        """Empty the AdamW moments at an iteration start (the schedule restarts by itself)."""
        for opt in self.trainer.optimizers:
            opt.state.clear()

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
