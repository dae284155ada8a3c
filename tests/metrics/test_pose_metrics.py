"""torchmetrics classes and EvalMetrics: batching, groups, masks and a 2-process DDP reduction."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from liftbench.bench.evaluation import EVAL_METRICS, EvalMetrics
from liftbench.bench.metrics import functional as F
from liftbench.bench.metrics.pose import AUC, METRIC_CLASSES, MPJPE, PAMPJPE, PCK
from tests._ddp_workers import free_port, metrics_data, metrics_reference, metrics_worker

_data = metrics_data
_reference = metrics_reference


@pytest.mark.parametrize("name", sorted(METRIC_CLASSES))
def test_batched_and_grouped_equal_one_shot(name):
    pred, target, mask, groups = _data()
    metric = METRIC_CLASSES[name](num_groups=3)
    for lo in range(0, 12, 5):  # uneven batches
        metric.update(pred[lo : lo + 5], target[lo : lo + 5], mask=mask[lo : lo + 5],
                      groups=groups[lo : lo + 5])
    assert metric.compute().item() == pytest.approx(_reference(name, pred, target, mask),
                                                    abs=1e-9)
    per_group = metric.compute_groups()
    for g in range(3):
        sel = groups == g
        expect = _reference(name, pred[sel], target[sel], mask[sel])
        assert per_group[g].item() == pytest.approx(expect, abs=1e-9)


def test_plain_mean_matches_functional_without_mask():
    pred, target, _, _ = _data(seed=3)
    for name, fn in (("mpjpe", F.mpjpe), ("pa_mpjpe", F.pa_mpjpe), ("n_mpjpe", F.n_mpjpe),
                     ("spa_mpjpe", F.spa_mpjpe), ("mpjve", F.mpjve)):
        metric = METRIC_CLASSES[name]()
        metric.update(pred, target)
        assert metric.compute().item() == pytest.approx(fn(pred, target).item(), abs=1e-9)


def test_masked_nan_joints_do_not_poison():
    pred, target, mask, _ = _data(seed=1)
    target = target.clone()
    target[~mask] = float("nan")  # NaN targets count as masked
    m1, m2 = MPJPE(), MPJPE()
    m1.update(pred, target)
    m2.update(pred, torch.nan_to_num(target), mask=mask)
    assert torch.isfinite(m1.compute())
    assert m1.compute().item() == pytest.approx(m2.compute().item(), abs=1e-9)


def test_identical_poses_and_empty_groups():
    _, target, _, _ = _data(n=4)
    metric = PAMPJPE(num_groups=5)
    metric.update(target, target, groups=torch.tensor([0, 0, 2, 2]))
    assert metric.compute().item() == pytest.approx(0.0, abs=1e-6)
    per = metric.compute_groups()
    assert torch.isnan(per[1]) and torch.isnan(per[4]) and per[0].item() < 1e-6
    pck = PCK()
    pck.update(target, target)
    assert pck.compute().item() == 100.0
    auc = AUC()
    auc.update(target, target)  # threshold 0 counts nothing: 30/31 of the curve
    assert auc.compute().item() == pytest.approx(100.0 * 30 / 31)


def test_bad_groups_and_shapes():
    pred, target, _, _ = _data(n=3)
    metric = MPJPE(num_groups=2)
    with pytest.raises(ValueError, match="groups"):
        metric.update(pred, target, groups=torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="groups"):
        metric.update(pred, target, groups=torch.tensor([0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="pred"):
        metric.update(pred[0], target[0])
    with pytest.raises(ValueError, match="num_groups"):
        MPJPE(num_groups=0)
    with pytest.raises(ValueError, match="unknown metrics"):
        EvalMetrics(names=["mpjpe", "mpjpee"])


def test_eval_metrics_report():
    pred, target, mask, groups = _data()
    ev = EvalMetrics(num_groups=3)
    ev.update(pred, target, mask=mask, groups=groups)
    out = ev.compute(["walk", "run", "kick"])
    assert set(out["overall"]) == set(EVAL_METRICS)
    assert set(out["groups"]) == {"walk", "run", "kick"}
    assert out["overall"]["mpjpe"] == pytest.approx(_reference("mpjpe", pred, target, mask))
    assert out["groups"]["run"]["pa_mpjpe"] == pytest.approx(
        _reference("pa_mpjpe", pred[groups == 1], target[groups == 1], mask[groups == 1]))
    ev.reset()
    assert np.isnan(ev.compute()["overall"]["mpjpe"])


@pytest.mark.ddp
def test_two_process_ddp_equals_single_process(tmp_path):
    out = tmp_path / "rank0.json"
    # the worker lives in an importable module: spawned children import it by name
    mp.start_processes(metrics_worker, args=(2, free_port(), str(out)), nprocs=2,
                       start_method="spawn")
    got = json.loads(out.read_text())
    pred, target, mask, groups = _data(n=13)
    ev = EvalMetrics(num_groups=3)
    ev.update(pred, target, mask=mask, groups=groups)
    want = ev.compute(["a", "b", "c"])
    for name, value in want["overall"].items():
        assert got["res"]["overall"][name] == pytest.approx(value, abs=1e-9), name
    for g, values in want["groups"].items():
        for name, value in values.items():
            assert got["res"]["groups"][g][name] == pytest.approx(value, abs=1e-9)
    shard = torch.arange(13)[0::2]
    assert got["local"] == pytest.approx(_reference("mpjpe", pred[shard], target[shard],
                                                    mask[shard]), abs=1e-9)
