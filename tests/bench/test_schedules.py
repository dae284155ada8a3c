"""The regimes' learning-rate schedules, read off the optimiser step by step."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from liftbench.bench.regimes.supervised import SupervisedRegime


def _cosine(total_steps: float, warmup_fraction: float = 0.1, lr: float = 1e-3):
    module = SupervisedRegime(lifter="simplebaseline", size="tiny", standardize=False,
                              optim={"schedule": "cosine", "lr": lr,
                                     "warmup_fraction": warmup_fraction})
    # the schedule reads the run's length from the Trainer
    module._trainer = SimpleNamespace(estimated_stepping_batches=total_steps)
    return module.configure_optimizers()


def test_cosine_warms_up_then_decays_to_zero_at_the_last_step():
    out = _cosine(100, warmup_fraction=0.1, lr=1e-3)
    assert out["lr_scheduler"]["interval"] == "step"
    opt, sched = out["optimizer"], out["lr_scheduler"]["scheduler"]
    lrs = []
    for _ in range(100):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(1e-4)          # step 1 of 10 warm-up steps
    assert lrs[9] == pytest.approx(1e-3)          # peak at the end of the warm-up
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:]))  # then monotone decay
    # cosine: half way through the decay the rate is half the peak
    assert lrs[10 + 45] == pytest.approx(1e-3 * 0.5 * (1 + math.cos(math.pi * 45 / 90)))
    assert lrs[-1] < 1e-5 and opt.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)


def test_cosine_needs_a_finite_run_and_a_sane_warmup():
    with pytest.raises(ValueError, match="finite run"):
        _cosine(float("inf"))
    with pytest.raises(ValueError, match="warmup_fraction"):
        _cosine(100, warmup_fraction=1.0)


def test_unknown_schedule_names_the_valid_ones():
    module = SupervisedRegime(lifter="simplebaseline", size="tiny", standardize=False,
                              optim={"schedule": "linear"})
    with pytest.raises(ValueError, match="cosine"):
        module.configure_optimizers()
