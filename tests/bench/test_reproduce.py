"""`liftbench reproduce`: claim files, the run plan over seeds, the paired test, one real run."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from liftbench.bench.cli import main
from liftbench.bench.config import compose
from liftbench.bench.reproduce import (
    list_claims,
    load_claim,
    paired_one_sided,
    run_claim,
    summarise,
)
from liftbench.leaderboard.records import RunRecord, write_record

CLAIMS = ("consistency", "heatpose", "kasportsformer", "pseudolabel", "selffusion")


@pytest.mark.parametrize("name", CLAIMS)
def test_packaged_claims_compose(name):
    """Every run of every packaged claim is a valid `fit` config."""
    assert name in list_claims()
    claim = load_claim(name)
    assert claim.seeds >= 3 and claim.comparisons
    for run in claim.runs.values():
        cfg = compose([*claim.base, *run.get("overrides", []), "seed=0"])
        assert cfg.model.size == "tiny"


def _fake_fit(calls, values):
    def fit(cfg):
        calls.append(cfg)
        name = cfg.run_name.split("-")[1]
        rec = RunRecord(
            run_id=cfg.run_name, kind="fit", created="2026-12-01T00:00:00+00:00",
            lifter={"name": cfg.model.name, "size": "tiny", "params": 1},
            regime={"name": cfg.regime.name}, seed=int(cfg.seed),
            metrics={"mpjpe": values[(name, int(cfg.seed))], "iter0/x": 5.0, "iter2/x": 3.0},
            protocol={"dataset": "synthetic", "split": "daily->sports", "source_2d": "gt",
                      "frames": 27, "stride": 27, "flip_tta": True,
                      "joints_evaluated": list(range(17)), "averaging": "frame"},
        )
        return write_record(rec, cfg.results_dir)
    return fit


def _claim_file(tmp_path, comparisons):
    path = tmp_path / "toy.yaml"
    path.write_text(
        "claim: adapted beats pretrain\nbase: [experiment=demo, model=simplebaseline]\n"
        "runs:\n  pretrain: {overrides: [regime=supervised]}\n"
        "  adapted: {init_from: pretrain, overrides: [regime=consistency]}\n"
        f"comparisons: {json.dumps(comparisons)}\n")
    return path


def test_plan_seeds_init_from_and_reuse(tmp_path):
    claim = load_claim(str(_claim_file(tmp_path, [{"better": "adapted", "worse": "pretrain"}])))
    values = {("pretrain", s): 10.0 + s for s in range(3)}
    values.update({("adapted", s): 8.0 + 0.5 * s for s in range(3)})
    calls = []
    records = run_claim(claim, tmp_path / "out", [0, 1, 2], ["trainer.max_epochs=1"],
                        fit=_fake_fit(calls, values))
    assert [(c.run_name, c.seed) for c in calls] == [
        ("toy-pretrain-s0", 0), ("toy-adapted-s0", 0), ("toy-pretrain-s1", 1),
        ("toy-adapted-s1", 1), ("toy-pretrain-s2", 2), ("toy-adapted-s2", 2)]
    assert calls[1].init_from.endswith("toy-pretrain-s0/checkpoints/best.ckpt")
    assert calls[0].trainer.max_epochs == 1 and calls[0].init_from is None
    summary = summarise(claim, records, [0, 1, 2])
    (test,) = summary["comparisons"]
    assert test["gain"] == pytest.approx(np.mean([2.0, 2.5, 3.0]))
    assert summary["reproduced"] and test["p"] < 0.05
    # an interrupted reproduction continues: nothing is fitted again
    again = []
    run_claim(claim, tmp_path / "out", [0, 1, 2], reuse=True, fit=_fake_fit(again, values))
    assert again == []


def test_metric_sides_and_last_iteration(tmp_path):
    claim = load_claim(str(_claim_file(tmp_path, [
        {"better": "adapted:iter{last}/x", "worse": "adapted:iter0/x"}])))
    values = {(n, s): 1.0 for n in ("pretrain", "adapted") for s in range(2)}
    records = run_claim(claim, tmp_path / "out", [0, 1], fit=_fake_fit([], values))
    (test,) = summarise(claim, records, [0, 1])["comparisons"]
    assert test["better"] == 3.0 and test["worse"] == 5.0 and test["holds"]


def test_paired_test_matches_scipy_and_a_numpy_reference():
    rng = np.random.default_rng(0)
    a, b = rng.normal(10, 1, 5), rng.normal(11, 1, 5)
    res = paired_one_sided(dict(enumerate(a)), dict(enumerate(b)))
    d = b - a
    t = d.mean() / (d.std(ddof=1) / np.sqrt(len(d)))
    assert res["p"] == pytest.approx(stats.t.sf(t, len(d) - 1))  # one-sided: H1 a < b
    assert res["p"] == pytest.approx(stats.ttest_rel(a, b, alternative="less").pvalue)
    half = stats.t.ppf(0.975, 4) * d.std(ddof=1) / np.sqrt(5)
    assert res["ci"] == pytest.approx([d.mean() - half, d.mean() + half])
    # the wrong direction is not significant
    assert paired_one_sided(dict(enumerate(b)), dict(enumerate(a)))["p"] > 0.5


def test_bad_claims_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown claim 'nope'"):
        load_claim("nope")
    path = _claim_file(tmp_path, [{"better": "missing", "worse": "pretrain"}])
    with pytest.raises(ValueError, match="naming one of the runs"):
        load_claim(str(path))
    path.write_text("claim: x\nruns:\n  a: {init_from: b}\n  b: {}\ncomparisons: []\n")
    with pytest.raises(ValueError, match="not an earlier run"):
        load_claim(str(path))


def test_cli_end_to_end_tiny(tmp_path, capsys):
    path = tmp_path / "tiny.yaml"
    path.write_text(
        "claim: tiny\nbase: [experiment=demo, model=simplebaseline, data.kwargs.subjects=2,\n"
        "  'data.kwargs.motions=[walk,run]', data.kwargs.variants=1, trainer.max_epochs=1,\n"
        "  trainer.limit_train_batches=2, trainer.limit_val_batches=1, logger=none,\n"
        f"  data.kwargs.cache_dir={tmp_path / 'cache'}]\n"
        "runs:\n  a: {overrides: [regime=supervised]}\n"
        "  b: {init_from: a, overrides: [regime=supervised, data.kwargs.train_on=adapt,"
        " trainer.monitor=null]}\n"
        "comparisons: [{better: b, worse: a}]\n")
    assert main(["reproduce", str(path), "--seeds", "2", "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "| better | worse |" in out and "REPRODUCED" in out
    summary = json.loads((tmp_path / "out" / "tiny" / "tiny.json").read_text())
    assert summary["seeds"] == [0, 1] and summary["comparisons"][0]["n"] == 2


def test_extra_evaluation_joins_the_metrics(tmp_path, monkeypatch):
    import liftbench.bench.reproduce as rp

    path = tmp_path / "ev.yaml"
    path.write_text(
        "claim: x\nbase: [experiment=demo, model=simplebaseline]\n"
        "runs:\n  pretrain: {overrides: [regime=supervised]}\n"
        "  adapted: {init_from: pretrain, overrides: [regime=supervised], evaluate: fake}\n"
        "comparisons: [{better: 'adapted:extra/miss', worse: 'adapted:extra/before'}]\n")
    seen = []

    def fake(cfg, ckpt):
        seen.append((cfg.run_name, ckpt.name))
        return {"extra/miss": 1.0 + cfg.seed * 0.1, "extra/before": 3.0}

    monkeypatch.setattr(rp, "_evaluators", lambda: {"fake": fake})
    claim = load_claim(str(path))
    values = {(n, s): 1.0 for n in ("pretrain", "adapted") for s in range(2)}
    records = run_claim(claim, tmp_path / "out", [0, 1], fit=_fake_fit([], values))
    assert seen == [("ev-adapted-s0", "best.ckpt"), ("ev-adapted-s1", "best.ckpt")]
    (test,) = summarise(claim, records, [0, 1])["comparisons"]
    assert test["better"] == pytest.approx(1.05) and test["worse"] == 3.0 and test["holds"]
    # kept: a reused run is not evaluated again
    run_claim(claim, tmp_path / "out", [0, 1], reuse=True, fit=_fake_fit([], values))
    assert len(seen) == 2
    path.write_text(path.read_text().replace("evaluate: fake", "evaluate: nope"))
    with pytest.raises(ValueError, match="asks for evaluation 'nope'"):
        run_claim(load_claim(str(path)), tmp_path / "out2", [0], fit=_fake_fit([], values))
