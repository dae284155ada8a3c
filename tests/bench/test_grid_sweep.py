import sys
import types
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from liftbench.bench import sweep as sw
from liftbench.bench.cli import main
from liftbench.bench.config import CONFIG_DIR, to_container
from liftbench.bench.runner import build_module
from liftbench.leaderboard.records import RunRecord, read_records, write_record

W_VEL = CONFIG_DIR / "sweep" / "supervised_w_vel.yaml"
RANDOM = CONFIG_DIR / "sweep" / "supervised_random.yaml"
W_CON = CONFIG_DIR / "sweep" / "consistency_w_con.yaml"


def module_runner(seen):
    """A fake runner that builds the regime module from the trial's config (no training)."""

    def run(cfg):
        module = build_module(cfg, SimpleNamespace(action_names=["all"], frames=27))
        seen.append((to_container(cfg), module))
        return None

    return run


def test_packaged_sweeps_are_valid():
    for path in sorted((CONFIG_DIR / "sweep").glob("*.yaml")):
        sweep = sw.load_sweep(path)
        assert sweep["command"][0] == "liftbench" and "${args_no_hyphens}" in sweep["command"]
        assert all("." in k or k == "seed" for k in sweep["parameters"])
    w_con = sw.load_sweep(W_CON)
    assert w_con["parameters"]["regime.loss.w_con"]["values"] == [0.1, 0.2, 0.3, 0.5, 1.0]
    assert len(sw.expand_sweep(w_con)) == 5


def test_grid_expansion_counts_types_and_values_reach_the_model():
    sweep = sw.load_sweep(W_VEL)
    trials = sw.expand_sweep(sweep)
    assert len(trials) == 3 * 2
    assert {(t["regime.loss.w_vel"], t["regime.loss.w_scale"]) for t in trials} == {
        (a, b) for a in (0.0, 10.0, 20.0) for b in (0.0, 0.5)}
    assert all(type(t["regime.loss.w_vel"]) is float and type(t["seed"]) is int for t in trials)
    seen = []
    cells = sw.run_cells(sw.sweep_cells(sweep, trials, "local-x", ["trainer.max_epochs=1"]),
                         runner=module_runner(seen), progress=False)
    assert [c.status for c in cells] == ["ok"] * 6
    for trial, (cfg, module) in zip(trials, seen):
        assert module.loss_cfg["w_vel"] == trial["regime.loss.w_vel"]
        assert type(module.loss_cfg["w_vel"]) is float
        assert module.loss_cfg["w_scale"] == trial["regime.loss.w_scale"]
        assert cfg["model"]["name"] == "motionagformer_xs" and cfg["model"]["size"] == "tiny"
        assert cfg["trainer"]["max_epochs"] == 1  # extra overrides come last
    assert [c["sweep"]["trial"] for c, _ in seen] == list(range(6))
    assert seen[3][0]["sweep"]["params"] == trials[3]


def test_random_expansion_types_ranges_and_seed():
    sweep = sw.load_sweep(RANDOM)
    trials = sw.expand_sweep(sweep, seed=3)
    assert len(trials) == sweep["run_cap"] == 6
    assert trials == sw.expand_sweep(sweep, seed=3)
    assert trials != sw.expand_sweep(sweep, seed=4)
    assert len(sw.expand_sweep(sweep, count=20)) == 20
    for t in sw.expand_sweep(sweep, count=50):
        assert 1e-4 <= t["regime.optim.lr"] <= 3e-3 and type(t["regime.optim.lr"]) is float
        assert t["regime.loss.w_vel"] % 5.0 == 0 and type(t["regime.loss.w_vel"]) is float
        assert type(t["data.kwargs.flip"]) is bool
        assert 3 <= t["trainer.max_epochs"] <= 6 and type(t["trainer.max_epochs"]) is int
    seen = []
    sw.run_cells(sw.sweep_cells(sweep, trials, "local-r"), runner=module_runner(seen),
                 progress=False)
    for trial, (cfg, module) in zip(trials, seen):
        assert module.optim_cfg["lr"] == trial["regime.optim.lr"]
        assert cfg["data"]["kwargs"]["flip"] is trial["data.kwargs.flip"]
        assert cfg["trainer"]["max_epochs"] == trial["trainer.max_epochs"]


