"""Data and worker functions for the multi-process tests.

They live in an importable module (not a test file) because `spawn`ed children import the
function they run by its module name.
"""

from __future__ import annotations

import json
import os
import socket

import torch
import torch.distributed as dist

from liftbench.bench.evaluation import EvalMetrics
from liftbench.bench.metrics import functional as F
from liftbench.bench.metrics.pose import METRIC_CLASSES


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def metrics_data(n=12, t=5, j=17, seed=0):
    """Random poses in mm with ~15% masked joints and 3 groups."""
    g = torch.Generator().manual_seed(seed)
    target = torch.randn(n, t, j, 3, generator=g, dtype=torch.float64) * 200
    pred = target + torch.randn(n, t, j, 3, generator=g, dtype=torch.float64) * 60
    mask = torch.rand(n, t, j, generator=g) > 0.15
    groups = torch.randint(0, 3, (n,), generator=g)
    return pred, target, mask, groups


def metrics_reference(name, pred, target, mask):
    """Frame averaging: mean of the per-joint values over all valid (frame, joint) pairs."""
    err = F.joint_errors(pred, target, METRIC_CLASSES[name].error_kind, mask=mask)
    ok = ~torch.isnan(err)
    if name == "pck":
        return 100.0 * (err[ok] < 150.0).double().mean().item()
    if name == "auc":
        thr = torch.linspace(0, 150, 31, dtype=torch.float64)
        return 100.0 * (err[ok][:, None] < thr).double().mean().item()
    return err[ok].mean().item()


def metrics_worker(rank: int, world: int, port: int, out: str) -> None:
    """One rank: update EvalMetrics on its unpadded shard, compute (synced), rank 0 saves."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        pred, target, mask, groups = metrics_data(n=13)
        # unpadded uneven shards, as datamodules/sampling.py hands them out: 7 + 6 samples
        idx = torch.arange(13)[rank::world]
        ev = EvalMetrics(num_groups=3)
        for chunk in idx.split(4):
            ev.update(pred[chunk], target[chunk], mask=mask[chunk], groups=groups[chunk])
        res = ev.compute(["a", "b", "c"])
        # the states are restored after the synced compute: local values stay local
        local = ev.metrics["mpjpe"].local_value().item()
        if rank == 0:
            with open(out, "w") as f:
                json.dump({"res": res, "local": local}, f)
    finally:
        dist.destroy_process_group()
