"""`ClipDataset` and `clip_loader`: whole batches of cached clip arrays, sharded over DDP ranks.

`ClipDataset.__getitems__` serves a batch by numpy fancy indexing of the arrays `build_clips`
made (`clips.py`), with the flip augmentation (`flip.py`) vectorised per batch: no per-sample
Python work.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from liftbench.datamodules.flip import flip_batch
from liftbench.datamodules.sampling import ShardedBatchSampler


class ClipDataset(torch.utils.data.Dataset):
    """Serves batches from `build_clips` arrays by vectorised index gathering.

    Use with `clip_loader`: a `ShardedBatchSampler` yields lists of indices and the DataLoader
    (`batch_size=None`) passes each list to `__getitem__`, which gathers the whole batch. The
    sampler shards across DDP ranks itself (Trainer `use_distributed_sampler=False`); the
    `index` key identifies samples should a padding sampler be used instead.

    Args:
        arrays: the output of `build_clips` (or its on-disk cache).
        flip: flip each sample with probability 1/2 (training augmentation).
        seed: seed of the flip draws (mixed with the worker id and the process rank).
    """

    def __init__(self, arrays: dict[str, np.ndarray], flip: bool = False, seed: int = 0) -> None:
        self.arrays = {k: v for k, v in arrays.items() if k != "take"}
        self.flip = flip
        self.seed = seed
        self._rng: np.random.Generator | None = None
        self._len = len(self.arrays["input"])
        # Flipped copies are computed once (with `flip_batch`) and stacked after the originals,
        # so a flipped sample is fetched by the same single gather at `index + len`.
        self._stacked: dict[str, np.ndarray] = {}
        self._stack_flipped(list(self.arrays))

    def _stack_flipped(self, keys: list[str]) -> None:
        if not self.flip:
            return
        tensors = {k: torch.from_numpy(self.arrays[k]) for k in keys}
        flipped = flip_batch(tensors, torch.ones(self._len, dtype=torch.bool))
        for key, value in flipped.items():
            if value is not tensors[key]:
                self._stacked[key] = np.concatenate([self.arrays[key], value.numpy()])

    def update_arrays(self, **arrays: np.ndarray) -> None:
        """Replace (or add) per-sample arrays, e.g. new training labels; flipped copies follow.

        Args:
            **arrays: `(S, ...)` arrays with this dataset's sample count `S` (for `target`:
                `(S, [V,] T, J, 3)`, `valid`: `(S, [V,] T, J)`).

        Raises:
            ValueError: an array whose leading dimension is not `S`.
        """
        for key, value in arrays.items():
            value = np.asarray(value)
            if value.shape[:1] != (self._len,):
                raise ValueError(f"{key}: expected {self._len} samples, got shape {value.shape}")
            self.arrays[key] = value
            self._stacked.pop(key, None)
        self._stack_flipped(list(arrays))

    def drop_arrays(self, keys: Sequence[str]) -> None:
        """Remove per-sample arrays (e.g. the 3D ground truth of a label-free training set)."""
        for key in keys:
            self.arrays.pop(key, None)
            self._stacked.pop(key, None)

    def __len__(self) -> int:
        return self._len

    def _generator(self) -> np.random.Generator:
        if self._rng is None:
            info = torch.utils.data.get_worker_info()
            rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
            self._rng = np.random.default_rng([self.seed, rank, info.id if info else 0])
        return self._rng

    def __getitems__(self, indices: Sequence[int]) -> dict[str, torch.Tensor]:
        """One batch: every array gathered at `indices` (B,), converted to tensors."""
        idx = np.asarray(indices, dtype=np.int64)
        batch = {}
        if self.flip:
            shifted = idx + self._len * (self._generator().random(len(idx)) < 0.5)
            batch = {k: torch.from_numpy(v[shifted]) for k, v in self._stacked.items()}
        for key, value in self.arrays.items():
            if key not in batch:
                batch[key] = torch.from_numpy(value[idx])
        batch["index"] = torch.from_numpy(idx)
        return batch

    def __getitem__(self, index: int | Sequence[int]) -> dict[str, torch.Tensor]:
        """A batch for a list of indices; one sample (no batch axis) for an int."""
        if isinstance(index, (int, np.integer)):
            return {k: v[0] for k, v in self.__getitems__([int(index)]).items()}
        return self.__getitems__(index)


def _identity(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return batch


def clip_loader(
    dataset: ClipDataset,
    batch_size: int,
    shuffle: bool,
    drop_last: bool = False,
    seed: int = 0,
    num_workers: int = 0,
) -> torch.utils.data.DataLoader:
    """A DataLoader serving whole batches of `dataset`, sharded over DDP ranks.

    Args:
        dataset: the clips.
        batch_size: clips per batch.
        shuffle: reshuffle every epoch (training; pads ranks to equal length by wrapping).
        drop_last: drop the last incomplete batch.
        seed: shuffle seed (the epoch is added by `set_epoch`).
        num_workers: worker processes (0 = in-process; the gather is cheap).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    sampler = ShardedBatchSampler(len(dataset), batch_size, shuffle, drop_last, seed)
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=None,
        sampler=sampler,
        collate_fn=_identity,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
    )