def test_a_sweep_over_data_flip_changes_the_training_data(tmp_path):
    """The augmentation key is the DataModule's: flip=true trials serve mirrored clips."""
    import torch

    from liftbench.bench.runner import build_datamodule
    from liftbench.datamodules.flip import flip_pose

    sweep = {"method": "grid", "parameters": {"data.kwargs.flip": {"values": [False, True]}},
             "command": ["liftbench", "fit", "${args_no_hyphens}"]}
    fixed = ["data.kwargs.motions=[walk,run]", "data.kwargs.split=random",
             "data.kwargs.subjects=2", "data.kwargs.cameras=1",
             "data.kwargs.frames=27", "data.batch_size=16",
             f"data.kwargs.cache_dir={tmp_path / 'cache'}"]
    served = []

    def run(cfg):
        dm = build_datamodule(cfg)
        dm.setup("fit")
        served.append((dm.datasets["train"].flip, next(iter(dm.train_dataloader()))))

    trials = sw.expand_sweep(sweep)
    cells = sw.run_cells(sw.sweep_cells(sweep, trials, "local-f", fixed), runner=run,
                         progress=False)
    assert [c.status for c in cells] == ["ok", "ok"]
    (plain_flag, plain), (flip_flag, flipped) = served
    assert (plain_flag, flip_flag) == (False, True)
    assert torch.equal(plain["index"], flipped["index"])  # the same clips, in the same order
    same = (plain["input"] == flipped["input"]).flatten(1).all(1)
    mirrored = (flip_pose(plain["input"]) == flipped["input"]).flatten(1).all(1)
    assert bool((same | mirrored).all()) and 0 < int(mirrored.sum()) < len(same)
    assert torch.equal(flip_pose(plain["target"])[mirrored], flipped["target"][mirrored])


@pytest.mark.parametrize("value", [0.1, 1.0, 1e-5, 20, True, False, "adamw", -3.5])
def test_override_round_trips_types(value):
    from omegaconf import OmegaConf

    text = sw.format_override("a.b", value)
    back = OmegaConf.from_dotlist([text]).a.b
    assert back == value and type(back) is type(value)


def test_bayes_offline_and_bad_files(tmp_path):
    bayes = yaml.safe_load(RANDOM.read_text()) | {"method": "bayes"}
    with pytest.raises(ValueError, match="bayes-as-random"):
        sw.expand_sweep(bayes)
    assert len(sw.expand_sweep(bayes, bayes_as_random=True)) == 6
    bad = [
        ({"method": "grid", "parameters": {"regime": {"parameters": {"lr": {"value": 1}}}}},
         "flat dotted"),
        ({"method": "grid", "parameters": {"a.b": {"min": 0.0, "max": 1.0}}}, "grid search"),
        ({"method": "hyperband", "parameters": {"a.b": {"value": 1}}}, "method"),
        ({"method": "random", "parameters": {"a.b": {"distribution": "beta", "min": 0,
                                                     "max": 1}}}, "not supported"),
        ({"method": "random", "parameters": {"a.b": {"distribution": "log_uniform_values",
                                                     "min": 0.0, "max": 1.0}}}, "min > 0"),
        ({"method": "bayes", "parameters": {"a.b": {"values": [1, 2]}}}, "metric"),
    ]
    for sweep, match in bad:
        with pytest.raises(ValueError, match=match):
            sw.validate_sweep(sweep)
    with pytest.raises(ValueError, match="run_cap"):
        sw.expand_sweep({"method": "random", "parameters": {"a.b": {"values": [1]}}})


def test_typo_in_a_trial_fails_before_anything_runs():
    sweep = {"method": "grid", "parameters": {"regime.loss.w_vell": {"values": [1.0]}},
             "command": ["liftbench", "fit", "${args_no_hyphens}"]}
    cells = sw.sweep_cells(sweep, sw.expand_sweep(sweep), "local-t")
    ran = []
    with pytest.raises(ValueError, match="trial 0.*w_vell"):
        sw.run_cells(cells, runner=ran.append, progress=False)
    assert ran == []


