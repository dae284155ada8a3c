"""`liftbench reproduce zoo`: the embedded leaderboard of every registered lifter.

The packaged file composes for every lifter; a fake fit checks the plan, the copy_2d ratio on
the same test sets, per-lifter budgets, `--reuse` and failures; tiny real runs check the CLI
(the table, CPU-minutes, the published files, `--reuse` rerunning nothing) and a plug-in lifter
registered by `--import`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from liftbench.bench.cli import main
from liftbench.bench.config import compose, config_hash
from liftbench.bench.zoo import (
    is_leaderboard,
    lifter_overrides,
    load_zoo,
    run_zoo,
    select_lifters,
)
from liftbench.bench.zoo_table import render_zoo, summarise_zoo
from liftbench.leaderboard.gate import BASELINE
from liftbench.leaderboard.records import RunRecord, read_record, write_record
from liftbench.models import list_lifters

TINY = ["data.kwargs.subjects=3", "data.kwargs.motions=[walk,run]", "data.kwargs.variants=1",
        "trainer.max_epochs=1", "trainer.limit_train_batches=2", "trainer.limit_val_batches=1",
        "logger=none"]


@pytest.fixture(autouse=True)
def _scratch(tmp_path, monkeypatch):
    """FLOP counts and published tables go to the test's folder."""
    monkeypatch.setenv("LIFTBENCH_CACHE", str(tmp_path / "lbc"))
    monkeypatch.setenv("LIFTBENCH_TABLES_DIR", str(tmp_path / "tables"))


def test_packaged_zoo_composes_for_every_lifter():
    assert is_leaderboard("zoo") and not is_leaderboard("consistency")
    zoo = load_zoo("zoo")
    assert zoo.seeds == 3 and list(zoo.settings) == ["in_domain", "daily_to_sports"]
    lifters = select_lifters(zoo)
    # every registered lifter but the file's duplicates (same tiny network as another row)
    assert lifters[0] == BASELINE
    assert sorted(lifters) == sorted(set(list_lifters()) - set(zoo.exclude)) and zoo.exclude
    for setting in zoo.settings.values():
        for lifter in lifters:
            cfg = compose([*setting.base, *lifter_overrides(zoo, setting, lifter), "seed=0"])
            assert (cfg.model.name, cfg.model.size) == (lifter, "tiny")
            assert cfg.regime.name == ("diffusion" if lifter == "d3dp" else "supervised")
    in_domain, sports = zoo.settings["in_domain"], zoo.settings["daily_to_sports"]
    assert in_domain.label == "in-domain" and sports.label == "daily->sports"

    def epochs(setting, lifter):
        return compose([*setting.base, *lifter_overrides(zoo, setting, lifter)]
                       ).trainer.max_epochs

    assert epochs(in_domain, "simplebaseline") == 40 and epochs(in_domain, "kasportsformer") == 8
    assert epochs(in_domain, "stcformer") == 20 and epochs(in_domain, "motionagformer_xs") == 13
    # the tiny-transformer recipe for every transformer, its setting's lr last; not for the MLPs
    # nor for D3DP (its diffusion clamp assumes unstandardised poses)
    for setting in (in_domain, sports):
        for lifter, lr in (("motionagformer_xs", 4e-3), ("motionbert", 2e-3), ("stcformer", 4e-3),
                           ("kasportsformer", 4e-3), ("pstmo", 4e-3)):
            cfg = compose([*setting.base, *lifter_overrides(zoo, setting, lifter)])
            want = lr if setting is in_domain or lifter != "motionbert" else 4e-3
            assert cfg.regime.standardize is True and cfg.trainer.precision == "bf16-mixed"
            assert cfg.regime.optim.lr == pytest.approx(want), (setting.name, lifter)
            if setting is in_domain:  # batch 32 was the lever for the two slow 2-layer builds
                assert cfg.data.batch_size == (32 if lifter in ("motionbert", "stcformer")
                                               else 64), lifter
        for lifter in ("simplebaseline", "d3dp"):
            cfg = compose([*setting.base, *lifter_overrides(zoo, setting, lifter)])
            assert cfg.regime.get("standardize", "auto") != True  # noqa: E712
    assert epochs(sports, "kasportsformer") == 8  # the demo's pretrain stage
    d3dp = compose([*sports.base, *lifter_overrides(zoo, sports, "d3dp")])  # top-level entry
    assert (d3dp.trainer.check_val_every_n_epoch, d3dp.trainer.limit_val_batches) == (4, 1)
    sports_cfg = compose(sports.base)
    assert sports_cfg.data.kwargs.split == "daily->sports"
    assert compose(in_domain.base).data.kwargs.split == "in-domain"


