"""MixSTE and KTPFormer: official-code fixtures, key maps, and the RandomState-safe loader.

The official MixSTE / KTPFormer scripts save `{epoch, lr, random_state, optimizer, model_pos}`
where `random_state` is a pickled `numpy.random.RandomState`; their models take `(B, T, 17, 2)`
(no confidence), so the fixtures' inputs get a random confidence channel that must not matter.
"""

from __future__ import annotations

import importlib
import json
import pickle

import numpy as np
import pytest
import torch

from liftbench.models import create_lifter, get_lifter_entry, load_official
from liftbench.models.ktpformer import H36M_PARENTS, frame_chain_adjacency, prior_adjacency
from liftbench.models.official import (
    family_of,
    liftbench_to_official,
    lifter_kwargs_for,
    load_official_state,
    official_checkpoint,
    official_to_liftbench,
    safe_torch_load,
)
from liftbench.models.official.safe_load import _bit_generator_ctor, _randomstate_ctor

# fixture stem → (lifter, checkpoint file); outputs must match to 1e-5
FIXTURES = {"mixste": ("mixste", "mixste_official.bin"),
            "ktpformer": ("ktpformer", "ktpformer_official.bin")}  # fmt: skip
TINY_OFFICIAL = {
    "mixste": {"num_frame": 9, "embed_dim_ratio": 32, "depth": 2, "num_heads": 4},
    "ktpformer": {"num_frame": 9, "embed_dim_ratio": 32, "depth": 1, "num_heads": 4},
}
BUFFERS = ("running_mean", "running_var", "num_batches_tracked")
# the official constructors' counts (sum of p.numel(), as the official scripts print them)
EXACT_COUNTS = [
    ("mixste", {}, 33_673_219), ("mixste", {"num_frames": 81}, 33_700_867),
    ("mixste", {"num_frames": 243}, 33_783_811),
    ("ktpformer", {}, 34_765_014), ("ktpformer", {"num_frames": 81}, 34_859_622),
    ("ktpformer", {"num_frames": 243}, 35_213_430),
]  # fmt: skip


def _fixture(shared_data, stem):
    root = shared_data / "official"
    if not (root / f"{stem}_io.npz").is_file():
        pytest.skip(f"official-code fixture {stem} not found at {root}")
    name, file = FIXTURES[stem]
    cfg = json.loads((root / f"{stem}_config.json").read_text())["constructor_kwargs"]
    with np.load(root / f"{stem}_io.npz") as io:
        x, y = torch.from_numpy(io["x"]), torch.from_numpy(io["y"])
    return name, root / file, cfg, x, y


