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