def test_select_lifters_patterns_and_plugins(monkeypatch):
    from liftbench.models.registry import LIFTERS, LifterEntry

    zoo = load_zoo("zoo")
    assert select_lifters(zoo, ["stcformer*", "mean_pose"]) == [
        BASELINE, "mean_pose", "stcformer", "stcformer_l"]
    with pytest.raises(ValueError, match="matches no registered lifter.*--import"):
        select_lifters(zoo, ["nope*"])
    # a lifter registered later (what `--import MODULE` does) is in the default zoo
    monkeypatch.setitem(LIFTERS.entries, "zz_plugin", LifterEntry("zz_plugin", lambda: None))
    assert select_lifters(zoo)[-1] == "zz_plugin"


TOY = """\
kind: leaderboard
title: toy board
seeds: 2
lifters: [simplebaseline, videopose3d_27]
settings:
  a:
    label: A
    base: [experiment=in_domain]
  b:
    label: "x->y"
    base: [experiment=demo]
    training:
      videopose3d_27: [data.kwargs.noise=clean]   # another test set
training:
  "video* nothing": [trainer.max_epochs=3]
"""


def _fake_fit(calls, fail=()):
    """A fit writing a record: MPJPE per lifter + seed; copy_2d 100 mm (200 on clean clips).

    The test set is the data config and seed (`protocol.cache_key`), as the clip cache has it.
    """
    base = {"simplebaseline": 40.0, "videopose3d_27": 50.0, "mean_pose": 90.0}

    def fit(cfg):
        name, seed = cfg.model.name, int(cfg.seed)
        calls.append((cfg.run_name, cfg))
        if (name, seed) in fail:
            raise RuntimeError("boom")
        clean = cfg.data.kwargs.noise == "clean"
        value = (200.0 if clean else 100.0) if name == BASELINE else base[name] + seed
        key = json.dumps({"data": dict(cfg.data.kwargs), "seed": seed}, sort_keys=True)
        rec = RunRecord(
            run_id=f"{cfg.run_name}-{len(calls)}", kind="fit", created="2026-12-01T00:00:00+00:00",
            lifter={"name": name, "size": "tiny", "params": 1}, regime={"name": cfg.regime.name},
            seed=seed, metrics={"mpjpe": value, "pa_mpjpe": value / 2},
            protocol={"dataset": "synthetic", "split": cfg.data.kwargs.split, "source_2d": "gt",
                      "frames": 27, "stride": 27, "flip_tta": True,
                      "joints_evaluated": list(range(17)), "averaging": "frame",
                      "cache_key": key},
            config_hash=config_hash(cfg), config={"model": {"kwargs": {}}},
            extra={} if name == BASELINE else {"train": {"cpu_s": 60.0 * (1 + seed),
                                                         "steps": 3, "threads": 1}})
        return write_record(rec, cfg.results_dir)
    return fit


