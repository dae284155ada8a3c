"""The HeatPose regime: trains a tiny lifter + head on synthetic clips, decodes, error falls."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from liftbench.bench.cli import main
from liftbench.bench.regimes import regime_class
from liftbench.bench.regimes.heatpose import HeatPoseRegime
from liftbench.datamodules.synthetic.datamodule import SyntheticDataModule
from liftbench.leaderboard.records import read_records


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("synthcache")


@pytest.fixture(scope="module")
def batches(cache):
    dm = SyntheticDataModule(motions=["walk", "run"], subjects=2, cameras=2, frames=9,
                             noise="clean", split="random", batch_size=16, cache_dir=cache,
                             flip=False)
    dm.prepare_data()
    dm.setup("fit")
    first = next(iter(dm.train_dataloader()))
    return [{k: v[i : i + 8] for k, v in first.items()} for i in (0, 8)]


def _module(lifter: str = "soloformer", **heatpose) -> HeatPoseRegime:
    torch.manual_seed(0)
    module = HeatPoseRegime(lifter=lifter, size="tiny", frames=9,
                            heatpose={"bins": 33, "hidden": 64, **heatpose}, flip_tta=True)
    module.log = lambda *args, **kwargs: None  # no Trainer here
    return module


def _error_mm(module: HeatPoseRegime, batches: list[dict]) -> float:
    """MPJPE (mm) of the decoded, flip-averaged, root-relative prediction, as evaluated."""
    errs = []
    module.eval()
    with torch.no_grad():
        for b in batches:
            pred = module.predict_pose(b["input"])
            target = b["target"] - b["target"][..., :1, :]
            errs.append(((pred - target).norm(dim=-1) * b["factor"][..., None]).mean())
    module.train()
    return float(torch.stack(errs).mean())


@pytest.mark.parametrize(("lifter", "mode"), [("soloformer", "factorised"),
                                              ("motionagformer_xs", "volume")])
def test_training_lowers_the_decoded_error(batches, lifter, mode):
    module = _module(lifter, mode=mode, bins=33 if mode == "factorised" else 13, extent=0.5)
    opt = torch.optim.AdamW(module.parameters(), lr=3e-3)
    before = _error_mm(module, batches)
    losses = []
    for step in range(30):
        opt.zero_grad()
        loss = module.training_step(batches[step % len(batches)], step)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    after = _error_mm(module, batches)
    assert sum(losses[-4:]) < 0.9 * sum(losses[:4])
    assert after < 0.6 * before, (before, after)


def test_prediction_contract_and_decoders(batches):
    module = _module().eval()
    x = batches[0]["input"][:2]
    with torch.no_grad():
        pred = module.predict_pose(x)
        assert pred.shape == (2, 9, 17, 3) and torch.isfinite(pred).all()
        assert torch.all(pred[..., 0, :] == 0)  # root set to 0
        # decoded coordinates lie inside the grid; argmax gives voxel centres
        assert pred.abs().max() <= 2 * module.grid.extent
        module.decoder = "argmax"
        raw = module(x)
        steps = (raw / module.grid.step).round() * module.grid.step
        torch.testing.assert_close(raw, steps)
    assert module.logits(x).shape == (2, 9, 17, 3, 33)


def test_optional_coordinate_terms_are_logged_and_used(batches):
    module = _module()
    module.loss_cfg = {**module.loss_cfg, "w_ce": 1.0, "w_pos": 1.0}
    logged = {}
    module.log = lambda name, value, **kw: logged.__setitem__(name, float(value))
    module.training_step(batches[0], 0)
    assert {"train/ce", "train/mpjpe", "train/loss", "train/outside_grid"} <= set(logged)
    assert logged["train/loss"] == pytest.approx(logged["train/ce"] + logged["train/mpjpe"],
                                                 rel=1e-5)


def test_standardize_z_scores_the_input_only(batches):
    # auto is off (the paper's setting); true z-scores what the lifter sees, while the targets
    # and the decoded coordinates stay in the grid's 2.5D units
    assert _module().normalizer is None
    torch.manual_seed(0)
    module = HeatPoseRegime(lifter="soloformer", size="tiny", frames=9, standardize=True,
                            heatpose={"bins": 33, "hidden": 64}, flip_tta=False)
    inputs = torch.cat([b["input"] for b in batches])
    targets = torch.cat([b["target"] for b in batches])
    assert module.fit_normalizer(inputs, targets)
    seen, features = [], module.lifter.forward_features
    module.lifter.forward_features = lambda z: seen.append(z) or features(z)
    x = batches[0]["input"][:2]
    with torch.no_grad():
        logits = module.logits(x)
        torch.testing.assert_close(seen[-1], module.normalizer.normalize_input(x))
        assert not torch.allclose(seen[-1], x)
        torch.testing.assert_close(module(x), module.decode(logits))  # no output un-z-scoring
    assert module(x).abs().max() <= module.grid.extent + 1e-6


def test_bad_configuration_is_refused():
    assert regime_class("heatpose") is HeatPoseRegime
    with pytest.raises(ValueError, match="forward_features"):
        HeatPoseRegime(lifter="simplebaseline", size="tiny")
    with pytest.raises(ValueError, match="unknown keys"):
        HeatPoseRegime(lifter="soloformer", size="tiny", heatpose={"voxels": 3})
    with pytest.raises(ValueError, match="w_ce"):
        HeatPoseRegime(lifter="soloformer", size="tiny", loss={"w_con": 1.0})
    with pytest.raises(ValueError, match="decoder"):
        HeatPoseRegime(lifter="soloformer", size="tiny", heatpose={"decoder": "mean"})


def test_fit_with_model_head_heatpose(cache, tmp_path: Path):
    # the CLI route: model.head=heatpose on the supervised default, soloformer, 2 steps + val
    args = [
        "fit", "model=soloformer", "size=tiny", "model.head=heatpose", "data=synthetic",
        "data.kwargs.motions=[walk,run]", "data.kwargs.subjects=2", "data.kwargs.cameras=2",
        "data.kwargs.frames=9", "data.kwargs.split=random", "data.kwargs.noise=clean",
        f"data.kwargs.cache_dir={cache}", "data.batch_size=16",
        "trainer.max_epochs=1", "trainer.limit_train_batches=2", "logger=none",
        f"output_dir={tmp_path / 'runs'}", f"results_dir={tmp_path / 'results'}",
    ]
    assert main(args) == 0
    (record,) = read_records(tmp_path / "results")
    assert record.lifter["name"] == "soloformer" and record.metrics["mpjpe"] > 0
    ckpt = torch.load(tmp_path / "runs" / record.run_id / "checkpoints" / "best.ckpt",
                      map_location="cpu", weights_only=False)
    assert any(k.startswith("head.fc2") for k in ckpt["state_dict"])
    assert ckpt["state_dict"]["head.fc2.weight"].shape[0] == 3 * 65  # the regime's defaults
    # the head is the HeatPose regime's only with the supervised (3D-label) regimes
    bad = [a.replace("model.head=heatpose", "model.head=heatmap") for a in args]
    assert main(bad) == 2


@pytest.mark.slow
def test_perf_heatpose_target_roundtrip(tmp_path: Path):
    # `liftbench perf heatpose --roundtrip-only`: the exact target's decoding error, in mm
    out = tmp_path / "rt.json"
    assert main(["perf", "heatpose", "--roundtrip-only", "--motions", "walk,run",
                 "--subjects", "3", "--cache-dir", str(tmp_path / "cache"), "--out",
                 str(tmp_path), "--json", str(out)]) == 0
    figures = json.loads(out.read_text())["target_roundtrip_mm"]
    assert figures["main_only_soft_argmax"] < 5.0  # sub-voxel (a voxel is ~59 mm here)
    assert figures["gmm_soft_argmax"] < figures["gmm_argmax"] < 35.0
