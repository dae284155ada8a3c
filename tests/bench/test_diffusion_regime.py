"""`regime=diffusion` (D3DP): tiny fit end to end, multi-hypothesis record, official conversion."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml

from liftbench.bench.checkpoints import is_liftbench_checkpoint, load_regime
from liftbench.bench.cli import main
from liftbench.bench.regimes.diffusion import DiffusionRegime
from liftbench.leaderboard.records import read_records
from liftbench.models.official import safe_torch_load


def test_tiny_fit_records_every_aggregation_under_a_multi_hypothesis_protocol(tmp_path):
    out = tmp_path / "out"
    args = ["fit", "model=d3dp", "size=tiny", "regime=diffusion", "data=synthetic",
            "data.kwargs.motions=[walk,run]", "data.kwargs.subjects=1", "data.kwargs.cameras=2",
            f"data.kwargs.cache_dir={tmp_path / 'cache'}", "data.batch_size=16",
            f"output_dir={out / 'runs'}", f"results_dir={out / 'results'}", "logger=none",
            "trainer.max_epochs=1", "trainer.limit_train_batches=2", "regime.hypotheses=3",
            "regime.steps=2"]  # fmt: skip
    assert main(args) == 0
    (record,) = read_records(out / "results")
    assert record.regime["name"] == "diffusion" and record.lifter["name"] == "d3dp"
    assert record.protocol["hypotheses"] == "H=3, K=2, p_agg"
    m = record.metrics
    for agg in ("p_agg", "j_agg", "j_best", "p_best"):
        assert np.isfinite(m[f"mpjpe_{agg}"]) and np.isfinite(m[f"pa_mpjpe_{agg}"])
    assert m["mpjpe"] == pytest.approx(m["mpjpe_p_agg"])  # the configured aggregation
    assert m["mpjpe_j_best"] <= min(m["mpjpe_p_best"], m["mpjpe_j_agg"])  # the oracle bound
    assert all("mpjpe_j_best" in v for v in record.groups["action"].values())


def test_the_regime_refuses_what_it_cannot_do():
    with pytest.raises(ValueError, match="needs a diffusion lifter"):
        DiffusionRegime("motionbert", size="tiny")
    with pytest.raises(ValueError, match="oracles"):
        DiffusionRegime("d3dp", size="tiny", aggregation="j_best")
    with pytest.raises(ValueError, match="standardize=false"):
        DiffusionRegime("d3dp", size="tiny", standardize=True)


def test_evaluation_is_reproducible_and_uses_no_target():
    torch.manual_seed(0)
    regime = DiffusionRegime("d3dp", size="tiny", hypotheses=2, steps=2,
                             aggregation="j_agg").eval()  # fmt: skip
    x = torch.rand(2, 27, 17, 3)
    with torch.no_grad():
        a, b = regime.predict_pose(x), regime.predict_pose(x)
    assert torch.equal(a, b) and a.shape == (2, 27, 17, 3)
    assert torch.all(a[..., 0, :] == 0)
    with torch.no_grad():  # a clip's result does not depend on its batch
        alone = regime.predict_pose(x[1:])
    torch.testing.assert_close(alone, a[1:], rtol=0, atol=1e-6)


def test_convert_official_both_ways(shared_data, tmp_path):
    root = shared_data / "official"
    if not (root / "d3dp_official.bin").is_file():
        pytest.skip(f"D3DP official-code fixture not found in {root}")
    cfg = tmp_path / "d3dp.yaml"  # main.py's argument names
    cfg.write_text(yaml.safe_dump({"number_of_frames": 27, "cs": 128, "dep": 4,
                                   "num_proposals": 2, "sampling_timesteps": 2}))
    ckpt = tmp_path / "converted.ckpt"
    assert main(["convert", str(root / "d3dp_official.bin"), "--model", "d3dp", "--config",
                 str(cfg), "--out", str(ckpt)]) == 0  # fmt: skip
    assert is_liftbench_checkpoint(ckpt)
    lifter = load_regime(ckpt).lifter
    with np.load(root / "d3dp_io.npz") as io:
        x = torch.from_numpy(io["x"])
        noise = torch.from_numpy(io["noise_init"]), list(torch.from_numpy(io["noise_steps"]))
        y = io["y"]
    with torch.no_grad():
        got = lifter.sample(x, 2, 2, noise_init=noise[0], noise_steps=noise[1]).numpy()
    assert np.abs(got - y).max() <= 1e-5
    back = tmp_path / "best_epoch.bin"
    assert main(["convert", str(ckpt), "--to-official", "--out", str(back)]) == 0
    original = safe_torch_load(root / "d3dp_official.bin")["model_pos"]
    exported = safe_torch_load(back)["model_pos"]
    assert list(exported) == list(original)
    assert all(torch.equal(exported[k], original[k]) for k in original)
    assert json.loads(json.dumps(sorted(exported)))  # plain string keys
