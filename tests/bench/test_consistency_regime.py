"""`regime=consistency`: training step, bad input, semi-supervised subset, CLI fit."""

from __future__ import annotations

import warnings

import pytest
import roma
import torch

from liftbench.bench.cli import main
from liftbench.bench.regimes import regime_class
from liftbench.leaderboard.records import read_records

B, V, T, J = 2, 2, 9, 17


def _regime(**loss):
    cls = regime_class("consistency")
    return cls(lifter="simplebaseline", size="tiny", loss=loss or None, flip_tta=False)


def _batch(v=V, seed=0):
    g = torch.Generator().manual_seed(seed)
    pose = torch.randn(B, 1, T, J, 3, generator=g) * 0.2
    rot = roma.rotvec_to_rotmat(torch.randn(B, v, 1, 3, generator=g) * 0.5)
    cam = torch.einsum("bvtkl,bvtjl->bvtjk", rot.expand(B, v, T, 3, 3), pose.expand(B, v, T, J, 3))
    inp = torch.cat((cam[..., :2] + 0.1, torch.rand(B, v, T, J, 1, generator=g)), -1)
    return {
        "input": inp, "target": cam - cam[..., :1, :], "valid": torch.ones(B, v, T, J, dtype=bool),
        "factor": torch.ones(B, v, T), "subject": torch.tensor([0, 1]),
        "action": torch.zeros(B, dtype=torch.long),
    }


def test_training_step_finite_and_backpropagates():
    regime = _regime()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # self.log without a Trainer
        loss = regime.training_step(_batch(), 0)
    loss.backward()
    grads = [p.grad for p in regime.lifter.parameters() if p.grad is not None]
    assert torch.isfinite(loss) and loss > 0 and grads
    assert all(torch.isfinite(g).all() for g in grads)


def test_consistency_term_changes_the_loss():
    batch = _batch(seed=1)
    torch.manual_seed(0)
    with_con = _regime(w_2d=1.0, w_con=0.3)
    without = _regime(w_2d=1.0, w_con=0.0)
    without.load_state_dict(with_con.state_dict())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a, b = with_con.training_step(batch, 0), without.training_step(batch, 0)
    assert a > b


def test_single_view_data_is_a_clear_error():
    regime = _regime()
    batch = _batch(v=1)
    with pytest.raises(ValueError, match=r"multi-view.*V >= 2.*views=2"):
        regime.training_step(batch, 0)
    single = {k: (x[:, 0] if k != "subject" and k != "action" else x) for k, x in batch.items()}
    with pytest.raises(ValueError, match="multi-view"):
        regime.training_step(single, 0)


def test_missing_confidence_is_one_with_warning():
    regime = _regime()
    batch = _batch(seed=2)
    batch["input"] = batch["input"][..., :2]
    with pytest.warns(UserWarning, match="confidence 1.0"):
        loss = regime.training_step(batch, 0)
    assert torch.isfinite(loss)


def test_labelled_subjects_get_3d_terms():
    batch = _batch(seed=3)
    torch.manual_seed(0)
    semi = regime_class("consistency")(
        lifter="simplebaseline", size="tiny", labelled_subjects=[1], flip_tta=False,
        loss={"w_pos": 1.0, "w_scale": 0.5, "w_vel": 20.0, "w_con": 0.2},
    )
    unsup = _regime(w_con=0.2)
    unsup.load_state_dict(semi.state_dict())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a, b = semi.training_step(batch, 0), unsup.training_step(batch, 0)
    assert torch.isfinite(a) and not torch.isclose(a, b)


def test_unknown_loss_key_and_bad_per():
    with pytest.raises(ValueError, match="unknown key w_bogus .*valid: w_2d, w_con"):
        _regime(w_bogus=1.0)
    with pytest.raises(ValueError, match="per"):
        _regime(per="clip")


def test_cli_fit_on_multiview_adaptation_data(tmp_path, capsys):
    args = [
        "fit", "model=simplebaseline", "size=tiny", "regime=consistency",
        "data.kwargs.motions=[walk,dance_a,run,kick]", "data.kwargs.subjects=1",
        "data.kwargs.cameras=2", "data.kwargs.views=2", "data.kwargs.train_on=adapt",
        f"data.kwargs.cache_dir={tmp_path / 'cache'}", "data.batch_size=8",
        f"output_dir={tmp_path / 'runs'}", f"results_dir={tmp_path / 'results'}",
        "logger=none", "trainer.max_steps=3",
    ]
    assert main(args) == 0
    (record,) = read_records(tmp_path / "results")
    assert record.regime["name"] == "consistency"
    assert record.regime["loss_weights"]["w_con"] == 0.3
    assert record.metrics["mpjpe"] > 0
    single = [a for a in args if not a.startswith("data.kwargs.views")]
    capsys.readouterr()
    assert main([*single, f"results_dir={tmp_path / 'r2'}"]) != 0
    assert "needs multi-view batches" in capsys.readouterr().err


@pytest.mark.slow
def test_perf_adaptation_experiments_end_to_end(tmp_path, capsys):
    """`liftbench perf adaptation` at toy size: every fit runs and every figure is reported."""
    out = tmp_path / "adaptation.json"
    assert main([
        "perf", "adaptation", "--motions", "[walk,dance_a,run,kick]", "--subjects", "1",
        "--cameras", "3", "--pretrain-epochs", "1", "--adapt-epochs", "1",
        "--fusion-pretrain-epochs", "1", "--fusion-epochs", "2", "--canonpose-width", "32",
        "--workdir", str(tmp_path / "work"), "--json", str(out),
    ]) == 0
    import json

    figures = json.loads(out.read_text())
    for run in ("pretrained_daily", "adapt_l2d", "adapt_l2d_lcon"):
        assert figures["consistency"][run]["mpjpe"] > 0
    for run in ("pretrained_daily", "canonpose", "cvsf_s1_s2"):
        assert figures["selffusion"][run]["n_mpjpe"] > 0
    jdr = figures["selffusion"]["fusion_2d"]
    assert 0 <= jdr["jdr_input"] <= 100 and 0 <= jdr["jdr_refined"] <= 100
    assert jdr["jdr_refined_oracle_pose"] >= jdr["jdr_input"]