def test_plan_ratio_budgets_reuse_and_failures(tmp_path):
    path = tmp_path / "toy.yaml"
    path.write_text(TOY)
    zoo = load_zoo(str(path))
    lifters = select_lifters(zoo)
    assert lifters == [BASELINE, "simplebaseline", "videopose3d_27"]
    calls = []
    runs = run_zoo(zoo, tmp_path / "out", [0, 1], lifters, ["trainer.limit_train_batches=2"],
                   fit=_fake_fit(calls))
    names = [n for n, _ in calls]
    assert names == [
        "toy-a-copy_2d-s0", "toy-a-simplebaseline-s0", "toy-a-videopose3d_27-s0",
        "toy-a-copy_2d-s1", "toy-a-simplebaseline-s1", "toy-a-videopose3d_27-s1",
        "toy-b-copy_2d-s0", "toy-b-simplebaseline-s0", "toy-b-videopose3d_27-s0",
        "toy-b-copy_2d-s0-videopose3d_27",  # copy_2d on the clean clips vp3d was tested on
        "toy-b-copy_2d-s1", "toy-b-simplebaseline-s1", "toy-b-videopose3d_27-s1",
        "toy-b-copy_2d-s1-videopose3d_27"]
    cfgs = dict(calls)
    assert cfgs["toy-a-videopose3d_27-s0"].trainer.max_epochs == 3  # top-level budget
    assert cfgs["toy-a-simplebaseline-s0"].trainer.max_epochs == 40  # the setting's own
    assert all(c.trainer.limit_train_batches == 2 for c in cfgs.values())  # the user's
    extra = cfgs["toy-b-copy_2d-s0-videopose3d_27"]
    assert (extra.model.name, extra.data.kwargs.noise) == (BASELINE, "clean")
    assert runs.ran == 14 and not runs.failed

    summary = summarise_zoo(zoo, runs, [0, 1], lifters)
    a, b = summary["settings"]["a"]["rows"], summary["settings"]["b"]["rows"]
    assert [r["lifter"] for r in a] == ["simplebaseline", "videopose3d_27", BASELINE]  # by MPJPE
    sb = a[0]
    assert sb["mpjpe"]["mean"] == pytest.approx(40.5) and sb["mpjpe"]["n"] == 2
    assert sb["copy_2d_ratio"] == pytest.approx(40.5 / 100)
    assert sb["train_cpu_min"] == pytest.approx(1.5) and sb["params"] == 287795
    assert a[2]["copy_2d_ratio"] == 1.0 and a[2]["train_cpu_min"] is None
    vp = next(r for r in b if r["lifter"] == "videopose3d_27")
    assert vp["copy_2d_ratio"] == pytest.approx(50.5 / 200)  # its own test set's copy_2d
    assert vp["flag"] == "other test set" and vp["training"] == [
        "trainer.max_epochs=3", "data.kwargs.noise=clean"]
    text = render_zoo(summary)
    assert "### x->y" in text and "| 1 | simplebaseline | 287,795 |" in text
    assert "| 40.5 ± " in text and "0.41×" in text and "Total wall time" in text

    # --reuse: nothing again; a changed budget reruns that lifter only (2 settings x 2 seeds)
    again = []
    run_zoo(zoo, tmp_path / "out", [0, 1], lifters, ["trainer.limit_train_batches=2"],
            reuse=True, fit=_fake_fit(again))
    assert again == []
    path.write_text(TOY.replace("training:\n  \"video*", "training:\n  simplebaseline: "
                                "[trainer.max_epochs=5]\n  \"video*"))
    zoo = load_zoo(str(path))
    run_zoo(zoo, tmp_path / "out", [0, 1], lifters, ["trainer.limit_train_batches=2"],
            reuse=True, fit=_fake_fit(again))
    assert sorted(n for n, _ in again) == sorted(
        f"toy-{s}-simplebaseline-s{seed}" for s in "ab" for seed in (0, 1))

    # a failing run is reported, the others go on, the row says which seed failed
    calls = []
    runs = run_zoo(zoo, tmp_path / "out2", [0, 1], lifters, fit=_fake_fit(
        calls, fail={("videopose3d_27", 1)}))
    assert len(runs.failed) == 2 and runs.ran == 12 - 2 + 1  # + vp3d's copy_2d run in b, s0
    rows = summarise_zoo(zoo, runs, [0, 1], lifters)["settings"]["a"]["rows"]
    vp = next(r for r in rows if r["lifter"] == "videopose3d_27")
    assert vp["mpjpe"]["n"] == 1 and vp["flag"] == "failed (seed 1)"


