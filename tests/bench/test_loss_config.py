"""Loss weights: one place per regime (its YAML), every key and type checked at construction."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from liftbench.bench.config import CONFIG_DIR
from liftbench.bench.regimes import list_regimes, regime_class
from liftbench.bench.regimes.loss_config import loss_defaults, resolve_loss

LIFTER = {"selffusion": "canonpose", "heatpose": "motionagformer_xs", "diffusion": "d3dp"}


def _build(name, **kwargs):
    return regime_class(name)(lifter=LIFTER.get(name, "simplebaseline"), size="tiny",
                              frames=27, **kwargs)


@pytest.mark.parametrize("name", list_regimes())
def test_python_construction_gets_the_yaml_defaults(name):
    yaml_loss = OmegaConf.to_container(OmegaConf.load(CONFIG_DIR / "regime" / f"{name}.yaml"))
    assert _build(name).loss_cfg == resolve_loss(None, yaml_loss["loss"])
    assert loss_defaults(name) == yaml_loss["loss"]


@pytest.mark.parametrize("name", list_regimes())
def test_an_unknown_key_names_the_valid_ones(name):
    valid = ", ".join(loss_defaults(name))
    with pytest.raises(ValueError, match="unknown key w_typo") as err:
        _build(name, loss={"w_typo": 1.0})
    assert f"(valid: {valid})" in str(err.value)


def test_partial_weights_keep_the_other_defaults_and_types_are_checked():
    regime = _build("supervised", loss={"w_vel": 0})
    assert regime.loss_cfg["w_vel"] == 0.0 and isinstance(regime.loss_cfg["w_vel"], float)
    assert regime.loss_cfg["w_pos"] == loss_defaults("supervised")["w_pos"]
    with pytest.raises(ValueError, match="regime.loss.w_pos must be a finite number"):
        _build("supervised", loss={"w_pos": "one"})
    with pytest.raises(ValueError, match="regime.loss.symmetric must be true or false"):
        _build("consistency", loss={"symmetric": 1})
    with pytest.raises(ValueError, match=r"unknown key stage1\.w_rep .*valid: stage1\.rep"):
        _build("selffusion", loss={"stage1": {"w_rep": 1.0}})
    fused = _build("selffusion", loss={"stage2": {"sup": 2.0}})
    assert fused.stage_weights[1]["sup"] == 2.0 and fused.stage_weights[1]["rep"] == 0.1


def test_a_regime_without_yaml_is_not_checked():
    assert resolve_loss({"anything": 3}, None) == {"anything": 3}
