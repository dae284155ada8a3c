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
from liftbench.bench.regimes.loss_config import loss_defaults, resolve_loss
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


def datamodule_training_arrays(dm: Any, max_batches: int = 2000) -> tuple[Any, Any] | None:
    """`(N, T, J, 3)` inputs and targets of the set `dm` trains on, or None without one.

    A liftbench DataModule says them (`training_arrays()`); any other LightningDataModule's
    training loader is read (at most `max_batches` batches). None when the DataModule has no
    training set (set up for testing only).
    """
    import numpy as np

    if hasattr(dm, "training_arrays"):
        sets = getattr(dm, "datasets", None)
        if sets is not None and getattr(dm, "train_on", "train") not in sets:
            return None  # not set up, or set up without a training set
        return dm.training_arrays()
    try:
        loader = dm.train_dataloader()
    except Exception:  # a DataModule without a training set (test only)
        return None
    xs, ys = [], []
    for i, batch in enumerate(loader):
        if i >= max_batches:
            break
        xs.append(batch["input"].numpy())
        ys.append(batch["target"].numpy())
    x, y = np.concatenate(xs), np.concatenate(ys)
    return x.reshape((-1,) + x.shape[-3:]), y.reshape((-1,) + y.shape[-3:])


def centre_frame(pred: torch.Tensor, batch: dict[str, torch.Tensor]
                 ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:  # fmt: skip
    """Keep frame `(T - 1) // 2` only, for a sequence-to-frame lifter (`output_frames="centre"`).

    Args:
        pred: `(B, T, J, 3)` prediction.
        batch: the (single-view) batch; its per-frame entries (`target`, `factor`, `valid`,
            `target_mm`) are sliced the same way.

    Returns:
        `(B, 1, J, 3)` prediction and the batch with `T = 1`.
    """
    c = (pred.shape[1] - 1) // 2
    out = dict(batch)
    for key in ("input", "target", "factor", "valid", "target_mm"):
        if key in batch:
            out[key] = batch[key][:, c : c + 1]
    return pred[:, c : c + 1], out


# Where a checkpoint records the regime that wrote it (`bench.checkpoints.load_regime`).
REGIME_KEY = "liftbench_regime"
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
        loss: loss weights of the regime (key `loss`), possibly partial: the regime's YAML holds
            the defaults and the valid keys (`bench.regimes.loss_config`).
        flip_tta: test-time flip averaging.
        action_names: names of the evaluation groups (per-action breakdown).
        joints_eval: joint indices that enter the metrics (default all).
        frames: clip length T of the data; a lifter built for fewer frames (e.g. a tiny
            MotionAGFormer with `n_frames=9`) is rebuilt for T unless its frame count was set
            explicitly in `lifter_kwargs`.
        standardize: `"auto"` (the lifter's paper setting, `Lifter.standardize`), `True` or
            `False`: z-score inputs and targets with training-set statistics
            (`models.normalization.PoseNormalizer`, saved in the checkpoint); fitted in `setup`
            from the DataModule's `training_arrays()` unless a checkpoint brings them.
        lifter_name: the same name as `lifter`, as older checkpoints recorded it (ignored).

    A checkpoint records the regime's name (`checkpoint["liftbench_regime"]["name"]`), so
    `bench.checkpoints.load_regime(path)` rebuilds the right class; `Class.load_from_checkpoint`
    works as Lightning users expect.
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
        lifter_name: str | None = None,
    ) -> None:
        super().__init__()
        # `lifter` is the registry name; checkpoints written before it was the only name also
        # carry `lifter_name`, accepted here so `load_from_checkpoint` reads them too.
        if lifter_name is not None and lifter_name != lifter:
            raise ValueError(f"lifter_name={lifter_name!r} contradicts lifter={lifter!r}")
        self.save_hyperparameters(ignore=["lifter_name"])
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
        # every key and type checked against the regime's YAML defaults (`loss_config`)
        self.loss_cfg = resolve_loss(loss, loss_defaults(self.regime_name), self.regime_name)
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

    def predict_step(self, batch: Any, batch_idx: int = 0) -> torch.Tensor:
        """`trainer.predict`: `predict_pose` of a batch dict's `input` (or of a tensor).

        Multi-view batches `(B, V, T, J, 3)` are folded to `(B·V, T, J, 3)` first.
        """
        x = flatten_views(batch)["input"] if isinstance(batch, dict) else batch
        return self.predict_pose(x)

    def predict_sequence(self, inputs: Any, flip: bool | None = None,
                         batch_size: int = 256) -> Any:
        """The regime's prediction over whole sequences, window by window.

        The one inference path of `liftbench predict`, `liftbench calibrate` and the
        pseudo-label passes: `predict_pose` (this regime's head, normaliser, flip and root
        handling, exactly as `test` scores it) over windows of the lifter's T
        (`bench.sequence_lifting.lift_windows`).

        Args:
            inputs: `(C, N, J, 3)` (or `(N, J, 3)`) normalised 2D + confidence, numpy.
            flip: test-time flip averaging; None keeps the regime's `flip_tta`.
            batch_size: windows per forward pass.

        Returns:
            numpy float64 `(C, N, J, 3)` (or `(N, J, 3)`) root-relative 2.5D.
        """
        import numpy as np

        from liftbench.bench.sequence_lifting import lift_windows, windowing

        arr = np.asarray(inputs)
        single = arr.ndim == 3
        if single:
            arr = arr[None]
        param = next(iter([*self.parameters(), *self.buffers()]), torch.zeros(()))
        saved, was_training = self.flip_tta, self.training
        self.flip_tta = saved if flip is None else bool(flip)
        self.eval()
        try:
            # the lifter's windowing; dtype / device of the whole regime (its normaliser too)
            kwargs = {**windowing(self.lifter), "dtype": param.dtype, "device": param.device}
            out = lift_windows(self.predict_pose, arr, batch_size=batch_size, **kwargs)
        finally:
            self.flip_tta = saved
            self.train(was_training)
        return out[0] if single else out

    # ----------------------------------------------------------------------------- checkpoints
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Record which regime wrote the checkpoint (`load_regime` rebuilds that class)."""
        checkpoint[REGIME_KEY] = {"name": self.regime_name,
                                  "class": f"{type(self).__module__}.{type(self).__qualname__}"}

    def setup(self, stage: str) -> None:
        """Fit the normaliser on the Trainer's DataModule unless it has statistics already.

        Statistics arrive with `init_from` (the runner loads the `normalizer.*` buffers) or
        with the checkpoint a Trainer restores after this hook (which then overwrites what is
        fitted here).
        """
        if self._trainer is not None:
            self.prepare_normalizer(getattr(self.trainer, "datamodule", None))

    def prepare_normalizer(self, dm: Any) -> bool:
        """Fit the normaliser on `dm`'s training set unless fitted; True if it fitted now.

        A DataModule set up without a training set (testing only) is skipped. A regime
        without 3D labels fits input statistics only, with a warning: its outputs stay in
        2.5D units.
        """
        if self.normalizer is None or self.normalizer.is_fitted or dm is None:
            return False
        arrays = datamodule_training_arrays(dm)
        if arrays is None:
            return False
        inputs, targets = arrays
        if not self.uses_3d_labels:
            import warnings

            warnings.warn(
                f"regime {self.regime_name!r} trains without 3D labels: lifter "
                f"{self.hparams['lifter']!r} is standardised with input statistics only (pass "
                "init_from=<a supervised checkpoint> to reuse its statistics)", stacklevel=2,
            )
            targets = None
        return self.fit_normalizer(inputs, targets)

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
        if getattr(self.lifter, "output_frames", "all") == "centre":
            pred, batch = centre_frame(pred, batch)
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
        `cosine` (liftbench's CPU-budget schedule): per-step linear warm-up over
        `warmup_fraction` of the steps, then cosine decay to 0 at the last step.
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
        if schedule == "cosine":
            return {"optimizer": opt, "lr_scheduler": {
                "scheduler": self._cosine_schedule(opt, float(cfg.get("warmup_fraction", 0.05))),
                "interval": "step"}}
        if schedule == "constant":
            return opt
        raise ValueError(
            f"regime.optim.schedule must be exponential | warmup_plateau | cosine | constant, "
            f"got {schedule!r}"
        )

    def _cosine_schedule(self, opt: torch.optim.Optimizer,
                         warmup_fraction: float) -> torch.optim.lr_scheduler.LambdaLR:
        """Per-step linear warm-up over `warmup_fraction` of the run, then cosine decay to 0.

        Not a paper's schedule: a short CPU budget (a few thousand steps) ends far from the
        exponential schedules' small final rates, and decaying to 0 by the last step is what
        makes the last steps count (see docs: "Training the transformer lifters on a CPU").
        The run's length is the Trainer's `estimated_stepping_batches` (max_epochs or max_steps).
        """
        if not 0.0 <= warmup_fraction < 1.0:
            raise ValueError(f"regime.optim.warmup_fraction must be in [0, 1), got "
                             f"{warmup_fraction}")
        total = self.trainer.estimated_stepping_batches
        if not math.isfinite(total) or total < 1:
            raise ValueError("regime.optim.schedule=cosine needs a finite run: set "
                             "trainer.max_epochs or trainer.max_steps")
        total = int(total)
        warm = max(1, int(round(warmup_fraction * total)))

        def factor(step: int) -> float:
            if step < warm:
                return (step + 1) / warm
            done = min(1.0, (step - warm) / max(1, total - warm))
            return 0.5 * (1.0 + math.cos(math.pi * done))

        return torch.optim.lr_scheduler.LambdaLR(opt, factor)
