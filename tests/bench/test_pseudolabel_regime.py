"""`regime=pseudolabel`: label-free batches, per-iteration relabel + optimizer restart, record."""

from __future__ import annotations

import lightning as L
import numpy as np
import pytest
import torch

from liftbench.bench.cli import main
from liftbench.bench.evaluation import EvalMetrics
from liftbench.bench.pseudolabels import load_clip_arrays
from liftbench.bench.regimes import regime_class
from liftbench.bench.regimes.pseudolabel import PseudoLabelRegime
from liftbench.datamodules.flip import flip_batch
from liftbench.datamodules.synthetic.datamodule import SyntheticDataModule
from liftbench.leaderboard.records import read_records

GT_KEYS = {"target_mm", "pose3d_world", "R", "t", "factor"}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("plcache")


def small_dm(cache, **kw):
    args = dict(motions=["walk", "run"], subjects=2, cameras=3, views=2, noise="clean",
                train_on="adapt", batch_size=8, cache_dir=cache)
    args.update(kw)
    dm = SyntheticDataModule(**args)
    dm.setup()
    return dm


class Spy(PseudoLabelRegime):
    """Records what every training batch carries (not registered: regime_name is inherited)."""

    seen: list

    def training_step(self, batch, batch_idx):
        self.seen.append({k: v.clone() for k, v in batch.items() if torch.is_tensor(v)})
        return super().training_step(batch, batch_idx)


def build(**kw):
    args = dict(lifter="motionagformer_xs", size="tiny", frames=27, iterations=2,
                epochs_per_iteration=1, optim={"lr": 1e-3, "lr_decay": 0.5}, evaluate=True)
    args.update(kw)
    return args


def fit(module, dm, epochs=2, reload=0):
    module.action_names = dm.action_names
    module.val_metrics = EvalMetrics(len(dm.action_names))
    module.test_metrics = EvalMetrics(len(dm.action_names))
    trainer = L.Trainer(max_epochs=epochs, limit_train_batches=2, limit_val_batches=1,
                        logger=False, enable_checkpointing=False, accelerator="cpu",
                        use_distributed_sampler=False, enable_progress_bar=False,
                        enable_model_summary=False, num_sanity_val_steps=0,
                        reload_dataloaders_every_n_epochs=reload)
    trainer.fit(module, datamodule=dm)
    return trainer


