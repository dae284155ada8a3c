"""Worker of the 2-process test of the multi-hypothesis metrics (spawned children import it)."""

from __future__ import annotations

import json
import os

import torch
import torch.distributed as dist

from liftbench.bench.metrics.multihypothesis import AGGREGATIONS, MultiHypothesisError


def multihypothesis_data(n: int = 13, h: int = 3, t: int = 4, seed: int = 0):
    """Hypotheses and targets in mm, ~15% masked joints, 3 groups, 2D for J-Agg."""
    g = torch.Generator().manual_seed(seed)
    target = torch.randn(n, t, 17, 3, generator=g, dtype=torch.float64) * 200
    hyps = target[:, None] + torch.randn(n, h, t, 17, 3, generator=g, dtype=torch.float64) * 60
    mask = torch.rand(n, t, 17, generator=g) > 0.15
    groups = torch.randint(0, 3, (n,), generator=g)
    reproj = torch.randn(n, h, t, 17, 2, generator=g, dtype=torch.float64)
    x2d = torch.randn(n, t, 17, 2, generator=g, dtype=torch.float64)
    return hyps, target, mask, groups, reproj, x2d


def multihypothesis_worker(rank: int, world: int, port: int, out: str) -> None:
    """One rank updates every aggregation's metric on its unpadded shard; rank 0 saves."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        hyps, target, mask, groups, reproj, x2d = multihypothesis_data()
        idx = torch.arange(hyps.shape[0])[rank::world]
        res = {}
        for agg in AGGREGATIONS:
            metric = MultiHypothesisError(agg, num_groups=3)
            for chunk in idx.split(3):
                metric.update(hyps[chunk], target[chunk], mask=mask[chunk],
                              groups=groups[chunk], reproj_2d=reproj[chunk],
                              input_2d=x2d[chunk])  # fmt: skip
            res[agg] = float(metric.compute())
        if rank == 0:
            with open(out, "w") as f:
                json.dump(res, f)
    finally:
        dist.destroy_process_group()