def _with_confidence(x: torch.Tensor, seed: int = 3) -> torch.Tensor:
    """`(B, T, J, 2)` → `(B, T, J, 3)` with a random confidence in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    return torch.cat([x, torch.rand(*x.shape[:-1], 1, generator=g)], -1)


@pytest.mark.parametrize("stem", sorted(FIXTURES))
def test_official_fixture_output_is_reproduced(shared_data, stem):
    name, path, cfg, x, y = _fixture(shared_data, stem)
    lifter = load_official(name, path, config=cfg)
    assert not lifter.training
    with torch.no_grad():
        out = lifter(_with_confidence(x))
        other = lifter(_with_confidence(x, seed=4))
    assert out.shape == y.shape
    assert (out - y).abs().max().item() <= 1e-5
    assert torch.equal(out, other)  # the confidence channel is dropped


@pytest.mark.parametrize("stem", sorted(FIXTURES))
def test_fixture_file_loads_safely_with_its_random_state(shared_data, stem):
    _, path, *_ = _fixture(shared_data, stem)
    ckpt = safe_torch_load(path)
    assert sorted(ckpt) == ["epoch", "lr", "model_pos", "optimizer", "random_state"]
    rs = ckpt["random_state"]
    assert isinstance(rs, np.random.RandomState)
    assert rs.get_state(legacy=False)["bit_generator"] == "MT19937"
    # the plain torch default refuses it (what the extended allow-list is for)
    with pytest.raises(pickle.UnpicklingError, match="randomstate_ctor"):
        torch.load(path, weights_only=True)


@pytest.mark.parametrize("stem", sorted(FIXTURES))
def test_fixture_round_trip_and_paper_key_patterns(shared_data, stem):
    name, path, cfg, *_ = _fixture(shared_data, stem)
    official = safe_torch_load(path)["model_pos"]
    lifter = create_lifter(name, **lifter_kwargs_for(name, cfg))
    exported = liftbench_to_official(name, lifter.state_dict(), data_parallel=True)
    assert list(exported) == list(official)  # the same keys, in the official order
    assert {k: tuple(v.shape) for k, v in exported.items()} == \
        {k: tuple(v.shape) for k, v in official.items()}
    back = liftbench_to_official(name, official_to_liftbench(name, official), data_parallel=True)
    assert list(back) == list(official)
    assert all(torch.equal(back[k], official[k]) for k in official)


@pytest.mark.parametrize("name", sorted({n for n, _ in FIXTURES.values()}))
def test_paper_config_on_meta_loads_the_official_key_set(name):
    with torch.device("meta"):
        lifter = create_lifter(name, **lifter_kwargs_for(name))
        fresh = create_lifter(name, **lifter_kwargs_for(name))
    official = liftbench_to_official(name, lifter.state_dict(), data_parallel=True)
    load_official_state(fresh, name, official)  # raises on any missing / unexpected key
    n_params = sum(v.numel() for k, v in official.items() if not k.endswith(BUFFERS))
    assert n_params == get_lifter_entry(name).paper_params


@pytest.mark.parametrize(("name", "overrides", "expected"), EXACT_COUNTS)
def test_exact_official_counts(name, overrides, expected):
    with torch.device("meta"):
        model = create_lifter(name, **overrides)
    assert sum(p.numel() for p in model.parameters()) == expected


@pytest.mark.parametrize("name", sorted(TINY_OFFICIAL))
def test_training_script_layout_with_random_state_loads(tmp_path, name):
    torch.manual_seed(1)
    lifter = create_lifter(name, **lifter_kwargs_for(name, TINY_OFFICIAL[name])).eval()
    ckpt = official_checkpoint(name, lifter.state_dict())
    assert all(k.startswith("module.") for k in ckpt["model_pos"])
    rs = np.random.RandomState(1234)
    rs.permutation(10)
    ckpt.update(epoch=3, lr=1e-4, random_state=rs, optimizer={"state": {}, "param_groups": []})
    torch.save(ckpt, tmp_path / "best_epoch.bin")
    loaded = load_official(name, tmp_path / "best_epoch.bin", TINY_OFFICIAL[name])
    x = torch.rand(2, 9, 17, 3)
    with torch.no_grad():
        assert torch.equal(loaded(x), lifter(x))
    again = safe_torch_load(tmp_path / "best_epoch.bin")["random_state"]
    assert np.array_equal(again.randint(0, 1000, 20), rs.randint(0, 1000, 20))


# numpy's own pickle helper (looked up by name: `__x` in a class body would be name-mangled)
_NP_RANDOMSTATE_CTOR = getattr(importlib.import_module("numpy.random._pickle"),
                               "__randomstate_ctor")


class _RandomStateNamingCode:
    """Pickles as numpy's `__randomstate_ctor(<marker>, open)`, or as `open(marker)` itself."""

    def __init__(self, marker: str, ctor_first: bool = False) -> None:
        self.marker, self.ctor_first = marker, ctor_first

    def __reduce__(self):
        if self.ctor_first:  # the file calls the named callable itself
            return (open, (self.marker, "w"))
        return (_NP_RANDOMSTATE_CTOR, (self.marker, open))


class _RandomStateArgs:
    """Pickles as numpy's `__randomstate_ctor(*args)` with the given arguments."""

    def __init__(self, *args: object) -> None:
        self.args = args

    def __reduce__(self):
        return (_NP_RANDOMSTATE_CTOR, self.args)