def test_label_free_training_relabel_and_restart(cache):
    torch.manual_seed(0)
    dm = small_dm(cache)
    module = Spy(**build())
    module.seen = []
    trainer = fit(module, dm)
    # every training batch: no 3D ground truth, targets = the current pseudo-labels
    assert module.seen and all(not (GT_KEYS & set(b)) for b in module.seen)
    gt = load_clip_arrays(dm.cache_path / "adapt")["target"]
    ds = dm.datasets["adapt"]
    assert not np.allclose(ds.arrays["target"], gt, atol=1e-3)
    per_epoch = min(2, -(-len(ds) // 8))
    assert len(module.seen) == 2 * per_epoch
    for batch in module.seen[per_epoch:]:  # iteration 1's batches: iteration 1's labels
        assert_current_labels(batch, ds)
    # history: iterations 0 and 1 relabelled, then the final model (row 2)
    rows = module.history
    assert [r["iteration"] for r in rows] == [0.0, 1.0, 2.0]
    assert rows[0]["lr"] == pytest.approx(1e-3) and rows[1]["lr"] == pytest.approx(1e-3)
    # the optimizer was restarted at epoch 1: AdamW's step count covers epoch 1 only
    opt = trainer.optimizers[0]
    steps = {int(s["step"]) for s in opt.state.values()}
    assert steps == {per_epoch}
    for r in rows:
        assert {"mono_pa_mpjpe", "multi_pa_mpjpe", "multi_spa_mpjpe", "rotation_deg",
                "centre_error_rel", "test_mono_pa_mpjpe"} <= set(r)
        assert np.isfinite(r["mono_pa_mpjpe"]) and np.isfinite(r["test_mono_pa_mpjpe"])


def assert_current_labels(batch, ds):
    """The batch's targets are the set's current labels (each sample plain or flipped)."""
    assert carries_current_labels(batch, ds)


def carries_current_labels(batch, ds) -> bool:
    idx = batch["index"].numpy()
    plain = torch.from_numpy(ds.arrays["target"][idx])
    flip = {"target": plain, "valid": torch.from_numpy(ds.arrays["valid"][idx])}
    flipped = flip_batch(flip, torch.ones(len(idx), dtype=torch.bool))["target"]
    same = [(torch.allclose(b, p) or torch.allclose(b, f))
            for b, p, f in zip(batch["target"], plain, flipped)]
    return all(same)


def test_worker_processes_get_each_iterations_labels(cache):
    """num_workers > 0: the loader is rebuilt every iteration, workers serve the new labels."""
    torch.manual_seed(0)
    dm = small_dm(cache, num_workers=1)
    module = Spy(**build(evaluate=False))
    module.seen = []
    with pytest.raises(ValueError, match="reload_dataloaders_every_n_epochs=1"):
        fit(module, dm)
    dm = small_dm(cache, num_workers=1)
    module = Spy(**build(evaluate=False))
    module.seen = []
    fit(module, dm, reload=1)
    ds = dm.datasets["adapt"]
    per_epoch = len(module.seen) // 2
    first = module.seen[0]["target"]
    for batch in module.seen[per_epoch:]:
        assert_current_labels(batch, ds)
    assert all(not (GT_KEYS & set(b)) for b in module.seen)
    # iteration 0's batches carried other labels (the lifter was fine-tuned in between)
    assert not any(carries_current_labels(b, ds) for b in module.seen[:per_epoch])
    assert first.shape == module.seen[-1]["target"].shape
    assert [r["iteration"] for r in module.history] == [0.0, 1.0]


def test_reprojection_gate_drops_labels(cache):
    torch.manual_seed(0)
    dm = small_dm(cache)
    module = PseudoLabelRegime(**build(max_reprojection_px=1e-9, evaluate=False, iterations=1))
    fit(module, dm, epochs=1)
    n_takes = len(np.unique(load_clip_arrays(dm.cache_path / "adapt")["take"]))
    assert module.history[0]["gated_takes"] == n_takes
    assert not dm.datasets["adapt"].arrays["valid"].any()


def test_bad_configurations(cache):
    assert regime_class("pseudolabel") is PseudoLabelRegime
    with pytest.raises(ValueError, match="regime.optim.schedule"):
        PseudoLabelRegime(**build(optim={"schedule": "warmup_plateau"}))
    with pytest.raises(ValueError, match="regime.iterations must be >= 1"):
        PseudoLabelRegime(**build(iterations=0))
    with pytest.raises(ValueError, match=r"data.kwargs.views >= 2"):
        fit(PseudoLabelRegime(**build()), small_dm(cache, views=1), epochs=1)


def test_cli_run_record_keeps_the_iterations(cache, tmp_path):
    args = ["fit", "model=motionagformer_xs", "size=tiny", "regime=pseudolabel",
            "regime.iterations=2", "trainer.max_epochs=2", "data.kwargs.motions=[walk,run]",
            "data.kwargs.subjects=2", "data.kwargs.cameras=3", "data.kwargs.views=2",
            "data.kwargs.noise=clean", "data.kwargs.train_on=adapt", "data.batch_size=16",
            f"data.kwargs.cache_dir={cache}", f"output_dir={tmp_path / 'runs'}",
            f"results_dir={tmp_path / 'results'}", "logger=none", "trainer.monitor=null"]
    assert main(args) == 0
    (rec,) = read_records(tmp_path / "results")
    assert rec.regime["name"] == "pseudolabel"
    for k in (0, 1, 2):
        assert f"iter{k}/mono_pa_mpjpe" in rec.metrics and f"iter{k}/rotation_deg" in rec.metrics
    assert rec.config["regime"]["calibration"]["solver"] == "schur"
