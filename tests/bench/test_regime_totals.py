"""A regime's training loss is the weighted sum of the `losses/` functions (independent check)."""

from __future__ import annotations

import pytest
import torch

from liftbench.bench.regimes.consistency import ConsistencyRegime
from liftbench.bench.regimes.supervised import SupervisedRegime
from liftbench.losses.consistency import consistency_loss
from liftbench.losses.reprojection import loss_2d_weighted
from liftbench.losses.supervised import (
    loss_limb_gt,
    loss_limb_var,
    loss_mpjpe,
    loss_n_mpjpe,
    loss_velocity,
)


def _poses(*shape: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = 0.3 * torch.randn(*shape, 17, 3, generator=g)
    x[..., 2] = torch.rand(*shape, 17, generator=g)  # a confidence channel in [0, 1]
    return x


def _mask(*shape: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(*shape, 17, generator=g) > 0.1


def test_supervised_total_is_the_weighted_sum_of_its_losses():
    w = {"w_pos": 1.0, "w_scale": 0.5, "w_vel": 20.0, "w_limb_var": 0.3, "w_limb_gt": 0.2}
    module = SupervisedRegime(lifter="videopose3d_27", size="tiny", loss=w, standardize=False,
                              frames=27).eval()
    batch = {"input": _poses(3, 27, seed=0), "target": _poses(3, 27, seed=1),
             "valid": _mask(3, 27, seed=2)}
    with torch.no_grad():
        total = module.training_step(batch, 0)
        pred = module.lift(batch["input"])
    y, m = batch["target"], batch["valid"]
    expected = (w["w_pos"] * loss_mpjpe(pred, y, m) + w["w_scale"] * loss_n_mpjpe(pred, y, m)
                + w["w_vel"] * loss_velocity(pred, y, m) + w["w_limb_var"] * loss_limb_var(pred)
                + w["w_limb_gt"] * loss_limb_gt(pred, y, m))
    assert float(total) == pytest.approx(float(expected), rel=1e-6)
    assert float(expected) > 0


def test_consistency_total_is_the_weighted_sum_of_its_losses():
    w = {"w_2d": 1.0, "w_con": 0.3}
    module = ConsistencyRegime(lifter="videopose3d_27", size="tiny", loss=w, standardize=False,
                               frames=27).eval()
    x, valid = _poses(2, 2, 27, seed=3), _mask(2, 2, 27, seed=4)
    batch = {"input": x, "target": _poses(2, 2, 27, seed=5), "valid": valid}
    with torch.no_grad():
        total = module.training_step(batch, 0)
        pred = module.lift(x.flatten(0, 1)).view(2, 2, 27, 17, 3)
    expected = (w["w_2d"] * loss_2d_weighted(pred, x, mask=valid)
                + w["w_con"] * consistency_loss(pred, mask=valid, per="sequence", symmetric=True))
    assert float(total) == pytest.approx(float(expected), rel=1e-6)
    assert float(expected) > 0
