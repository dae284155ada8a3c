"""D3DP: schedule, denoiser, training noising and DDIM sampling against the official fixture."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from liftbench.models import create_lifter, get_lifter_entry, load_official
from liftbench.models.diffusion import (
    SCHEDULE_BUFFERS,
    clip_noise,
    ddim_time_pairs,
    noise_target,
    schedule_buffers,
)
from liftbench.models.official import (
    liftbench_to_official,
    lifter_kwargs_for,
    load_official_state,
    official_checkpoint,
    official_to_liftbench,
    safe_torch_load,
)

# the fixture's official configuration (`-f 27 -cs 128 -dep 4`, H = K = 2)
FIXTURE_CONFIG = {"number_of_frames": 27, "cs": 128, "dep": 4, "num_proposals": 2,
                  "sampling_timesteps": 2}  # fmt: skip
TOL = 1e-5


@pytest.fixture(scope="module")
def fixture(shared_data):
    root = shared_data / "official"
    if not (root / "d3dp_io.npz").is_file():
        pytest.skip(f"D3DP official-code fixture not found in {root}")
    with np.load(root / "d3dp_io.npz") as io:
        arrays = {k: torch.from_numpy(io[k]) for k in io.files}
    model = load_official("d3dp", root / "d3dp_official.bin", FIXTURE_CONFIG)
    return model, arrays, root / "d3dp_official.bin"


def _with_conf(x2d: torch.Tensor) -> torch.Tensor:
    """liftbench input from the official 2-channel one (confidence 0.5: it must be ignored)."""
    return torch.cat([x2d, torch.full_like(x2d[..., :1], 0.5)], dim=-1)


def _maxdiff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().max().item()


def test_schedule_matches_the_official_buffers(fixture):
    """Our schedule is the official one to a few ulps; a loaded checkpoint keeps its own bits.

    Both codes evaluate the cosine with torch's float64 `cos`, whose vectorised kernel (MKL on
    Intel, SLEEF elsewhere) differs by up to 1 ulp between CPUs: bit equality with a fixture
    written on another CPU is not a property of the formula, so it is asserted to 1e-12 relative
    (`betas = 1 − ratio` amplifies 1 ulp of the cosine to ~1e-13).
    """
    model, io, path = fixture
    ours = schedule_buffers(1000)
    close = {"rtol": 1e-12, "atol": 1e-300}
    torch.testing.assert_close(ours["betas"], io["betas"], **close)
    torch.testing.assert_close(ours["alphas_cumprod"], io["alphas_cumprod"], **close)
    official = safe_torch_load(path)["model_pos"]
    loaded = dict(model.named_buffers())
    for name in SCHEDULE_BUFFERS:
        assert official[f"module.{name}"].dtype == torch.float64
        torch.testing.assert_close(ours[name], official[f"module.{name}"], **close, msg=name)
        assert torch.equal(loaded[name], official[f"module.{name}"]), name


def test_time_grids_match_the_official_truncation():
    assert ddim_time_pairs(1000, 2) == [(999, 499), (499, -1)]
    assert ddim_time_pairs(1000, 3) == [(999, 665), (665, 332), (332, -1)]
    assert [t for t, _ in ddim_time_pairs(1000, 5)] == [999, 799, 599, 399, 199]
    with pytest.raises(ValueError, match="sampling steps"):
        ddim_time_pairs(1000, 0)


def test_denoiser_5d_and_4d_paths(fixture):
    model, io, _ = fixture
    with torch.no_grad():
        y5 = model.pose_estimator(io["den_x2d"], io["den_x3d"], io["den_t"])
        y4 = model.pose_estimator(io["den_x2d"], io["den4_x3d"], io["den4_t"])
    assert _maxdiff(y5, io["den_y"]) <= TOL
    assert _maxdiff(y4, io["den4_y"]) <= TOL


def test_training_forward_with_the_official_draws(fixture):
    model, io, _ = fixture
    with torch.no_grad():
        y = model.training_forward(_with_conf(io["trf_x2d"]), io["trf_x3d"], io["trf_t"],
                                   io["trf_noise"])  # fmt: skip
    assert _maxdiff(y, io["trf_y"]) <= TOL


@pytest.mark.parametrize(("prefix", "h", "k"), [("", 2, 2), ("k3_", 3, 3), ("c8_", 2, 2)])
def test_sampling_with_the_saved_draws(fixture, prefix, h, k):
    model, io, _ = fixture
    x = io["c8_x"] if prefix == "c8_" else io["x"]
    with torch.no_grad():
        y = model.sample(_with_conf(x), h, k, noise_init=io[f"{prefix}noise_init"],
                         noise_steps=list(io[f"{prefix}noise_steps"]))  # fmt: skip
    assert y.shape == io[f"{prefix}y"].shape == (2, k, h, 27, 17, 3)
    assert _maxdiff(y, io[f"{prefix}y"]) <= TOL
    # every iteration's x0 is returned (K-first in the fixture's step arrays)
    assert _maxdiff(y.transpose(0, 1), io[f"{prefix}step_x_start"]) <= TOL
    if prefix == "c8_":  # the ±1.1 clamp of x0 is active in this case
        assert (y.abs() == 1.1).any()


def test_a_seeded_generator_reproduces_the_fixture_draws(fixture):
    """The fixture drew x, gt_3d, traj, then the sampler's noise from one stream seeded 1."""
    model, io, _ = fixture
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, 27, 17, 2, generator=g) * 2 - 1
    gt = torch.randn(2, 27, 17, 3, generator=g) * 0.5
    traj = torch.cat([(torch.rand(2, 27, 1, 2, generator=g) - 0.5) * 0.6,
                      4.5 + torch.rand(2, 27, 1, 1, generator=g)], dim=-1)  # fmt: skip
    assert torch.equal(x, io["x"])
    assert torch.equal(gt - gt[..., :1, :], io["gt_3d"])
    assert torch.equal(traj, io["traj"])
    with torch.no_grad():
        y = model.sample(_with_conf(x), 2, 2, generator=g)
    assert _maxdiff(y, io["y"]) <= TOL


