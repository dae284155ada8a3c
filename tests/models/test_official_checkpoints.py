"""Official checkpoints: key maps, config maps, safe loading and the official-code fixtures."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from liftbench.models import create_lifter, get_lifter_entry, load_official
from liftbench.models.diffusion import SCHEDULE_BUFFERS
from liftbench.models.official import (
    family_of,
    liftbench_to_official,
    lifter_kwargs_for,
    load_official_state,
    official_checkpoint,
    official_lifters,
    official_to_liftbench,
    safe_torch_load,
)

# fixture stem → (lifter, file, tolerance on the official output)
FIXTURES = {
    "motionbert": ("motionbert", "motionbert_official.bin", 1e-5),
    "motionagformer": ("motionagformer_xs", "motionagformer_official.pth.tr", 1e-5),
    "kasportsformer": ("kasportsformer", "kasportsformer_official.pth.tr", 1e-6),
}
# Small official constructor arguments per family (the liftbench `tiny` sizes).
TINY_OFFICIAL = {
    "motionbert": {"depth": 2, "dim_feat": 32, "dim_rep": 64, "num_heads": 4, "maxlen": 27},
    "motionagformer_xs": {"n_layers": 2, "dim_feat": 32, "dim_rep": 64, "num_heads": 4,
                          "n_frames": 9},
    "kasportsformer": {"n_layers": 2, "dim_feat": 32, "dim_rep": 64, "num_heads": 4},
    "videopose3d_27": {"channels": 32, "dropout": 0.1},
}  # fmt: skip
BUFFERS = ("running_mean", "running_var", "num_batches_tracked")
# D3DP's diffusion schedule is held in (float64) buffers of the official state dict
SCHEDULE = frozenset(SCHEDULE_BUFFERS)


def _fixture(shared_data, stem):
    root = shared_data / "official"
    if not root.is_dir():
        pytest.skip(f"official-code fixtures not found at {root}")
    name, file, tol = FIXTURES[stem]
    cfg = json.loads((root / f"{stem}_config.json").read_text())["constructor_kwargs"]
    with np.load(root / f"{stem}_io.npz") as io:
        x, y = torch.from_numpy(io["x"]), torch.from_numpy(io["y"])
    return name, root / file, cfg, x, y, tol


def _pattern(key: str) -> str:
    return re.sub(r"\.\d+\.", ".N.", key)


@pytest.mark.parametrize("stem", sorted(FIXTURES))
def test_official_fixture_output_is_reproduced(shared_data, stem):
    name, path, cfg, x, y, tol = _fixture(shared_data, stem)
    lifter = load_official(name, path, config=cfg)
    assert not lifter.training
    with torch.no_grad():
        out = lifter(x)
    assert (out - y).abs().max().item() <= tol


@pytest.mark.parametrize("stem", sorted(FIXTURES))
def test_fixture_key_set_equals_the_inverse_map_of_the_lifter(shared_data, stem):
    name, path, cfg, *_ = _fixture(shared_data, stem)
    official = safe_torch_load(path)[family_of(name).weights_keys[0]]
    lifter = create_lifter(name, **lifter_kwargs_for(name, cfg))
    exported = liftbench_to_official(name, lifter.state_dict(), data_parallel=True)
    assert set(exported) == set(official)
    assert {k: tuple(v.shape) for k, v in exported.items()} == \
        {k: tuple(v.shape) for k, v in official.items()}
    # official → liftbench → official is the identity on the fixture's weights
    back = liftbench_to_official(name, official_to_liftbench(name, official), data_parallel=True)
    assert set(back) == set(official)
    assert all(torch.equal(back[k], official[k]) for k in official)
    # the paper configuration's official key set has the fixture's key patterns
    with torch.device("meta"):
        paper_model = create_lifter(name, **lifter_kwargs_for(name))
    paper_keys = liftbench_to_official(name, paper_model.state_dict(), data_parallel=True)
    assert {_pattern(k) for k in paper_keys} == {_pattern(k) for k in official}


@pytest.mark.parametrize("name", official_lifters())
def test_paper_config_loads_the_official_key_set_on_meta(name):
    with torch.device("meta"):
        lifter = create_lifter(name, **lifter_kwargs_for(name))
        fresh = create_lifter(name, **lifter_kwargs_for(name))
    official = liftbench_to_official(name, lifter.state_dict())
    load_official_state(fresh, name, official)  # raises on any missing / unexpected key
    n_params = sum(v.numel() for k, v in official.items()
                   if not k.endswith(BUFFERS) and k not in SCHEDULE)
    assert n_params == get_lifter_entry(name).paper_params


@pytest.mark.parametrize("name", sorted(TINY_OFFICIAL))
def test_round_trip_liftbench_official_liftbench_is_identity(name):
    torch.manual_seed(0)
    lifter = create_lifter(name, **lifter_kwargs_for(name, TINY_OFFICIAL[name]))
    state = lifter.state_dict()
    back = official_to_liftbench(name, liftbench_to_official(name, state, data_parallel=True))
    assert set(back) == set(state)
    assert all(torch.equal(back[k], state[k]) for k in state)


@pytest.mark.parametrize("name", sorted(TINY_OFFICIAL))
def test_training_script_layout_with_numpy_metric_loads(tmp_path, name):
    torch.manual_seed(1)
    lifter = create_lifter(name, **lifter_kwargs_for(name, TINY_OFFICIAL[name])).eval()
    ckpt = official_checkpoint(name, lifter.state_dict())
    ckpt.update(epoch=3, lr=1e-4, learning_rate=1e-4, min_loss=np.float64(12.5),
                min_mpjpe=np.float64(40.0), optimizer={"state": {}, "param_groups": []})
    torch.save(ckpt, tmp_path / "best_epoch.bin")
    loaded = load_official(name, tmp_path / "best_epoch.bin", TINY_OFFICIAL[name])
    x = torch.rand(2, 9, 17, 3)
    with torch.no_grad():
        assert torch.equal(loaded(x), lifter(x))


def test_kasportsformer_limb_mlps_are_packed_per_channel():
    torch.manual_seed(0)
    lifter = create_lifter("kasportsformer", **lifter_kwargs_for("kasportsformer",
                                                                 TINY_OFFICIAL["kasportsformer"]))
    official = liftbench_to_official("kasportsformer", lifter.state_dict())
    fc1 = official["bone_refusion.mlp_layers.2.mlp_len.fc1.weight"]  # group 2 = (6, 7), conf
    assert fc1.shape == (16, 2)
    # group 2 starts at flat member slot 3 + 3 = 6
    assert torch.equal(lifter.limb_fusion.weight1[6:8, 2, :], fc1.t())
    assert torch.equal(official["bone_refusion.mlp_layers.2.mlp_len.fc2.bias"],
                       lifter.limb_fusion.bias2[2, 2:3])


def test_missing_and_unexpected_keys_are_listed(tmp_path):
    lifter = create_lifter("motionagformer_xs", **lifter_kwargs_for(
        "motionagformer_xs", TINY_OFFICIAL["motionagformer_xs"]))
    ckpt = official_checkpoint("motionagformer_xs", lifter.state_dict())
    weights = ckpt["model"]
    del weights["module.layers.1.fusion.bias"]
    weights["module.layers.1.extra.weight"] = torch.zeros(2)
    with pytest.raises(ValueError) as err:
        load_official("motionagformer_xs", ckpt, TINY_OFFICIAL["motionagformer_xs"])
    msg = str(err.value)
    assert "1 missing keys: layers.1.fusion.bias" in msg
    assert "1 unexpected keys: layers.1.extra.weight" in msg
    # the paper configuration does not fit these small weights: an error, not a partial load
    with pytest.raises(ValueError, match="shape mismatches"):
        load_official("motionagformer_xs", official_checkpoint("motionagformer_xs",
                                                               lifter.state_dict()))


class _RunsCode:
    """Unpickling this calls `open(marker, "w")`: a stand-in for arbitrary code."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickled_code_is_refused_not_run(tmp_path):
    lifter = create_lifter("motionbert", **lifter_kwargs_for("motionbert",
                                                             TINY_OFFICIAL["motionbert"]))
    marker = tmp_path / "pwned"
    ckpt = official_checkpoint("motionbert", lifter.state_dict())
    ckpt["payload"] = _RunsCode(str(marker))
    torch.save(ckpt, tmp_path / "evil.bin")
    with pytest.raises(ValueError, match=r"refused to load.*`io\.open`"):
        load_official("motionbert", tmp_path / "evil.bin", TINY_OFFICIAL["motionbert"])
    assert not marker.exists()


def test_official_yaml_and_unsupported_options(tmp_path):
    yml = tmp_path / "MotionAGFormer-base.yaml"
    yml.write_text("n_layers: 16\ndim_feat: 128\nn_frames: 243\nneighbour_num: 2\n"
                   "learning_rate: 0.0005\nbatch_size: 16\nuse_tcn: False\n")
    assert lifter_kwargs_for("motionagformer_xs", yml) == lifter_kwargs_for("motionagformer_b")
    with pytest.raises(ValueError, match="use_tcn=True"):
        lifter_kwargs_for("motionagformer_b", {"use_tcn": True})
    with pytest.raises(ValueError, match="unknown official constructor arguments"):
        lifter_kwargs_for("motionbert", {"dim_feets": 3})
    with pytest.raises(ValueError, match="eps"):
        lifter_kwargs_for("motionbert", {"norm_layer": "nn.LayerNorm"})
    with pytest.raises(ValueError, match="no official checkpoint format"):
        family_of("simplebaseline")
