import pytest
from torch import nn

from liftbench.bench.config import compose, config_hash, describe_groups, save_config
from liftbench.models.registry import _REGISTRY, LifterEntry


@pytest.fixture(autouse=True)
def dummy_lifters(monkeypatch):
    for name in ("motionagformer_xs", "dummy_lifter"):
        if name not in _REGISTRY:
            monkeypatch.setitem(_REGISTRY, name, LifterEntry(name, lambda **kw: nn.Identity()))


def test_defaults_and_aliases():
    cfg = compose(["model=dummy_lifter", "size=tiny", "regime.loss.w_vel=10", "epochs=3"])
    assert cfg.model.name == "dummy_lifter" and cfg.model.size == "tiny"
    assert cfg.regime.loss.w_vel == 10 and cfg.regime.loss.w_pos == 1.0
    assert cfg.trainer.max_epochs == 3
    assert cfg.choices.model == "dummy_lifter"


def test_open_sections_accept_new_keys():
    cfg = compose(["model.kwargs.dim=64", "+model.kwargs.depth=2"])
    assert cfg.model.kwargs == {"dim": 64, "depth": 2}


def test_values_parsed_as_yaml():
    cfg = compose(["regime.optim.lr=2e-4", "trainer.deterministic=true"])
    assert isinstance(cfg.regime.optim.lr, float) and cfg.trainer.deterministic is True


@pytest.mark.parametrize(
    "override, match",
    [
        ("regime.loss.w_vle=3", "did you mean 'regime.loss.w_vel'"),
        ("data=synthtic", "did you mean 'synthetic'"),
        ("model=dummy_lifer", "did you mean 'dummy_lifter'"),
        ("trainer", "key=value"),
        ("experiment=nope", "unknown experiment"),
    ],
)
def test_typos_fail_loudly(override, match):
    with pytest.raises(ValueError, match=match):
        compose([override])


def test_hash_ignores_seed_but_not_weights(tmp_path):
    a = config_hash(compose(["seed=1"]))
    assert a == config_hash(compose(["seed=2"]))
    assert a != config_hash(compose(["regime.loss.w_vel=1"]))
    path = save_config(compose([]), tmp_path / "config.yaml")
    assert "w_vel: 20.0" in path.read_text()


def test_describe_groups_lists_options():
    text = describe_groups()
    assert "supervised" in text and "wandb" in text


# -- user config folders (`--config-dir`, LIFTBENCH_CONFIG_DIR) ---------------------------------


def _folder(root, files: dict[str, str]):
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_a_user_folder_adds_overrides_and_falls_back(tmp_path, monkeypatch):
    from liftbench.bench.config import CONFIG_DIR, group_options

    mine = _folder(tmp_path / "mine", {
        "data/mydata.yaml": "name: mydata\nkwargs: {}\nbatch_size: 7\n",
        "regime/supervised.yaml": "_base_: supervised\nloss: {w_vel: 3.0}\n",
        "trainer/cpu.yaml": "_base_: _base\naccelerator: cpu\nmax_epochs: 11\n",
    })
    packaged = compose(["data=synthetic"])
    monkeypatch.setenv("LIFTBENCH_CONFIG_DIR", str(mine))
    cfg = compose(["data=mydata", "trainer=cpu"])
    assert cfg.data.name == "mydata" and cfg.data.batch_size == 7  # a new choice, by name
    assert cfg.trainer.max_epochs == 11  # the user's file replaces the packaged namesake ...
    assert cfg.regime.loss.w_vel == 3.0  # ... or extends it (`_base_` of the same name)
    assert cfg.regime.loss.w_pos == packaged.regime.loss.w_pos == 1.0
    assert cfg.logger == packaged.logger  # everything else is the packaged config
    assert "mydata" in group_options("data") and "synthetic" in group_options("data")
    assert "mydata" in describe_groups()
    assert (CONFIG_DIR / "data" / "synthetic.yaml").is_file()
    assert not (CONFIG_DIR / "data" / "mydata.yaml").exists()


