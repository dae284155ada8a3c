"""The demo's stage plan: pretrain first, every other stage starts from its checkpoint."""

from __future__ import annotations

import pytest

from liftbench.bench.demo import Stage, available_stages, load_stages, run_demo, stage_gains
from liftbench.leaderboard.records import RunRecord, write_record

STAGES = load_stages()[0]


def _fake_fit(calls):
    def fit(cfg):
        calls.append(cfg)
        rec = RunRecord(
            run_id=cfg.run_name, kind="fit", created="2026-12-01T00:00:00+00:00",
            lifter={"name": cfg.model.name, "size": cfg.model.size, "params": 1},
            regime={"name": cfg.regime.name}, metrics={"mpjpe": 1.0},
            protocol={"dataset": "synthetic", "split": "daily->sports", "source_2d": "gt",
                      "frames": 27, "stride": 27, "flip_tta": True,
                      "joints_evaluated": list(range(17)), "averaging": "frame"},
        )
        return write_record(rec, cfg.results_dir)
    return fit


def test_stage_plan(tmp_path):
    calls = []
    stages = [STAGES[0], STAGES[-1]]
    rows = run_demo(["videopose3d_27", "motionagformer_xs"], tmp_path, ["trainer.max_epochs=1"],
                    stages=stages, fit=_fake_fit(calls), seeds=(0,), baselines=())
    assert [(r["lifter"], r["stage"]) for r in rows] == [
        ("videopose3d_27", "pretrain"), ("videopose3d_27", "upper"),
        ("motionagformer_xs", "pretrain"), ("motionagformer_xs", "upper")]
    pre, upper = calls[0], calls[1]
    assert pre.init_from is None and pre.model.size == "tiny" and pre.trainer.max_epochs == 1
    assert pre.data.kwargs.motions == "all" and pre.data.kwargs.split == "daily->sports"
    assert upper.init_from.endswith("videopose3d_27-pretrain-s0/checkpoints/best.ckpt")
    assert upper.data.kwargs.train_on == "adapt" and upper.trainer.monitor is None
    assert calls[3].init_from.endswith("motionagformer_xs-pretrain-s0/checkpoints/best.ckpt")


def test_seeds_and_trivial_baselines_are_planned(tmp_path):
    calls = []
    rows = run_demo(["simplebaseline"], tmp_path, stages=[STAGES[0], STAGES[-1]],
                    fit=_fake_fit(calls), seeds=(0, 1))
    assert [(r["lifter"], r["stage"], r["seed"]) for r in rows] == [
        ("simplebaseline", "pretrain", 0), ("simplebaseline", "upper", 0),
        ("simplebaseline", "pretrain", 1), ("simplebaseline", "upper", 1),
        ("mean_pose", "baseline", 0), ("copy_2d", "baseline", 0),
        ("mean_pose", "baseline", 1), ("copy_2d", "baseline", 1)]
    assert [c.seed for c in calls] == [0, 0, 1, 1, 0, 0, 1, 1]
    assert calls[3].init_from.endswith("simplebaseline-pretrain-s1/checkpoints/best.ckpt")
    assert calls[4].init_from is None and calls[4].data.kwargs.split == "daily->sports"
    gains = {(g["lifter"], g["stage"]): g for g in stage_gains(rows)}
    assert gains[("simplebaseline", "upper")]["vs_pretrain"] == 0.0  # the fake fit: 1 mm each
    assert gains[("simplebaseline", "upper")]["runs"] == 2


def test_every_registered_adaptation_regime_is_a_stage():
    names = [s.name for s in available_stages()]
    assert names[0] == "pretrain" and names[-1] == "upper"
    with pytest.raises(ValueError, match="pretrain stage first"):
        run_demo(["videopose3d_27"], __import__("pathlib").Path("/tmp"),
                 stages=[Stage("x", "x", ("regime=supervised",))], fit=_fake_fit([]))


def test_stage_file_is_checked(tmp_path):
    from liftbench.bench.demo import load_stages

    stages, baseline = load_stages()
    assert [s.name for s in stages] == [s.name for s in STAGES] and baseline.name == "baseline"
    assert stages[0].overrides[:1] == ("regime=supervised",)  # the anchored list is spliced in
    bad = tmp_path / "stages.yaml"
    bad.write_text("stages: [{name: upper, overrides: []}]\nbaseline: {name: baseline}\n")
    with pytest.raises(ValueError, match="first stage must be 'pretrain'"):
        load_stages(bad)
