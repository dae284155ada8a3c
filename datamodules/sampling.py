"""Batch samplers that shard data across DDP ranks without duplicating evaluation samples.

Lightning's default `DistributedSampler` pads every rank to the same length by repeating samples,
so a multi-GPU test would count some clips twice (Lightning#7929). liftbench's DataModules build
their own sharded batch samplers instead (the Trainer runs with `use_distributed_sampler=False`):

- training: shuffled per epoch (seeded), padded by wrapping around so that every rank runs the
  same number of optimiser steps (required by DDP's gradient all-reduce; a repeated training clip
  is harmless);
- evaluation: never padded; every sample is visited by exactly one rank, in order.

A batch is a list of dataset indices, so datasets can gather a whole batch with one vectorised
fetch (`DataLoader(dataset, batch_size=None, sampler=sampler)`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
from torch.utils.data import Sampler


def dist_info() -> tuple[int, int]:
    """`(rank, world_size)` of the current process (0, 1 without an initialised process group)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class ShardedBatchSampler(Sampler[list[int]]):
    """Yields this rank's batches of dataset indices.

    Args:
        num_samples: dataset length N.
        batch_size: samples per batch (the last batch may be smaller unless `drop_last`).
        shuffle: reshuffle every epoch (training) — also turns on equal-length padding.
        drop_last: drop the last incomplete batch.
        seed: base seed of the shuffle; the epoch is added (see `set_epoch`).
        rank: this process's rank (default: from `torch.distributed`).
        world_size: number of ranks (default: from `torch.distributed`).
    """

    def __init__(
        self,
        num_samples: int,
        batch_size: int,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int = 0,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        if num_samples < 0 or batch_size < 1:
            raise ValueError(f"need num_samples >= 0 and batch_size >= 1, got {num_samples}, "
                             f"{batch_size}")
        r, w = dist_info()
        self.rank = r if rank is None else rank
        self.world_size = w if world_size is None else world_size
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f"rank {self.rank} outside world of size {self.world_size}")
        self.num_samples, self.batch_size = num_samples, batch_size
        self.shuffle, self.drop_last, self.seed, self.epoch = shuffle, drop_last, seed, 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch's shuffle (Lightning calls this at every epoch start)."""
        self.epoch = epoch

    def _indices(self) -> np.ndarray:
        n, w = self.num_samples, self.world_size
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(n)
            per_rank = math.ceil(n / w) if n else 0
            order = np.resize(order, per_rank * w)  # wrap-around padding (training only)
            return order[self.rank :: w]
        # Evaluation: contiguous, unpadded shards; together they cover 0..n-1 exactly once.
        bounds = np.linspace(0, n, w + 1).round().astype(int)
        return np.arange(bounds[self.rank], bounds[self.rank + 1])

    def __iter__(self) -> Iterator[list[int]]:
        idx = self._indices()
        stop = len(idx) - len(idx) % self.batch_size if self.drop_last else len(idx)
        for start in range(0, stop, self.batch_size):
            yield idx[start : start + self.batch_size].tolist()

    def __len__(self) -> int:
        n = len(self._indices())
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