def test_sweeps_cross_check_against_wandb_sweeps_package():
    sweeps = pytest.importorskip("sweeps")
    config = sw.load_sweep(W_VEL)
    runs = []
    while (r := sweeps.next_run(config, runs)) is not None:
        runs.append(r)
    theirs = sorted(tuple(sorted((k, v["value"]) for k, v in r.config.items())) for r in runs)
    ours = sorted(tuple(sorted(t.items())) for t in sw.expand_sweep(config))
    assert theirs == ours


def test_grid_continues_past_a_failed_cell(tmp_path):
    grid = tmp_path / "g.yaml"
    grid.write_text(yaml.safe_dump({
        "lifters": ["motionagformer_xs", "videopose3d_27"], "regimes": ["supervised"],
        "seeds": [0, 1], "overrides": ["size=tiny"],
        "per_lifter": {"videopose3d_27": ["regime.loss.w_vel=7.5"]}}))
    cells = sw.grid_cells(sw.load_grid(grid), ["trainer.max_epochs=1"])
    assert len(cells) == 4

    def runner(cfg):
        if cfg.model.name == "videopose3d_27" and cfg.seed == 0:
            raise RuntimeError("boom")
        assert cfg.regime.loss.w_vel == (7.5 if cfg.model.name == "videopose3d_27" else 20.0)
        return None

    sw.run_cells(cells, runner=runner, progress=False)
    assert [c.status for c in cells] == ["ok", "ok", "failed", "ok"]
    report = sw.summary(cells)
    assert report.startswith("3/4 runs succeeded") and "RuntimeError: boom" in report


def fake_fit(results):
    def run(cfg):
        c = to_container(cfg)
        rec = RunRecord(
            run_id=f"fake-{c['model']['name']}-{c['seed']}-{len(list(results.glob('*')))}",
            kind="fit", created="2026-12-01T00:00:00+00:00",
            lifter={"name": c["model"]["name"], "size": c["model"]["size"]},
            regime={"name": c["regime"]["name"], "loss_weights": c["regime"]["loss"]},
            protocol=dict(dataset="synthetic", split="s", source_2d="gt", frames=27, stride=27,
                          flip_tta=True, joints_evaluated=list(range(17)), averaging="frame"),
            metrics={"mpjpe": 100.0 - c["regime"]["loss"]["w_vel"]}, seed=c["seed"],
            sweep=c.get("sweep"))
        return write_record(rec, results)

    return run


def test_sweep_cli_offline_writes_one_record_per_trial(tmp_path, monkeypatch, capsys):
    from liftbench.bench import runner

    monkeypatch.setattr(runner, "run_fit", fake_fit(tmp_path))
    assert main(["sweep", "supervised_w_vel", "--mode", "offline"]) == 0
    out = capsys.readouterr().out
    assert "6 trials (grid)" in out and "6/6 runs succeeded" in out
    recs = read_records(tmp_path)
    assert sorted(r.sweep["trial"] for r in recs) == list(range(6))
    assert len({r.sweep["id"] for r in recs}) == 1
    assert all(r.regime["loss_weights"]["w_vel"] == r.sweep["params"]["regime.loss.w_vel"]
               for r in recs)
    assert main(["sweep", "supervised_random", "--mode", "offline", "--expand-only",
                 "--count", "2"]) == 0
    assert capsys.readouterr().out.count("trial ") == 2


