"""STCFormer and P-STMO: official-code fixtures, bare state-dict checkpoints, centre frames."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from liftbench.bench.official import convert_official, export_official
from liftbench.bench.regimes.supervised import SupervisedRegime
from liftbench.models import create_lifter, load_official
from liftbench.models.official import (
    liftbench_to_official,
    lifter_kwargs_for,
    official_checkpoint,
    official_to_liftbench,
    safe_torch_load,
)

# fixture stem → (lifter, file, data_parallel keys)
FIXTURES = {
    "stcformer": ("stcformer", "stcformer_official.pth", False),
    "pstmo": ("pstmo", "pstmo_official.pth", True),
}
TOL = 1e-5  # the official P-STMO itself varies by 1.9e-6 across CPU thread counts
TINY_OFFICIAL = {
    "stcformer": {"layers": 2, "d_hid": 32, "frames": 9},
    "pstmo": {"layers": 1, "channel": 32, "d_hid": 64, "frames": 9},
}


def _fixture(shared_data, stem):
    root = shared_data / "official"
    if not (root / f"{stem}_io.npz").is_file():
        pytest.skip(f"official-code fixture {stem} not found in {root}")
    name, file, data_parallel = FIXTURES[stem]
    cfg = json.loads((root / f"{stem}_config.json").read_text())["constructor_kwargs"]
    with np.load(root / f"{stem}_io.npz") as io:
        arrays = {k: torch.from_numpy(io[k]) for k in io.files}
    return name, root / file, cfg, arrays, data_parallel


def _with_confidence(x_2d: torch.Tensor) -> torch.Tensor:
    """Official `(B, T, J, 2)` input plus a random confidence channel (which must be ignored)."""
    conf = torch.rand(*x_2d.shape[:-1], 1, generator=torch.Generator().manual_seed(3))
    return torch.cat([x_2d, conf], -1)


def test_stcformer_reproduces_the_official_output(shared_data):
    name, path, cfg, io, _ = _fixture(shared_data, "stcformer")
    lifter = load_official(name, path, config=cfg)  # the `note` entry and `frames` are ignored
    assert not lifter.training
    with torch.no_grad():
        out = lifter(_with_confidence(io["x"]))
    assert out.shape == io["y"].shape == (2, 27, 17, 3)
    assert (out - io["y"]).abs().max().item() <= TOL


def test_pstmo_reproduces_both_official_outputs(shared_data):
    name, path, cfg, io, _ = _fixture(shared_data, "pstmo")
    lifter = load_official(name, path, config=cfg)
    assert not lifter.training
    x = _with_confidence(io["x_btjc"])
    # the official layouts (B, 3, 1, J, 1) and (B, 3, T, J, 1) → (B, T, J, 3)
    y_centre = io["y"][..., 0].permute(0, 2, 3, 1)
    y_frames = io["y_vte"][..., 0].permute(0, 2, 3, 1)
    with torch.no_grad():
        centre, per_frame = lifter.forward_official(x)
        out = lifter(x)
    assert (centre - y_centre).abs().max().item() <= TOL
    assert (per_frame - y_frames).abs().max().item() <= TOL
    c = (x.shape[1] - 1) // 2
    assert torch.equal(out[:, c : c + 1], centre)
    assert torch.equal(out[:, :c], per_frame[:, :c])
    assert torch.equal(out[:, c + 1 :], per_frame[:, c + 1 :])


@pytest.mark.parametrize("stem", sorted(FIXTURES))
def test_fixture_round_trip_and_key_set(shared_data, stem):
    name, path, cfg, _, data_parallel = _fixture(shared_data, stem)
    official = safe_torch_load(path)
    assert all(k.startswith("module.") == data_parallel for k in official)
    back = liftbench_to_official(name, official_to_liftbench(name, official), data_parallel)
    assert list(back) == list(official)
    assert all(torch.equal(back[k], official[k]) for k in official)
    lifter = create_lifter(name, **lifter_kwargs_for(name, cfg))
    exported = liftbench_to_official(name, lifter.state_dict(), data_parallel)
    assert {k: tuple(v.shape) for k, v in exported.items()} == \
        {k: tuple(v.shape) for k, v in official.items()}


@pytest.mark.parametrize(("name", "total", "trainable"), [
    ("stcformer", 4_748_000, 4_748_000),
    ("stcformer_l", 18_933_184, 18_933_184),
    ("pstmo", 5_209_702, 5_208_678),  # 1,024 in the never-applied final LayerNorms
    ("pstmo_s", 4_682_598, 4_681_574),
])
def test_paper_configs_count_the_official_parameters(name, total, trainable):
    with torch.device("meta"):
        lifter = create_lifter(name, **lifter_kwargs_for(name))
    assert sum(p.numel() for p in lifter.parameters()) == total
    assert sum(p.numel() for p in lifter.parameters() if p.requires_grad) == trainable


@pytest.mark.parametrize("name", sorted(TINY_OFFICIAL))
def test_bare_state_dict_checkpoints_convert_both_ways(tmp_path, name):
    torch.manual_seed(0)
    lifter = create_lifter(name, **lifter_kwargs_for(name, TINY_OFFICIAL[name])).eval()
    ckpt = official_checkpoint(name, lifter.state_dict())
    assert all(isinstance(v, torch.Tensor) for v in ckpt.values())  # bare, as save_model writes
    assert all(k.startswith("module.") == (name == "pstmo") for k in ckpt)
    torch.save(ckpt, tmp_path / "no_refine_1_4400.pth")
    x = torch.rand(2, 9, 17, 3)
    loaded = load_official(name, tmp_path / "no_refine_1_4400.pth", TINY_OFFICIAL[name])
    with torch.no_grad():
        assert torch.equal(loaded(x), lifter(x))
    # `liftbench convert` both ways gives the official file back
    ours = convert_official(tmp_path / "no_refine_1_4400.pth", name, tmp_path / "lb.ckpt",
                            config=TINY_OFFICIAL[name])
    again = torch.load(export_official(ours, tmp_path / "back.pth"), weights_only=True)
    assert list(again) == list(ckpt)
    assert all(torch.equal(again[k], ckpt[k]) for k in ckpt)


def test_official_options_map_to_the_lifter():
    assert lifter_kwargs_for("stcformer_l") == {"layers": 6, "d_hid": 512, "num_joints": 17}
    # a whole argparse namespace may be passed; only the entries Model(opt) reads count
    opt = {"layers": 3, "frames": 243, "batchSize": 160, "lr": 7e-4, "MAE": False}
    kwargs = lifter_kwargs_for("pstmo", opt)
    assert kwargs["layers"] == 3 and kwargs["n_frames"] == 243
    assert kwargs["stride_num"] == [3, 3, 3, 3, 3]  # the common/opt.py table
    with pytest.raises(ValueError, match="in_channels"):
        lifter_kwargs_for("pstmo", {"in_channels": 3})
    with pytest.raises(ValueError, match="no official stride_num"):
        lifter_kwargs_for("pstmo", {"frames": 30})


def test_pstmo_needs_its_built_clip_length_and_valid_strides():
    lifter = create_lifter("pstmo", size="tiny")  # n_frames 9
    with pytest.raises(ValueError, match="exactly T=9"):
        lifter(torch.rand(1, 5, 17, 3))
    with pytest.raises(ValueError, match="reduce"):
        create_lifter("pstmo", size="tiny", n_frames=27, stride_num=[3, 3])


def test_pstmo_training_weights_the_centre_frame_like_the_official_loss():
    """In training the centre frame's gradient is scaled by T (its value is unchanged)."""
    x = torch.rand(4, 9, 17, 3)
    grads, outs = [], []
    for scale in (1.0, None):  # None: the default, T = 9
        torch.manual_seed(0)
        lifter = create_lifter("pstmo", size="tiny", dropout=0.0,
                               centre_grad_scale=scale).train()
        out = lifter(x)
        out.square().sum().backward()
        outs.append(out.detach())
        grads.append((lifter.head[1].weight.grad.clone(), lifter.head_vte[1].weight.grad.clone()))
    assert torch.equal(outs[0], outs[1])
    torch.testing.assert_close(grads[1][0], 9.0 * grads[0][0])  # the many-to-one head
    torch.testing.assert_close(grads[1][1], grads[0][1])  # the per-frame head


