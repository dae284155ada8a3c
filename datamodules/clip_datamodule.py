"""`ClipDataModule`: the base of every clip DataModule (the synthetic capture, real datasets).

What every dataset shares lives here; a subclass only says which takes form each set and how
their clip arrays are built (`write_clips`), what its cache depends on (`cache_config`) and
which protocol fields it adds (`protocol`):

- the clip cache: `cache_key` hashes `cache_config()`; `prepare_data()` builds the arrays once
  into a temporary folder renamed to `cache_path` (concurrent DDP ranks never see half a cache);
  `setup()` loads the sets `train`, `val`, `test`, `adapt` into `ClipDataset`s, with the flip
  augmentation on the training sets, and validates on the test set when there is no val set;
- the loaders (`train_dataloader` serves the `train_on` set) following the batch contract of
  `datamodules/clips.py`; evaluation batches are `EVAL_BATCH_FACTOR` times larger;
- the label API of the adaptation regimes: `set_training_labels` (pseudo-labels between
  fine-tuning rounds) and `hide_ground_truth` (label-free training never sees the 3D);
- the protocol fields every run record carries (`protocol()`).

Sets: `train` (labelled training takes), `val`, `test`, and `adapt` (the takes adaptation
regimes train on without their 3D; the labelled data of a supervised upper bound).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import lightning.pytorch as L
import numpy as np
import torch

from liftbench.datamodules.clip_dataset import ClipDataset, clip_loader
from liftbench.datamodules.clips import EVAL_BATCH_FACTOR, GROUND_TRUTH_KEYS, build_clips
from liftbench.datamodules.multiview_takes import (
    ClipIndex,
    MultiViewTake,
    load_clip_arrays,
    takes_from_clips,
)
from liftbench.datamodules.records import SequenceRecord

SETS = ("train", "val", "test", "adapt")
# Sets served shuffled and flip-augmented, windowed with the training stride.
TRAINING_SETS = ("train", "adapt")


def default_cache_dir(name: str) -> Path:
    """`$LIFTBENCH_CACHE/<name>`, else `~/.cache/liftbench/<name>`."""
    root = os.environ.get("LIFTBENCH_CACHE")
    return Path(root) / name if root else Path.home() / ".cache" / "liftbench" / name


def write_atomically(root: Path, dest: Path, fill: Callable[[Path], None], marker: str) -> None:
    """Fill a fresh folder under `root` with `fill(folder)`, then rename it to `dest`.

    Another process that finished first wins (its `dest / marker` exists): the rename then
    fails and this copy is dropped.
    """
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=".tmp-"))
    try:
        fill(tmp)
        try:
            os.replace(tmp, dest)
        except OSError:
            if not (dest / marker).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class ClipDataModule(L.LightningDataModule):
    """Base DataModule of cached clip arrays (see the module docstring).

    Subclasses set `name`, fill `self.config` (it starts with the clip settings below) and
    `self.split`, and implement `cache_config()`, `write_clips()` and `source_2d()`.

    Args:
        views: 1 (single-view samples) or V >= 2 (every V-combination of a take's cameras).
        frames: clip length T.
        stride: frames between training clip starts (default T // 3, as MotionBERT).
        test_stride: frames between evaluation clip starts (default T, non-overlapping).
        normalisation: `"width"` or `"crop"` (see `clips.build_clips`).
        flip: random horizontal-flip augmentation of the training sets' batches.
        train_on: the set `train_dataloader` serves: `"train"` or `"adapt"`.
        batch_size: clips per training batch.
        num_workers: DataLoader workers (0 = in-process, fastest for these cached arrays).
        seed: shuffle and augmentation seed.
        cache_dir: cache root (default `default_cache_dir(name)`).
    """

    name: ClassVar[str] = ""
    # Prefix of the clip cache folder's name under the cache root.
    cache_prefix: ClassVar[str] = ""

    def __init__(
        self,
        views: int = 1,
        frames: int = 27,
        stride: int | None = None,
        test_stride: int | None = None,
        normalisation: str = "width",
        flip: bool = True,
        train_on: str = "train",
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int = 0,
        cache_dir: str | Path | None = None,
    ) -> None:
        super().__init__()
        if views < 1 or frames < 1:
            raise ValueError(f"views and frames must be >= 1, got {views}, {frames}")
        if train_on not in TRAINING_SETS:
            raise ValueError(f"train_on must be 'train' or 'adapt', got {train_on!r}")
        self.config: dict[str, Any] = {
            "views": views, "frames": frames, "stride": stride or max(1, frames // 3),
            "test_stride": test_stride or frames, "normalisation": normalisation,
        }
        self.split = ""
        self.views, self.frames, self.flip, self.train_on = views, frames, flip, train_on
        self.batch_size, self.num_workers, self.seed = batch_size, num_workers, seed
        self.cache_root = Path(cache_dir) if cache_dir else default_cache_dir(self.name)
        self.action_names: list[str] = []
        self.subject_names: list[str] = []
        self.takes: dict[str, list[str]] = {}
        self.meta: dict[str, Any] = {}
        self.datasets: dict[str, ClipDataset] = {}
        self.val_set = "val"

    # ---------------------------------------------------------------- subclass hooks
    def cache_config(self) -> dict[str, Any]:
        """Everything the clip arrays depend on (JSON-serialisable; hashed into `cache_key`)."""
        raise NotImplementedError(f"{type(self).__name__} must implement cache_config()")

    def write_clips(self, folder: Path) -> dict[str, Any]:
        """Build the clip arrays of every set into `folder` (with `save_set`).

        Returns:
            The cache's metadata: at least `actions`, `subjects` (the names the `action` and
            `subject` indices refer to) and `takes` (`{set: [take names]}`).
        """
        raise NotImplementedError(f"{type(self).__name__} must implement write_clips()")

    def source_2d(self) -> str:
        """Where the input 2D comes from: `"gt"` or `"det:<detector>"` (a protocol field)."""
        raise NotImplementedError(f"{type(self).__name__} must implement source_2d()")

    # ---------------------------------------------------------------- clip cache
    @property
    def cache_key(self) -> str:
        """Hash of `cache_config()` (names the clip cache folder)."""
        blob = json.dumps(self.cache_config(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    @property
    def cache_path(self) -> Path:
        """Folder holding this configuration's cached clip arrays."""
        return self.cache_root / f"{self.cache_prefix}{self.cache_key}"

    def build_set(
        self, name: str, records: Sequence[SequenceRecord], actions: list[str],
        subjects: list[str],
    ) -> dict[str, np.ndarray]:
        """`build_clips` of one set's records (training sets: `stride`, else `test_stride`)."""
        cfg = self.config
        stride = cfg["stride"] if name in TRAINING_SETS else cfg["test_stride"]
        return build_clips(list(records), cfg["frames"], stride, views=cfg["views"],
                           normalisation=cfg["normalisation"], action_names=actions,
                           subject_names=subjects)

    @staticmethod
    def save_set(folder: Path, name: str, arrays: dict[str, np.ndarray]) -> None:
        """Write one set's arrays as `folder/<name>/<key>.npy`."""
        (folder / name).mkdir()
        for key, arr in arrays.items():
            np.save(folder / name / f"{key}.npy", arr)

    def prepare_data(self) -> None:
        """Build and cache the clip arrays unless this configuration is cached already."""
        if (self.cache_path / "meta.json").is_file():
            return

        def fill(folder: Path) -> None:
            meta = self.write_clips(folder)
            (folder / "meta.json").write_text(json.dumps(meta, indent=1))

        write_atomically(self.cache_root, self.cache_path, fill, "meta.json")

    def setup(self, stage: str | None = None) -> None:
        """Load the cached clip arrays (building them first if needed)."""
        if self.datasets:
            return
        self.prepare_data()
        self.meta = json.loads((self.cache_path / "meta.json").read_text())
        self.action_names, self.subject_names = self.meta["actions"], self.meta["subjects"]
        self.takes = self.meta["takes"]
        for name in SETS:
            folder = self.cache_path / name
            if folder.is_dir():
                arrays = {p.stem: np.load(p) for p in sorted(folder.glob("*.npy"))}
                flip = self.flip and name in TRAINING_SETS
                self.datasets[name] = ClipDataset(arrays, flip=flip, seed=self.seed)
        if "val" not in self.datasets and "test" in self.datasets:
            self.datasets["val"], self.val_set = self.datasets["test"], "test"

    def protocol(self) -> dict[str, Any]:
        """Protocol fields of results on this data (stored in every run record)."""
        cfg = self.config
        return {
            "dataset": self.name, "split": self.split, "source_2d": self.source_2d(),
            "frames": cfg["frames"], "stride": cfg["test_stride"], "views": cfg["views"],
            "normalisation": cfg["normalisation"], "cache_key": self.cache_key,
            "train_on": self.train_on,
        }

    # ---------------------------------------------------------------- what regimes read
    @property
    def clip_frames(self) -> int:
        """T, the frames of every clip."""
        return int(self.config["frames"])

    @property
    def num_views(self) -> int:
        """V, the views of every sample (1: single-view samples)."""
        return int(self.config["views"])

    def training_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """`(N, T, J, 3)` inputs and 2.5D targets of the `train_on` set, views folded.

        What a standardising regime fits its normaliser on (a regime without 3D labels reads
        only the inputs).
        """
        if not self.datasets:
            self.setup()
        arrays = self.datasets[self.train_on].arrays
        if "target" not in arrays:
            raise ValueError(f"the {self.train_on!r} set holds no 3D targets any more "
                             "(hide_ground_truth was called)")
        x, y = np.asarray(arrays["input"]), np.asarray(arrays["target"])
        return x.reshape((-1,) + x.shape[-3:]), y.reshape((-1,) + y.shape[-3:])

    def multiview_takes(self, name: str | None = None) -> tuple[list[MultiViewTake], ClipIndex]:
        """The synchronized multi-view takes of set `name` (default `train_on`) and the clip index.

        Each take's C camera sequences are rebuilt from the cached clips
        (`datamodules.multiview_takes.takes_from_clips`); the index maps every clip of the set
        to its take, start frame and cameras (for `labels_for_clips`). Ground-truth arrays are
        included for evaluation only.

        Raises:
            ValueError: single-view clips (`views < 2`) or a set this split does not have.
        """
        name = name or self.train_on
        if self.num_views < 2:
            raise ValueError(f"multi-view takes need multi-view clips: views >= 2 (this "
                             f"{self.name} DataModule has views={self.num_views})")
        if not (self.cache_path / name).is_dir():
            self.prepare_data()
        if not (self.cache_path / name).is_dir():
            raise ValueError(f"this split has no {name!r} set")
        cameras = self.config.get("cameras")  # a count, or the selected camera names
        if isinstance(cameras, list | tuple):
            cameras = len(cameras)
        if not cameras:
            raise ValueError(f"the {self.name} DataModule does not say its cameras per take "
                             "(config['cameras'])")
        return takes_from_clips(load_clip_arrays(self.cache_path / name), int(cameras),
                                int(self.config["stride"]))

    # ---------------------------------------------------------------- labels
    def set_training_labels(self, target: np.ndarray, valid: np.ndarray) -> None:
        """Replace the training set's labels (e.g. pseudo-labels between fine-tuning rounds).

        Takes effect for the next `train_dataloader()`: worker processes hold copies of the
        set, so a Trainer that relabels reloads its loaders at that boundary
        (`reload_dataloaders_every_n_epochs`).

        Args:
            target: `(S, V, T, J, 3)` (or `(S, T, J, 3)` single-view) 2.5D labels of the clips of
                the `train_on` set, in its order.
            valid: `(S, V, T, J)` bool, False where a joint has no label.
        """
        if not self.datasets:
            self.setup()
        self.datasets[self.train_on].update_arrays(
            target=np.asarray(target, dtype=np.float32), valid=np.asarray(valid, dtype=bool))

    def hide_ground_truth(self, keys: tuple[str, ...] = GROUND_TRUTH_KEYS) -> None:
        """Drop the 3D ground truth from the training set (label-free training never sees it)."""
        if not self.datasets:
            self.setup()
        self.datasets[self.train_on].drop_arrays(keys)

    # ---------------------------------------------------------------- loaders
    def _loader(self, name: str, shuffle: bool) -> torch.utils.data.DataLoader:
        if not self.datasets:
            self.setup()
        if name not in self.datasets:
            raise ValueError(f"this split has no {name!r} set (sets: {', '.join(self.datasets)})")
        size = self.batch_size if shuffle else EVAL_BATCH_FACTOR * self.batch_size
        return clip_loader(self.datasets[name], size, shuffle=shuffle, seed=self.seed,
                           num_workers=self.num_workers)

    def train_dataloader(self) -> torch.utils.data.DataLoader:
        """Shuffled, flip-augmented clips of the `train_on` set."""
        return self._loader(self.train_on, shuffle=True)

    def val_dataloader(self) -> torch.utils.data.DataLoader:
        """Validation clips in order (the test set when there is no val set: `val_set`)."""
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> torch.utils.data.DataLoader:
        """Test clips in order."""
        return self._loader("test", shuffle=False)

    def adapt_dataloader(self) -> torch.utils.data.DataLoader:
        """Shuffled adapt-set clips for adaptation regimes (their 3D must not be used)."""
        return self._loader("adapt", shuffle=True)
