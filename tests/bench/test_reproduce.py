"""`liftbench reproduce`: claim files, the run plan over seeds, the paired test, one real run."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from liftbench.bench.cli import main
from liftbench.bench.config import compose, config_hash
from liftbench.bench.reproduce import (
    BASELINE,
    evaluation_set,
    list_claims,
    load_claim,
    paired_one_sided,
    render,
    run_claim,
    summarise,
)
from liftbench.leaderboard.records import RunRecord, read_record, write_record

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


def _fake_fit(calls, values, keyed=False):
    """A fit writing a record with `values[(run, seed[, views])]` as its MPJPE.

    `copy_2d` (the gate's automatic baseline) scores 100 mm unless `values` says otherwise and
    has no `iter<k>/` metrics. `keyed`: the protocol names its test set (`cache_key`, one per
    seed and view count) as the clip cache does; else the test set is the protocol + seed.
    """
    def fit(cfg):
        calls.append(cfg)
        name, seed = cfg.run_name.split("-")[1], int(cfg.seed)
        views = int(cfg.data.kwargs.get("views", 1))
        value = values.get((name, seed, views), values.get((name, seed)))
        metrics = {"mpjpe": value, "iter0/x": 5.0, "iter2/x": 3.0}
        if name == BASELINE:
            metrics = {"mpjpe": 100.0 if value is None else value}
        protocol = {"dataset": "synthetic", "split": "daily->sports", "source_2d": "gt",
                    "frames": 27, "stride": 27, "flip_tta": True,
                    "joints_evaluated": list(range(17)), "averaging": "frame"}
        if keyed:
            protocol["cache_key"] = f"s{seed}-v{views}"
        rec = RunRecord(
            run_id=cfg.run_name, kind="fit", created="2026-12-01T00:00:00+00:00",
            lifter={"name": cfg.model.name, "size": "tiny", "params": 1},
            regime={"name": cfg.regime.name}, seed=seed, metrics=metrics, protocol=protocol,
            config_hash=config_hash(cfg),
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
    # one copy_2d run per test set: pretrain and adapted share theirs (same protocol and seed)
    assert [(c.run_name, c.seed) for c in calls] == [
        ("toy-pretrain-s0", 0), ("toy-copy_2d-s0", 0), ("toy-adapted-s0", 0),
        ("toy-pretrain-s1", 1), ("toy-copy_2d-s1", 1), ("toy-adapted-s1", 1),
        ("toy-pretrain-s2", 2), ("toy-copy_2d-s2", 2), ("toy-adapted-s2", 2)]
    assert calls[2].init_from.endswith("toy-pretrain-s0/checkpoints/best.ckpt")
    assert calls[0].trainer.max_epochs == 1 and calls[0].init_from is None
    copy = calls[1]  # the claim's data and the user's overrides, not the model's or regime's
    assert (copy.model.name, copy.regime.name, copy.init_from) == ("copy_2d", "supervised", None)
    assert copy.trainer.max_epochs == 1 and copy.results_dir.endswith("results/copy_2d")
    summary = summarise(claim, records, [0, 1, 2])
    (test,) = summary["comparisons"]
    assert test["gain"] == pytest.approx(np.mean([2.0, 2.5, 3.0]))
    assert summary["reproduced"] and test["p"] < 0.05 and test["inconclusive"] is None
    assert summary["gates"]["pretrain"]["ratio"] == pytest.approx(0.11)  # 11 mm / 100 mm
    # an interrupted reproduction continues: nothing is fitted again
    again = []
    run_claim(claim, tmp_path / "out", [0, 1, 2], ["trainer.max_epochs=1"], reuse=True,
              fit=_fake_fit(again, values))
    assert again == []
    # another configuration is not "the same run": a changed override reruns every trained
    # run (copy_2d's records stay, keyed by their test set)
    run_claim(claim, tmp_path / "out", [0, 1, 2], ["trainer.max_epochs=2"], reuse=True,
              fit=_fake_fit(again, values))
    assert [c.run_name for c in again] == [f"toy-{n}-s{s}" for s in range(3)
                                           for n in ("pretrain", "adapted")]


def test_metric_sides_and_last_iteration(tmp_path):
    claim = load_claim(str(_claim_file(tmp_path, [
        {"better": "adapted:iter{last}/x", "worse": "adapted:iter0/x"}])))
    values = {(n, s): 1.0 for n in ("pretrain", "adapted") for s in range(2)}
    records = run_claim(claim, tmp_path / "out", [0, 1], fit=_fake_fit([], values))
    (test,) = summarise(claim, records, [0, 1])["comparisons"]
    assert test["better"] == 3.0 and test["worse"] == 5.0 and test["holds"]
    # copy_2d has no iter<k>/x: the gate falls back to the claim's metric, MPJPE
    assert [(g["metric"], g["ratio"]) for g in test["gate"]] == [("mpjpe", 0.01)] * 2


def _two_test_sets(tmp_path):
    """A claim whose runs `a` (1 view) and `b` (2 views) are tested on different clips."""
    path = tmp_path / "gate.yaml"
    path.write_text(
        "claim: a beats b\nbase: [experiment=demo, model=simplebaseline]\n"
        "runs:\n  a: {overrides: [regime=supervised]}\n"
        "  b: {overrides: [regime=consistency, model=videopose3d_27, data.kwargs.views=2]}\n"
        "comparisons: [{better: a, worse: b}, {better: 'a:iter{last}/x', worse: 'a:iter0/x'}]\n")
    return load_claim(str(path))


def test_gate_under_trained_comparison_is_inconclusive(tmp_path):
    claim = _two_test_sets(tmp_path)
    values = {("a", s): 50.0 + 2 * s for s in range(3)}  # 0.50-0.54x copy_2d (100 mm)
    values.update({("b", s): 58.0 + 2 * s for s in range(3)})
    values.update({(BASELINE, s, 2): 90.0 for s in range(3)})  # b: 0.64-0.69x: under-trained
    calls = []
    records = run_claim(claim, tmp_path / "out", [0, 1, 2], fit=_fake_fit(calls, values, True))
    copies = [c for c in calls if c.model.name == BASELINE]
    assert [(c.run_name, c.data.kwargs.get("views", 1)) for c in copies] == [
        ("gate-copy_2d-s0", 1), ("gate-copy_2d-s0-b", 2), ("gate-copy_2d-s1", 1),
        ("gate-copy_2d-s1-b", 2), ("gate-copy_2d-s2", 1), ("gate-copy_2d-s2-b", 2)]
    assert all(c.regime.name == "supervised" for c in copies)
    summary = summarise(claim, records, [0, 1, 2])
    gates = summary["gates"]
    assert gates["a"]["ratio"] == pytest.approx(np.mean([0.50, 0.52, 0.54]))
    assert gates["b"]["ratio"] == pytest.approx(60 / 90)
    assert gates["b"]["per_seed"] == pytest.approx({0: 58 / 90, 1: 60 / 90, 2: 62 / 90})
    assert gates["b"]["copy_2d"] == 90.0 and gates["b"]["under_trained"]
    assert not gates["a"]["under_trained"]
    first, second = summary["comparisons"]
    assert first["holds"] and first["p"] < 0.05  # the test alone would say "reproduced"
    assert first["inconclusive"] == "under-trained"
    assert second["holds"] and second["inconclusive"] is None
    assert summary["verdict"] == "inconclusive (under-trained)" and not summary["reproduced"]
    text = render(summary)
    assert "| b | 60.0 ± 5.0 | 90.0 (mpjpe) | 0.67× under-trained |" in text
    assert "0.52× / 0.67× under-trained (mpjpe)" in text
    assert "inconclusive (under-trained; test: yes)" in text
    assert "**INCONCLUSIVE (UNDER-TRAINED)**" in text
    # copy_2d runs are reused too; with copy_2d at 200 mm on b's clips the claim holds
    again = []
    run_claim(claim, tmp_path / "out", [0, 1, 2], reuse=True, fit=_fake_fit(again, values, True))
    assert again == []
    values.update({(BASELINE, s, 2): 200.0 for s in range(3)})
    records = run_claim(claim, tmp_path / "out2", [0, 1, 2], fit=_fake_fit([], values, True))
    summary = summarise(claim, records, [0, 1, 2])
    assert summary["verdict"] == "reproduced" and summary["gates"]["b"]["ratio"] < 0.6
    # a comparison that passes the gate and fails its test is a failure, not inconclusive
    values.update({("b", s): 40.0 + s for s in range(3)})
    records = run_claim(claim, tmp_path / "out3", [0, 1, 2], fit=_fake_fit([], values, True))
    assert summarise(claim, records, [0, 1, 2])["verdict"] == "not reproduced"


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
    path.write_text("claim: x\nruns:\n  copy_2d: {}\ncomparisons: []\n")
    with pytest.raises(ValueError, match="'copy_2d' is reserved"):
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
    assert "| better | worse |" in out and "× copy_2d" in out
    summary = json.loads((tmp_path / "out" / "tiny" / "tiny.json").read_text())
    assert summary["seeds"] == [0, 1] and summary["comparisons"][0]["n"] == 2
    # the gate: one real copy_2d run per seed (b trains on other takes, same test clips)
    results = tmp_path / "out" / "tiny" / "results"
    copies = {read_record(p).seed: p for p in (results / "copy_2d").glob("*.json")}
    assert sorted(copies) == [0, 1]
    for run in ("a", "b"):
        mine, base = [], []
        for p in (results / run).glob("*.json"):
            rec = read_record(p)
            assert evaluation_set(p) == evaluation_set(copies[rec.seed])  # the same clips
            mine.append(rec.metrics["mpjpe"])
            base.append(read_record(copies[rec.seed]).metrics["mpjpe"])
        ratio = np.mean(mine) / np.mean(base)
        assert summary["gates"][run]["ratio"] == pytest.approx(ratio)
        assert f"{ratio:.2f}×" in out
    # 2 batches of training: far from 0.6x copy_2d, so the comparison says nothing
    assert summary["gates"]["a"]["ratio"] > 0.6
    assert summary["verdict"] == "inconclusive (under-trained)" and "INCONCLUSIVE" in out


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