def test_sweep_online_uses_wandb_agent_and_logs_a_table(tmp_path, monkeypatch):
    calls = {"log": [], "init": []}
    suggestions = iter([{"regime.loss.w_vel": 0.0}, {"regime.loss.w_vel": 10.0}])

    class Table:
        def __init__(self, columns):
            self.columns, self.rows = columns, []

        def add_data(self, *row):
            self.rows.append(row)

    fake = types.ModuleType("wandb")
    fake.run = None
    fake.Table = Table

    def init(**kw):
        calls["init"].append(kw)
        fake.run = SimpleNamespace(config=next(suggestions) if not kw else {})
        return fake.run

    def finish():
        fake.run = None

    fake.init, fake.finish = init, finish
    fake.log = lambda d: calls["log"].append(d)
    fake.sweep = lambda sweep, project, entity: calls.setdefault("sweep", sweep) and "sw123"

    def agent(sweep_id, function, project, entity, count):
        calls["agent"] = (sweep_id, project, count)
        for _ in range(count):
            function()

    fake.agent = agent
    monkeypatch.setitem(sys.modules, "wandb", fake)
    seen = []

    def runner(cfg):
        seen.append(to_container(cfg))
        return fake_fit(tmp_path)(cfg)

    sweep = sw.load_sweep(W_VEL)
    sweep_id, cells = sw.run_online(sweep, "proj", None, count=2, runner=runner)
    assert sweep_id == "sw123" and calls["agent"] == ("sw123", "proj", 2)
    assert calls["sweep"] is sweep
    assert [c["regime"]["loss"]["w_vel"] for c in seen] == [0.0, 10.0]
    assert all(c["logger"]["name"] == "wandb" for c in seen)
    assert [c["sweep"] for c in seen][1] == {"id": "sw123", "trial": 1,
                                             "params": {"regime.loss.w_vel": 10.0}}
    table = calls["log"][-1]["sweep_results"]
    assert table.columns[:3] == ["trial", "status", "regime.loss.w_vel"]
    assert [row[2] for row in table.rows] == [0.0, 10.0]
    assert calls["log"][0] == {"test/mpjpe": 100.0}
    assert calls["init"][-1]["job_type"] == "sweep-summary"


def test_real_two_cell_grid_end_to_end(tmp_path, capsys):
    grid = tmp_path / "grid.yaml"
    grid.write_text(yaml.safe_dump({
        "lifters": ["videopose3d_27", "motionagformer_xs"], "regimes": ["supervised"],
        "overrides": ["size=tiny", "trainer.max_epochs=1", "logger=none",
                      "trainer.limit_train_batches=2", "trainer.limit_val_batches=2",
                      "data.kwargs.subjects=1", "data.kwargs.cameras=1",
                      f"data.kwargs.cache_dir={tmp_path / 'cache'}",
                      f"output_dir={tmp_path / 'runs'}", f"results_dir={tmp_path / 'results'}"],
    }))
    assert main(["grid", str(grid), "--table"]) == 0
    out = capsys.readouterr().out
    assert "2/2 runs succeeded" in out and "| lifter |" in out
    recs = read_records(tmp_path / "results")
    assert sorted(r.lifter["name"] for r in recs) == ["motionagformer_xs", "videopose3d_27"]
    assert all(Path(tmp_path / "runs" / r.run_id / "config.yaml").exists() for r in recs)


def test_wandb_agent_command_line_reaches_the_config():
    """`wandb agent` formats trials with its own `${args_no_hyphens}`; they compose the same."""
    from wandb.sdk.launch.sweeps.utils import create_sweep_command_args

    from liftbench.bench.config import compose

    sweep = sw.load_sweep(RANDOM)
    _, fixed = sw.command_overrides(sweep)
    for trial in sw.expand_sweep(sweep, count=8, seed=1):
        args = create_sweep_command_args({"args": {k: {"value": v} for k, v in trial.items()}})
        cfg = to_container(compose([*fixed, *args["args_no_hyphens"]]))
        assert cfg["regime"]["optim"]["lr"] == pytest.approx(trial["regime.optim.lr"])
        assert cfg["data"]["kwargs"]["flip"] is trial["data.kwargs.flip"]
        assert cfg["trainer"]["max_epochs"] == trial["trainer.max_epochs"]
        assert type(cfg["regime"]["loss"]["w_vel"]) is float


def test_options_may_sit_between_overrides(capsys):
    assert main(["sweep", "supervised_w_vel", "--mode", "offline", "logger=none", "--count",
                 "2", "trainer.max_epochs=1", "--expand-only"]) == 0
    out = capsys.readouterr().out
    assert out.count("trial ") == 2 and out.count("logger=none trainer.max_epochs=1") == 2
    with pytest.raises(SystemExit):
        main(["grid", "lifters_supervised", "--bogus"])