def test_zoo_cli_tiny_real_runs_and_reuse(tmp_path, capsys, monkeypatch):
    out = tmp_path / "rz"
    args = ["reproduce", "zoo", "--seeds", "1", "--out", str(out), "--lifters", "simplebaseline",
            "mean_pose", *TINY, f"data.kwargs.cache_dir={tmp_path / 'cache'}"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "[1/6] in-domain · copy_2d (tiny) · seed 0" in printed
    assert "[6/6] daily->sports · simplebaseline (tiny) · seed 0: MPJPE" in printed
    assert "total wall time:" in printed
    summary = json.loads((out / "zoo" / "zoo.json").read_text())
    assert "Total wall time of the command" in (out / "zoo" / "zoo.md").read_text()
    for name, setting in summary["settings"].items():
        rows = {r["lifter"]: r for r in setting["rows"]}
        assert sorted(rows) == [BASELINE, "mean_pose", "simplebaseline"]
        means = [r["mpjpe"]["mean"] for r in setting["rows"]]
        assert means == sorted(means)
        copy = read_record(rows[BASELINE]["records"]["0"])
        for lifter in ("mean_pose", "simplebaseline"):
            rec = read_record(rows[lifter]["records"]["0"])
            assert rec.protocol["cache_key"] == copy.protocol["cache_key"]  # same test clips
            assert rows[lifter]["copy_2d_ratio"] == pytest.approx(
                rec.metrics["mpjpe"] / copy.metrics["mpjpe"])
            assert f"{rows[lifter]['copy_2d_ratio']:.2f}×" in printed
        sb = rows["simplebaseline"]
        assert sb["train_cpu_min"] == pytest.approx(
            read_record(sb["records"]["0"]).extra["train"]["cpu_s"] / 60)
        assert sb["train_cpu_min"] > 0 and sb["params"] == 287795 and sb["gflops_per_frame"] > 0
        assert rows["mean_pose"]["train_cpu_min"] is None and rows["mean_pose"]["params"] == 0
        split = "in-domain" if name == "in_domain" else "daily->sports"
        assert copy.protocol["split"] == split
    table = pd.read_csv(tmp_path / "tables" / "zoo.csv", comment="#")
    assert list(table["lifter"].value_counts().sort_index()) == [2, 2, 2]
    assert set(table["setting"]) == {"in-domain", "daily->sports"}
    assert "reproduce zoo --seeds 1" in (tmp_path / "tables" / "zoo.md").read_text()

    # --reuse reruns nothing: every fit would fail
    import liftbench.bench.runner as runner

    def no_fit(cfg):
        raise AssertionError(f"{cfg.run_name} ran again")

    monkeypatch.setattr(runner, "run_fit", no_fit)
    assert main([*args, "--reuse"]) == 0
    printed = capsys.readouterr().out
    assert printed.count(": reused (MPJPE") == 6
    again = json.loads((out / "zoo" / "zoo.json").read_text())
    assert again["runs"] == {"ran": 0, "reused": 6, "failed": 0}
    for name, setting in again["settings"].items():
        for old, new in zip(summary["settings"][name]["rows"], setting["rows"], strict=True):
            assert new["mpjpe"]["mean"] == old["mpjpe"]["mean"]


PLUGIN = '''
import torch
from torch import nn

from liftbench.models import Lifter, register_lifter


class FrameMLP(Lifter):
    """Per-frame MLP: (B, T, 17, 3) normalised 2D + confidence -> (B, T, 17, 3) 2.5D."""

    def __init__(self, hidden: int = 1024) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(51, hidden), nn.GELU(), nn.Linear(hidden, 51))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, j, _ = x.shape
        return self.net(x.reshape(b, t, j * 3)).reshape(b, t, j, 3)


@register_lifter(paper="my own", tiny={"hidden": 32})
def frame_mlp(**overrides) -> FrameMLP:
    return FrameMLP(**overrides)
'''


def test_plugin_lifter_from_import_is_a_zoo_row(tmp_path):
    """`liftbench --import MODULE reproduce zoo`: the user's lifter gets its rows."""
    (tmp_path / "myplugin.py").write_text(textwrap.dedent(PLUGIN))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",
                                                             "LIFTBENCH_CONFIG_DIR")}
    env.update(WANDB_MODE="disabled", OMP_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, "-m", "liftbench", "--import", "myplugin", "reproduce", "zoo",
         "--seeds", "1", "--out", "rz", "--lifters", "frame_*", *TINY,
         f"data.kwargs.cache_dir={tmp_path / 'cache'}"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((tmp_path / "rz" / "zoo" / "zoo.json").read_text())
    for setting in summary["settings"].values():
        row = next(r for r in setting["rows"] if r["lifter"] == "frame_mlp")
        assert row["params"] == 51 * 32 * 2 + 32 + 51 and row["mpjpe"]["n"] == 1
        assert row["gflops_per_frame"] == pytest.approx(2 * (51 * 32 * 2) / 1e9)
        assert row["train_cpu_min"] > 0 and row["copy_2d_ratio"] > 0
    assert "| frame_mlp | 3,347 |" in done.stdout
    assert (tmp_path / "tables" / "zoo.csv").is_file()


def test_the_files_exclusions_drop_duplicate_networks_unless_asked_for():
    from liftbench.bench.zoo import load_zoo, select_lifters

    zoo = load_zoo("zoo")
    default = select_lifters(zoo)
    assert "motionagformer_xs" in default and "motionagformer_b" not in default
    assert "stcformer" in default and "stcformer_l" not in default
    assert select_lifters(zoo, ["motionagformer_b"]) == ["copy_2d", "motionagformer_b"]