def test_random_state_stand_ins_build_only_numpy_bit_generators():
    assert type(_bit_generator_ctor("PCG64")).__name__ == "PCG64"
    assert type(_bit_generator_ctor(np.random.MT19937)).__name__ == "MT19937"
    rs = _randomstate_ctor("MT19937", _bit_generator_ctor)  # numpy 1.x pickles
    assert isinstance(rs, np.random.RandomState)
    for bad in ("os.system", dict, np.ndarray, 3):
        with pytest.raises(pickle.UnpicklingError, match="refused"):
            _bit_generator_ctor(bad)
    with pytest.raises(pickle.UnpicklingError, match="refused"):
        _randomstate_ctor("MT19937", print)


@pytest.mark.parametrize("ctor_first", [False, True])
def test_random_state_naming_other_code_is_refused_and_runs_nothing(tmp_path, ctor_first):
    marker = tmp_path / "pwned"
    torch.manual_seed(0)
    lifter = create_lifter("mixste", **lifter_kwargs_for("mixste", TINY_OFFICIAL["mixste"]))
    ckpt = official_checkpoint("mixste", lifter.state_dict())
    ckpt["random_state"] = _RandomStateNamingCode(str(marker), ctor_first)
    torch.save(ckpt, tmp_path / "evil.bin")
    with pytest.raises(ValueError, match=r"refused to load.*(`io\.open`|open)"):
        load_official("mixste", tmp_path / "evil.bin", TINY_OFFICIAL["mixste"])
    assert not marker.exists()


@pytest.mark.parametrize(("args", "what"), [
    (("subprocess.Popen",), "numpy bit generator 'subprocess.Popen'"),
    ((np.random.MT19937,), None),  # a numpy 2.x-style class argument is fine
    (("MT19937", np.random.RandomState), "RandomState constructor argument"),
    (("MT19937", np.ndarray), "RandomState constructor argument"),
])  # fmt: skip
def test_random_state_arguments_outside_numpy_bit_generators_are_refused(tmp_path, args, what):
    torch.save({"model_pos": {}, "random_state": _RandomStateArgs(*args)}, tmp_path / "rs.bin")
    if what is None:
        assert isinstance(safe_torch_load(tmp_path / "rs.bin")["random_state"],
                          np.random.RandomState)
        return
    with pytest.raises(ValueError, match=f"refused to load.*{what}"):
        safe_torch_load(tmp_path / "rs.bin")


def test_unsupported_official_options_are_errors():
    with pytest.raises(ValueError, match="in_chans=2"):
        lifter_kwargs_for("mixste", {"in_chans": 3})
    with pytest.raises(ValueError, match="unknown official constructor arguments"):
        lifter_kwargs_for("mixste", {"embed_dim": 3})
    assert family_of("mixste").weights_keys == ("model_pos",)


def test_ktpformer_topology_equals_the_official_matrices(shared_data):
    *_, x, _ = _fixture(shared_data, "ktpformer")
    with np.load(shared_data / "official" / "ktpformer_io.npz") as io:
        spatial = torch.from_numpy(io["adj_spatial"])
        temporal = torch.from_numpy(io["adj_temporal"])
    assert torch.equal(prior_adjacency(H36M_PARENTS), spatial)
    assert torch.equal(frame_chain_adjacency(x.shape[1]), temporal)
    # passing the official matrices in the config is accepted; other ones are refused
    cfg = {**TINY_OFFICIAL["ktpformer"], "num_frame": 27, "adj": spatial.numpy(),
           "adj_temporal": temporal.numpy()}  # fmt: skip
    assert lifter_kwargs_for("ktpformer", cfg)["num_frames"] == 27
    with pytest.raises(ValueError, match="adj_temporal"):
        lifter_kwargs_for("ktpformer", {**cfg, "adj_temporal": temporal[:9, :9].numpy()})