def test_confidence_is_ignored_and_forward_is_p_agg(fixture):
    model, io, _ = fixture
    x = _with_conf(io["x"])
    x2 = x.clone()
    x2[..., 2] = torch.rand_like(x2[..., 2])
    with torch.no_grad():
        y = model(x)
        assert torch.equal(y, model(x2))
        init, steps = clip_noise(2, (2, 27, 17, 3), 2, model.sample_seed)
        assert torch.equal(init[0], init[1])  # the same draws for every clip
        assert torch.equal(y, model.sample(x, noise_init=init, noise_steps=steps)[:, -1].mean(1))
        torch.testing.assert_close(model(x[1:]), y[1:], rtol=0, atol=1e-6)  # batch-independent


def test_noise_target_clamps_and_casts():
    buffers = schedule_buffers(1000)
    x0 = torch.full((2, 3, 17, 3), 5.0)
    out = noise_target(buffers, x0, torch.tensor([0, 999]), torch.zeros_like(x0), scale=1.0)
    assert out.dtype == torch.float32 and out.abs().max().item() == pytest.approx(1.1)


def test_paper_counts_and_official_key_set_on_meta(fixture):
    _, _, path = fixture
    official = safe_torch_load(path)["model_pos"]
    expected_patterns = {re.sub(r"\.\d+\.", ".N.", k) for k in official}
    for frames, count in ((27, 34_724_867), (243, 34_835_459)):
        cfg = {"number_of_frames": frames}
        with torch.device("meta"):
            paper = create_lifter("d3dp", **lifter_kwargs_for("d3dp", cfg))
            fresh = create_lifter("d3dp", **lifter_kwargs_for("d3dp", cfg))
        assert sum(p.numel() for p in paper.parameters()) == count
        keys = liftbench_to_official("d3dp", paper.state_dict(), data_parallel=True)
        assert {re.sub(r"\.\d+\.", ".N.", k) for k in keys} == expected_patterns
        assert sum(1 for k in keys if ".STEblocks." in k and k.endswith("norm1.weight")) == 8
        load_official_state(fresh, "d3dp", keys)  # raises on missing / unexpected keys
    assert get_lifter_entry("d3dp").paper_params == 34_835_459


