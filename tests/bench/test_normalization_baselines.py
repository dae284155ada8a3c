"""Training-set standardisation and the trivial baselines, end to end through `liftbench fit`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from liftbench.bench.checkpoints import load_normalizer, load_regime, read_checkpoint
from liftbench.bench.cli import main
from liftbench.datamodules.synthetic.datamodule import SyntheticDataModule
from liftbench.leaderboard.records import read_records
from liftbench.models import create_lifter
from liftbench.models.normalization import PoseNormalizer, StandardizedLifter

DATA = {"motions": ["walk", "dance_a", "run", "kick"], "subjects": 2, "cameras": 2,
        "split": "daily->sports"}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("synthcache")


def _args(cache: Path, out: Path, model: str, *extra: str) -> list[str]:
    return [
        "fit", f"model={model}", "size=tiny", "data=synthetic",
        "data.kwargs.motions=[walk,dance_a,run,kick]", "data.kwargs.subjects=2",
        "data.kwargs.cameras=2", "data.kwargs.split=daily->sports",
        f"data.kwargs.cache_dir={cache}", "data.batch_size=16", f"output_dir={out / 'runs'}",
        f"results_dir={out / 'results'}", "logger=none", *extra,
    ]


def _datamodule(cache: Path) -> SyntheticDataModule:
    dm = SyntheticDataModule(**DATA, cache_dir=cache, batch_size=16)
    dm.setup()
    return dm


def _mpjpe_reference(pred: np.ndarray, arrays: dict[str, np.ndarray]) -> float:
    """Independent numpy MPJPE (mm): root-relative, times the per-frame factor, valid joints."""
    target = arrays["target"] - arrays["target"][..., :1, :]
    pred = pred - pred[..., :1, :]
    err = np.linalg.norm((pred - target) * arrays["factor"][..., None, None], axis=-1)
    valid = arrays["valid"].astype(bool) if "valid" in arrays else np.ones(err.shape, bool)
    return float(err[valid].mean())


def test_normalizer_fit_matches_numpy_moments():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(50, 9, 17, 3)), rng.normal(size=(50, 9, 17, 3))
    norm = PoseNormalizer(17)
    norm.fit(x, y)
    rel = (y - y[..., :1, :]).reshape(-1, 17, 3)
    np.testing.assert_allclose(norm.in_mean.numpy(), x[..., :2].reshape(-1, 17, 2).mean(0),
                               atol=1e-6)
    np.testing.assert_allclose(norm.out_std.numpy()[1:], rel.std(0)[1:], rtol=1e-5)
    assert torch.all(norm.out_std[0] > 0)  # the root's zero spread is clamped, not divided by
    t = torch.as_tensor(rel[:4], dtype=torch.float32)
    torch.testing.assert_close(norm.denormalize_output(norm.normalize_target(t)), t,
                               atol=1e-5, rtol=1e-5)
    inp = torch.as_tensor(x[:2], dtype=torch.float32)
    assert torch.equal(norm.normalize_input(inp)[..., 2], inp[..., 2])  # confidence untouched
    with pytest.raises(ValueError, match="non-finite"):
        norm.fit(np.full((2, 17, 3), np.nan), None)


def test_statistics_round_trip_through_the_checkpoint(cache, tmp_path):
    out = tmp_path / "sb"
    assert main(_args(cache, out, "simplebaseline", "trainer.max_epochs=1")) == 0
    (ckpt_path,) = (out / "runs").glob("*/checkpoints/best.ckpt")
    saved = load_normalizer(read_checkpoint(ckpt_path))
    assert saved is not None and saved.is_fitted
    ref = PoseNormalizer(17)
    train = _datamodule(cache).datasets["train"].arrays
    ref.fit(train["input"], train["target"])
    for key, value in ref.state_dict().items():
        torch.testing.assert_close(saved.state_dict()[key], value, msg=key)
    regime = load_regime(ckpt_path)  # predict applies the same statistics
    assert isinstance(regime.standalone_lifter(), StandardizedLifter)
    torch.testing.assert_close(regime.normalizer.out_mean, ref.out_mean)


@pytest.mark.parametrize("name", ["copy_2d", "mean_pose"])
def test_trivial_baselines_match_a_numpy_reference(cache, tmp_path, name):
    out = tmp_path / name
    assert main(_args(cache, out, name, "regime.flip_tta=false")) == 0
    (record,) = read_records(out / "results")
    dm = _datamodule(cache)
    test, train = dm.datasets["test"].arrays, dm.datasets["train"].arrays
    if name == "copy_2d":
        pred = np.concatenate([test["input"][..., :2], np.zeros_like(test["input"][..., :1])], -1)
    else:
        rel = train["target"] - train["target"][..., :1, :]
        pred = np.broadcast_to(rel.reshape(-1, 17, 3).mean(0), test["target"].shape)
    assert record.metrics["mpjpe"] == pytest.approx(_mpjpe_reference(pred, test), rel=1e-4)
    assert record.lifter["params"] == 0
    assert list((out / "runs").glob("*/checkpoints/best.ckpt"))  # usable by test / predict


def test_mean_pose_refuses_to_run_unstandardised():
    from liftbench.bench.regimes.supervised import SupervisedRegime

    with pytest.raises(ValueError, match="standardize"):
        SupervisedRegime("mean_pose", size="tiny", standardize=False)


@pytest.mark.parametrize("name", ["simplebaseline", "videopose3d_27"])  # canonpose: slow
def test_a_lifter_overfits_one_batch(cache, name):
    """One fixed batch, a few hundred steps: the training error must fall to near zero."""
    from liftbench.bench.perf.standardize import overfit_one_batch
    from liftbench.bench.regimes.supervised import SupervisedRegime

    torch.manual_seed(0)
    dm = _datamodule(cache)
    batch = next(iter(dm.train_dataloader()))
    regime = SupervisedRegime(name, size="tiny", frames=dm.frames, flip_tta=False,
                              lifter_kwargs={"dropout": 0.0})
    regime.fit_normalizer(dm.datasets["train"].arrays["input"],
                          dm.datasets["train"].arrays["target"])
    mpjpe = overfit_one_batch(regime, batch, steps=400, lr=3e-3)
    assert mpjpe < 10.0, f"{name} cannot overfit one batch: {mpjpe:.1f} mm"


def test_copy_2d_and_mean_pose_are_registered_without_parameters():
    for name in ("copy_2d", "mean_pose"):
        model = create_lifter(name)
        assert sum(p.numel() for p in model.parameters()) == 0 and not model.trainable