def test_topology_builders_follow_the_official_normalisation():
    adj = prior_adjacency(H36M_PARENTS)
    third = torch.tensor(1 / 3)
    assert torch.allclose(adj[0, [0, 1, 4, 7]], torch.stack([torch.tensor(1.0), third, third,
                                                             third]))  # fmt: skip
    assert adj[0].count_nonzero() == 4 and not torch.equal(adj, adj.T)
    chain = frame_chain_adjacency(5)
    assert torch.equal(chain[0], torch.tensor([1.0, 1.0, 0, 0, 0]))
    assert torch.equal(chain[2], torch.tensor([0, 0.5, 1.0, 0.5, 0]))
    assert torch.equal(chain[4], torch.tensor([0, 0, 0, 1.0, 1.0]))


@pytest.mark.parametrize("name", ["mixste", "ktpformer"])
def test_shorter_clips_use_the_first_rows_of_the_frame_parameters(name):
    """T < num_frames equals a model built for T with the first T rows (documented deviation)."""
    torch.manual_seed(0)
    big = create_lifter(name, size="tiny", num_frames=27).eval()
    small = create_lifter(name, size="tiny", num_frames=9).eval()
    cut = {}
    for k, v in big.state_dict().items():
        if k.endswith(("Temporal_pos_embed",)):
            v = v[:, :9]
        elif "tpa." in k and k.endswith(".M"):
            v = v[:9]
        elif "tpa." in k and k.endswith(".adj2"):
            v = v[:9, :9]
        cut[k] = v
    small.load_state_dict(cut)
    x = torch.rand(2, 9, 17, 3)
    with torch.no_grad():
        torch.testing.assert_close(big(x), small(x), rtol=0, atol=1e-6)


@pytest.mark.parametrize("stem", sorted(FIXTURES))
def test_cli_convert_both_ways(shared_data, tmp_path, stem):
    import yaml

    from liftbench.bench.cli import main

    name, official, cfg, x, y = _fixture(shared_data, stem)
    yml = tmp_path / f"{stem}.yaml"  # the run's arguments as a YAML file
    yml.write_text(yaml.safe_dump({**cfg, "lr": 4e-5, "epochs": 120}))
    ckpt = tmp_path / "converted.ckpt"
    assert main(["convert", str(official), "--model", name, "--config", str(yml),
                 "--out", str(ckpt)]) == 0  # fmt: skip
    saved = torch.load(ckpt, weights_only=True)
    hp = saved["hyper_parameters"]
    lifter = create_lifter(hp["lifter"], **hp["lifter_kwargs"])
    lifter.load_state_dict({k.removeprefix("lifter."): v for k, v in saved["state_dict"].items()})
    with torch.no_grad():
        assert (lifter.eval()(_with_confidence(x)) - y).abs().max().item() <= 1e-5
    back = tmp_path / "best_epoch.bin"
    assert main(["convert", str(ckpt), "--to-official", "--out", str(back)]) == 0
    ours, theirs = safe_torch_load(back)["model_pos"], safe_torch_load(official)["model_pos"]
    assert list(ours) == list(theirs)
    assert all(torch.equal(ours[k], theirs[k]) for k in theirs)


class _LegacyRandomState:
    """Pickles as a numpy < 1.17 `RandomState`: `__RandomState_ctor()` + a legacy state tuple."""

    def __init__(self, rs: np.random.RandomState) -> None:
        self.state = rs.get_state(legacy=True)

    def __reduce__(self):
        return (getattr(np.random, "__RandomState_ctor"), (), self.state)


def test_numpy_1_16_random_state_pickles_load(tmp_path):
    rs = np.random.RandomState(1234)
    rs.permutation(7)
    torch.save({"model_pos": {}, "random_state": _LegacyRandomState(rs)}, tmp_path / "old.bin")
    again = safe_torch_load(tmp_path / "old.bin")["random_state"]
    assert isinstance(again, np.random.RandomState)
    assert np.array_equal(again.randint(0, 1000, 20), rs.randint(0, 1000, 20))