def test_round_trip_official_liftbench_official_is_exact(fixture, tmp_path):
    model, io, path = fixture
    official = safe_torch_load(path)["model_pos"]
    ours = official_to_liftbench("d3dp", official)
    back = liftbench_to_official("d3dp", ours, data_parallel=True)
    assert list(back) == list(official)
    # a freshly built lifter exports the official keys in the official order
    assert list(liftbench_to_official("d3dp", model.state_dict(), data_parallel=True)) == \
        list(official)
    assert all(torch.equal(back[k], official[k]) and back[k].dtype == official[k].dtype
               for k in official)  # fmt: skip
    # export the loaded lifter and read it back
    torch.save(official_checkpoint("d3dp", model.state_dict()), tmp_path / "best_epoch.bin")
    again = safe_torch_load(tmp_path / "best_epoch.bin")["model_pos"]
    assert set(again) == set(official)
    assert all(torch.equal(again[k], official[k]) for k in official)


def test_tiny_trains_and_samples_reproducibly():
    torch.manual_seed(0)
    model = create_lifter("d3dp", size="tiny")
    x = torch.rand(2, 9, 17, 3)
    target = torch.randn(2, 9, 17, 3) * 0.2
    pred = model.train().training_forward(x, target, generator=torch.Generator().manual_seed(3))
    loss = torch.linalg.vector_norm(pred - target, dim=-1).mean()
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    model.eval()
    with torch.no_grad():
        a = model.sample(x, 3, 2, generator=torch.Generator().manual_seed(5))
        b = model.sample(x, 3, 2, generator=torch.Generator().manual_seed(5))
        c = model.sample(x, 3, 2, generator=torch.Generator().manual_seed(6))
    assert a.shape == (2, 2, 3, 9, 17, 3) and torch.equal(a, b) and not torch.equal(a, c)
    with pytest.raises(ValueError, match="noise_init must have shape"):
        model.sample(x, 3, 2, noise_init=torch.zeros(2, 2, 9, 17, 3))
    with pytest.raises(ValueError, match="num_hypotheses"):
        create_lifter("d3dp", size="tiny", num_hypotheses=0)


@pytest.mark.parametrize(("prefix", "h", "k"), [("", 2, 2), ("k3_", 3, 3)])
def test_aggregations_of_our_samples_select_as_the_official_evaluation(fixture, prefix, h, k):
    """End to end: our samples, root zeroed, give the official choices (J-Agg margins ≥ 3.6e-6)."""
    from liftbench.bench.metrics import multihypothesis as mh

    model, io, _ = fixture
    with torch.no_grad():
        y = model.sample(io["x"], h, k, noise_init=io[f"{prefix}noise_init"],
                         noise_steps=list(io[f"{prefix}noise_steps"]))  # fmt: skip
    y[..., 0, :] = 0
    reproj = mh.project_h36m(y + io["traj"][:, None, None], io["cam_intrinsic"])
    for i in range(k):
        assert torch.equal(mh.j_best(y[:, i], io["gt_3d"])[1], io[f"{prefix}jbest_index"][:, i])
        assert int(mh.p_best(y[:, i], io["gt_3d"], per="batch")[1]) == \
            int(io[f"{prefix}pbest_index"][i])
        assert torch.equal(mh.j_agg(y[:, i], reproj[:, i], io["x"])[1],
                           io[f"{prefix}jagg_index"][:, i])  # fmt: skip
        assert _maxdiff(mh.p_agg(y[:, i]), io[f"{prefix}pose_pagg"][:, i]) <= TOL
