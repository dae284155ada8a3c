"""`liftbench convert / predict / test / fit` with checkpoints in the official layouts."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml

from liftbench.bench.checkpoints import is_liftbench_checkpoint, load_regime
from liftbench.bench.cli import main
from liftbench.leaderboard.records import read_records
from liftbench.models import create_lifter
from liftbench.models.official import lifter_kwargs_for, official_checkpoint, safe_torch_load

FIXTURES = {  # stem → (lifter, file)
    "motionbert": ("motionbert", "motionbert_official.bin"),
    "motionagformer": ("motionagformer_xs", "motionagformer_official.pth.tr"),
    "kasportsformer": ("kasportsformer", "kasportsformer_official.pth.tr"),
}
W, H = 1000.0, 800.0


def _fixture(shared_data, stem, tmp_path):
    root = shared_data / "official"
    if not root.is_dir():
        pytest.skip(f"official-code fixtures not found at {root}")
    name, file = FIXTURES[stem]
    kwargs = json.loads((root / f"{stem}_config.json").read_text())["constructor_kwargs"]
    cfg = tmp_path / f"{stem}.yaml"  # the official YAML: model keys among training settings
    cfg.write_text(yaml.safe_dump({**kwargs, "learning_rate": 5e-4, "epochs": 60}))
    with np.load(root / f"{stem}_io.npz") as io:
        x, y = io["x"], io["y"]
    return name, root / file, cfg, x, y


def _keypoint_file(x: np.ndarray, path):
    """Pixels whose width normalisation (docs/conventions.md) gives back `x`; clips become views."""
    px = x.astype(np.float64).copy()
    px[..., 0] = (px[..., 0] + 1) * W / 2
    px[..., 1] = (px[..., 1] + H / W) * W / 2
    path.write_text(json.dumps({"image_size": [W, H], "joint_set": "h36m17",
                                "keypoints": px.tolist()}))
    return path


@pytest.mark.parametrize("stem", sorted(FIXTURES))
def test_convert_then_predict_gives_the_official_output(shared_data, tmp_path, stem):
    name, official, cfg, x, y = _fixture(shared_data, stem, tmp_path)
    ckpt = tmp_path / "converted.ckpt"
    assert main(["convert", str(official), "--model", name, "--config", str(cfg),
                 "--out", str(ckpt)]) == 0
    assert is_liftbench_checkpoint(ckpt) and not is_liftbench_checkpoint(official)
    lifter = load_regime(ckpt).lifter  # needs nothing but the file
    with torch.no_grad():
        assert np.abs(lifter(torch.from_numpy(x)).numpy() - y).max() <= 1e-5
    kp = _keypoint_file(x, tmp_path / "take.json")
    rel = y - y[..., :1, :]  # predict returns root-relative poses
    for i, args in enumerate((
        [str(ckpt), str(kp)],
        [str(official), "--model", name, "--config", str(cfg), str(kp)],
    )):  # fmt: skip
        out = tmp_path / f"pred{i}"
        assert main(["predict", *args, "--no-flip", "--out", str(out)]) == 0
        with np.load(out.with_suffix(".npz")) as f:
            assert np.abs(f["pose3d"] - rel).max() <= 1e-5
    # back to the official layout: the fixture's exact key set and weights
    back = tmp_path / "best_epoch.bin"
    assert main(["convert", str(ckpt), "--to-official", "--out", str(back)]) == 0
    ours, theirs = safe_torch_load(back), safe_torch_load(official)
    key = next(k for k in ("model_pos", "model") if k in theirs)
    assert set(ours[key]) == set(theirs[key])
    assert all(torch.equal(ours[key][k], theirs[key][k]) for k in theirs[key])


def test_predict_official_without_model_is_a_clear_error(tmp_path, capsys):
    lifter = create_lifter("motionbert", size="tiny")
    torch.save(official_checkpoint("motionbert", lifter.state_dict()), tmp_path / "b.bin")
    kp = _keypoint_file(np.zeros((1, 5, 17, 3)), tmp_path / "k.json")
    assert main(["predict", str(tmp_path / "b.bin"), str(kp)]) == 2
    assert "--model NAME" in capsys.readouterr().err
    assert main(["convert", str(tmp_path / "b.bin"), "--out", str(tmp_path / "x.ckpt")]) == 2


def _base(cache, out, model):
    return [f"model={model}", "size=tiny", "data=synthetic", "data.kwargs.motions=[walk,run]",
            "data.kwargs.subjects=1", "data.kwargs.cameras=2", f"data.kwargs.cache_dir={cache}",
            "data.kwargs.frames=9", "data.batch_size=16", f"output_dir={out / 'runs'}",
            f"results_dir={out / 'results'}", "logger=none"]  # fmt: skip


def test_test_and_init_from_accept_official_checkpoints(tmp_path):
    name = "motionagformer_xs"
    torch.manual_seed(0)
    lifter = create_lifter(name, size="tiny")
    official = tmp_path / "motionagformer-xs-h36m.pth.tr"
    ckpt = official_checkpoint(name, lifter.state_dict())
    torch.save({**ckpt, "epoch": 1, "lr": 5e-4, "min_mpjpe": np.float64(50.0)}, official)
    ours = tmp_path / "ours.ckpt"
    from liftbench.bench.official import liftbench_checkpoint

    torch.save(liftbench_checkpoint(name, lifter.state_dict(), {}), ours)
    cache = tmp_path / "cache"
    metrics = []
    for tag, path in (("official", official), ("ours", ours)):
        out = tmp_path / tag
        assert main(["test", *_base(cache, out, name), f"ckpt_path={path}"]) == 0
        (rec,) = read_records(out / "results")
        metrics.append(rec.metrics["mpjpe"])
    assert metrics[0] == pytest.approx(metrics[1], rel=1e-6)
    # fit from the official weights, no training step: the test numbers are the same again
    out = tmp_path / "warm"
    assert main(["fit", *_base(cache, out, name), f"init_from={official}",
                 "trainer.max_steps=0"]) == 0
    (rec,) = read_records(out / "results")
    assert rec.metrics["mpjpe"] == pytest.approx(metrics[0], rel=1e-6)
    assert lifter_kwargs_for(name)["n_frames"] == 27  # the paper config, for the record