def test_several_user_folders_search_in_order(tmp_path, monkeypatch):
    import os

    first = _folder(tmp_path / "a", {"data/mydata.yaml": "name: mydata\nbatch_size: 1\n"})
    second = _folder(tmp_path / "b", {"data/mydata.yaml": "name: mydata\nbatch_size: 2\n",
                                      "data/other.yaml": "name: other\nbatch_size: 3\n"})
    monkeypatch.setenv("LIFTBENCH_CONFIG_DIR", os.pathsep.join([str(first), str(second)]))
    assert compose(["data=mydata"]).data.batch_size == 1
    assert compose(["data=other"]).data.batch_size == 3


def test_an_unknown_choice_names_the_searched_folders(tmp_path, monkeypatch):
    from liftbench.bench.config import CONFIG_DIR

    mine = _folder(tmp_path / "mine", {"data/mydata.yaml": "name: mydata\n"})
    monkeypatch.setenv("LIFTBENCH_CONFIG_DIR", str(mine))
    with pytest.raises(ValueError, match="unknown data 'mydat'; did you mean 'mydata'") as err:
        compose(["data=mydat"])
    assert f"searched: {mine.resolve()}, {CONFIG_DIR}" in str(err.value)


def test_a_missing_config_folder_is_an_error(tmp_path, monkeypatch, capsys):
    from liftbench.bench.cli import main

    with pytest.raises(SystemExit, match="--config-dir .*nowhere.*: no such folder"):
        main(["--config-dir", str(tmp_path / "nowhere"), "models", "--no-flops"])
    monkeypatch.setenv("LIFTBENCH_CONFIG_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(NotADirectoryError, match="LIFTBENCH_CONFIG_DIR: .*nowhere"):
        compose([])
    with pytest.raises(SystemExit, match="LIFTBENCH_CONFIG_DIR: .*nowhere"):
        main(["models", "--no-flops"])


def test_config_dir_reaches_grid_sweep_and_reproduce_files(tmp_path, monkeypatch, capsys):
    import os

    from liftbench.bench.cli import main
    from liftbench.bench.reproduce import list_claims, load_claim

    monkeypatch.delenv("LIFTBENCH_CONFIG_DIR", raising=False)
    mine = _folder(tmp_path / "mine", {
        "data/mydata.yaml": "name: mydata\nkwargs: {}\nbatch_size: 5\n",
        "grid/mygrid.yaml": "lifters: [dummy_lifter]\nregimes: [supervised]\n"
                            "datasets: [mydata]\n",
        "sweep/mysweep.yaml": "method: grid\nparameters:\n  regime.loss.w_vel: {values: [1, 2]}\n"
                              "command: [liftbench, fit, data=mydata]\n",
        "experiment/claims/myclaim.yaml": "claim: mine\nruns: {a: {}, b: {}}\n"
                                          "comparisons: [{better: a, worse: b}]\n",
    })
    assert main(["--config-dir", str(mine), "grid", "mygrid", "--dry-run"]) == 0
    assert "data=mydata" in capsys.readouterr().out
    assert "LIFTBENCH_CONFIG_DIR" not in os.environ  # an in-process call leaves it as it was
    assert main(["--config-dir", str(mine), "grid", "lifters_supervised", "--dry-run"]) == 0
    assert main(["--config-dir", str(mine), "sweep", "mysweep", "--expand-only"]) == 0
    assert main(["grid", "mygrid", "--dry-run"]) == 2
    assert "grid file 'mygrid' not found" in capsys.readouterr().err
    monkeypatch.setenv("LIFTBENCH_CONFIG_DIR", str(mine))
    assert "myclaim" in list_claims() and len(list_claims()) > 1  # the packaged ones too
    assert load_claim("myclaim").claim == "mine"


def test_the_demo_stage_file_comes_from_the_config_folders(tmp_path, monkeypatch):
    from liftbench.bench.config import CONFIG_DIR
    from liftbench.bench.demo import load_stages

    packaged = (CONFIG_DIR / "experiment" / "stages" / "demo.yaml").read_text()
    mine = _folder(tmp_path / "mine", {
        "experiment/stages/demo.yaml": packaged.replace("label:", "label: mine", 1)})
    default_stages, _ = load_stages()
    monkeypatch.setenv("LIFTBENCH_CONFIG_DIR", str(mine))
    stages, _ = load_stages()
    assert [s.name for s in stages] == [s.name for s in default_stages]
    assert stages[0].label.startswith("mine") and not default_stages[0].label.startswith("mine")