def _eval_mpjpe(regime: SupervisedRegime, batch: dict) -> float:
    regime.test_metrics.reset()
    regime._eval_step(batch, regime.test_metrics)
    return regime.test_metrics.compute()["overall"]["mpjpe"]


def test_regime_evaluates_a_centre_frame_lifter_on_its_centre_frame():
    torch.manual_seed(0)
    regime = SupervisedRegime("pstmo", size="tiny", flip_tta=False, standardize=False).eval()
    assert regime.lifter.output_frames == "centre"
    x = torch.rand(3, 9, 17, 3)
    with torch.no_grad():
        pred = regime.predict_pose(x)
    target = pred + torch.linspace(0.0, 0.5, 17)[:, None]  # wrong on every joint but the root
    target[:, 4] = pred[:, 4]  # except on the centre frame
    batch = {"input": x, "target": target, "factor": torch.full((3, 9), 1000.0)}
    with torch.no_grad():
        assert _eval_mpjpe(regime, batch) == pytest.approx(0.0, abs=1e-3)
        regime.lifter.output_frames = "all"  # the same predictions scored on every frame
        assert _eval_mpjpe(regime, batch) > 100.0


def test_stcformer_convert_and_predict_on_the_command_line(shared_data, tmp_path):
    from liftbench.bench.checkpoints import load_regime
    from liftbench.bench.cli import main

    name, path, cfg, io, _ = _fixture(shared_data, "stcformer")
    ckpt = tmp_path / "stcformer.ckpt"
    assert main(["convert", str(path), "--model", name, "--out", str(ckpt)]) == 0
    regime = load_regime(ckpt)
    assert regime.normalizer is None  # official weights: no z-scoring around them
    with torch.no_grad():
        out = regime.lifter(_with_confidence(io["x"]))
    assert (out - io["y"]).abs().max().item() <= TOL
    # pixels whose width normalisation gives back x (two clips = two views of one take)
    w, h = 1000.0, 800.0
    px = io["x"].double().numpy().copy()
    px[..., 0] = (px[..., 0] + 1) * w / 2
    px[..., 1] = (px[..., 1] + h / w) * w / 2
    kp = tmp_path / "take.json"
    kp.write_text(json.dumps({"image_size": [w, h], "joint_set": "h36m17",
                              "keypoints": px.tolist()}))
    assert main(["predict", str(ckpt), str(kp), "--no-flip", "--out", str(tmp_path / "p")]) == 0
    y = io["y"].numpy()
    with np.load(tmp_path / "p.npz") as f:
        assert np.abs(f["pose3d"] - (y - y[..., :1, :])).max() <= TOL
    back = tmp_path / "back.pth"
    assert main(["convert", str(ckpt), "--to-official", "--out", str(back)]) == 0
    ours, theirs = torch.load(back, weights_only=True), safe_torch_load(path)
    assert list(ours) == list(theirs) and all(torch.equal(ours[k], theirs[k]) for k in theirs)
