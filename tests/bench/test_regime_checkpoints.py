"""Every regime's checkpoint loads the Lightning way and predicts what its `test` scored.

For each regime a regime module is built around a tiny lifter (standardised where the regime
allows, so the normaliser travels too), saved by a Trainer, and then:
- `Regime.load_from_checkpoint(path)` (Lightning's own API) rebuilds it, weights included;
- `bench.checkpoints.load_regime(path)` picks the right class from the checkpoint;
- `liftbench predict` on the test clips (written as a pixel keypoint file) equals the regime's
  test-time prediction (`predict_pose`, what `test_step` scores) to 1e-5.
"""

from __future__ import annotations

import json

import lightning as L
import numpy as np
import pytest
import torch

from liftbench.bench.checkpoints import load_regime, read_checkpoint, regime_name_of
from liftbench.bench.cli import main
from liftbench.bench.regimes import list_regimes, regime_class
from liftbench.bench.regimes.base import flatten_views
from liftbench.datamodules.synthetic.datamodule import SyntheticDataModule
from liftbench.geometry.screen import denormalize_screen

# regime -> (lifter, extra constructor arguments)
CASES = {
    "supervised": ("simplebaseline", {"standardize": True}),
    "consistency": ("videopose3d_27", {}),
    "selffusion": ("canonpose", {"standardize": True}),
    "pseudolabel": ("videopose3d_27", {}),
    "heatpose": ("motionagformer_xs", {}),
    "diffusion": ("d3dp", {"hypotheses": 2, "steps": 2}),
}


def test_every_regime_is_covered():
    assert set(CASES) == set(list_regimes())


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    dm = SyntheticDataModule(motions=["walk", "run"], subjects=2, cameras=2, views=1,
                             noise="detector", cache_dir=tmp_path_factory.mktemp("cache"),
                             batch_size=8)
    dm.prepare_data()
    dm.setup("fit")
    return dm


def _saved_regime(name: str, dm: SyntheticDataModule, path) -> L.LightningModule:
    lifter, extra = CASES[name]
    torch.manual_seed(0)
    regime = regime_class(name)(lifter=lifter, size="tiny", frames=27, flip_tta=True, **extra)
    if regime.normalizer is not None:
        inputs, targets = dm.training_arrays()
        regime.fit_normalizer(inputs, targets)
    with torch.no_grad():  # move every weight off its initial value (biases start at 0)
        for p in regime.parameters():
            p.add_(0.05 * torch.randn_like(p))
    trainer = L.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, max_steps=0)
    trainer.strategy.connect(regime)
    trainer.save_checkpoint(path)
    return regime.eval()


@pytest.mark.parametrize("name", sorted(CASES))
def test_checkpoint_loads_and_predicts_what_test_scored(name, data, tmp_path, capsys):
    path = tmp_path / f"{name}.ckpt"
    regime = _saved_regime(name, data, path)
    cls = regime_class(name)

    loaded = cls.load_from_checkpoint(path, map_location="cpu", weights_only=False)
    assert type(loaded) is cls and regime_name_of(read_checkpoint(path)) == name
    for key, value in regime.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value, rtol=0, atol=0)
    assert (regime.normalizer is None) == (loaded.normalizer is None)
    assert type(load_regime(path)) is cls

    # the test clips as a pixel keypoint file, one clip per "view"
    arrays = data.datasets["test"].arrays
    x = np.asarray(arrays["input"][:3], dtype=np.float64)  # (3, 27, 17, 3)
    size = np.asarray(arrays["image_size"][:3], dtype=np.float64)
    px = np.concatenate([denormalize_screen(x[..., :2], size[:, None, None]), x[..., 2:]], -1)
    np.savez(tmp_path / "clips.npz", pose2d=px, image_size=size)
    with torch.no_grad():  # what test_step scores
        batch = flatten_views({"input": torch.as_tensor(x, dtype=torch.float32)})
        expected = regime.predict_pose(batch["input"]).double().numpy()

    out = tmp_path / "pred"
    assert main(["predict", str(path), str(tmp_path / "clips.npz"), "--out", str(out)]) == 0
    with np.load(f"{out}.npz") as f:
        pose3d = f["pose3d"]
    assert pose3d.shape == expected.shape
    np.testing.assert_allclose(pose3d, expected, atol=1e-5, rtol=0)
    meta = json.loads((tmp_path / "pred.json").read_text())
    assert meta["regime"] == name and meta["flip_tta"] is True
    capsys.readouterr()


def test_a_checkpoint_with_the_old_lifter_name_key_still_loads(data, tmp_path):
    path = tmp_path / "old.ckpt"
    regime = _saved_regime("heatpose", data, path)
    ckpt = torch.load(path, weights_only=False)
    ckpt["hyper_parameters"]["lifter_name"] = "motionagformer_xs"
    del ckpt["liftbench_regime"]  # written before the regime's name was recorded
    torch.save(ckpt, path)
    loaded = load_regime(path)
    assert type(loaded) is regime_class("heatpose")
    torch.testing.assert_close(loaded.state_dict(), regime.state_dict())
