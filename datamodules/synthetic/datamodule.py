"""`SyntheticDataModule` ("synthetic"): the embedded multi-view capture as training data.

Takes (motion × subject) are split by motion group — `"daily->sports"` trains on daily motion
and tests on sports motion, the papers' domain-adaptation question — or at random. Sets:

- `train`: training-group takes minus a held-out part (`holdout`);
- `val`: the held-out training-group takes (in-domain validation);
- `adapt`: test-group takes minus a held-out part: the unlabelled target-domain training data
  of the adaptation regimes (for `split="random"`, the train takes);
- `test`: the held-out test-group takes.

Generated clips are cached under `cache_dir/<config hash>/` as `.npy` files, so a second start
with the same configuration only loads arrays. Batches follow the contract in
`datamodules/clips.py`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import lightning.pytorch as L
import numpy as np
import torch

from datamodules.clips import ClipDataset, build_clips, clip_loader
from datamodules.registry import register_datamodule
from datamodules.synthetic.capture import resolve_motions, synthesize

# Bump when the generated arrays change meaning, so stale caches are not reused.
CACHE_VERSION = 1
SPLITS = ("train", "val", "adapt", "test")


def default_cache_dir() -> Path:
    """`$LIFTBENCH_CACHE/synthetic`, else `~/.cache/liftbench/synthetic`."""
    root = os.environ.get("LIFTBENCH_CACHE")
    return Path(root) / "synthetic" if root else Path.home() / ".cache" / "liftbench" / "synthetic"


@register_datamodule("synthetic")
class SyntheticDataModule(L.LightningDataModule):
    """Synthetic multi-view capture from DeepMimic (or BVH) motion, cached on disk.

    Args:
        motions: `"all"`, `"daily"`, `"sports"`, or a list of clip names / BVH paths.
        split: `"daily->sports"`, `"sports->daily"` (train group -> test group) or `"random"`.
        views: 1 (single-view samples) or V >= 2 (every V-combination of the rig's cameras).
        cameras: cameras per rig (2–8), >= `views`.
        frames: clip length T.
        stride: frames between training clip starts (default T // 3, as MotionBERT).
        test_stride: frames between evaluation clip starts (default T, non-overlapping).
        rig: `"ring"`, `"random"`, `"broadcast"` or `"panning"` (see `rigs.make_rig`).
        noise: `"clean"` (ground-truth 2D), `"detector"` or `"hard"` (see `detector.py`).
        distortion: give the cameras mild lens distortion.
        subjects: synthetic subjects (body proportions) per motion; takes = motions × subjects.
        fps: frame rate the motion is resampled to.
        normalisation: `"width"` or `"crop"` (see `clips.build_clips`).
        flip: random horizontal-flip augmentation of training batches.
        train_on: `"train"` (labelled source-domain takes) or `"adapt"` (the target-domain takes
            that adaptation regimes train on without their 3D).
        holdout: fraction of each group's takes held out (val / test), at least one take.
        batch_size: clips per batch.
        num_workers: DataLoader workers (0 = in-process, fastest for these cached arrays).
        seed: generation, split and augmentation seed.
        cache_dir: cache root (default `default_cache_dir()`).
    """

    def __init__(
        self,
        motions: str | list[str] = "all",
        split: str = "daily->sports",
        views: int = 1,
        cameras: int = 4,
        frames: int = 27,
        stride: int | None = None,
        test_stride: int | None = None,
        rig: str = "ring",
        noise: str = "detector",
        distortion: bool = False,
        subjects: int = 2,
        fps: float = 50.0,
        normalisation: str = "width",
        flip: bool = True,
        train_on: str = "train",
        holdout: float = 0.25,
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int = 0,
        cache_dir: str | Path | None = None,
    ) -> None:
        super().__init__()
        if split not in ("daily->sports", "sports->daily", "random"):
            raise ValueError(
                f"split must be 'daily->sports', 'sports->daily' or 'random', got {split!r}"
            )
        if not 1 <= views <= cameras <= 8:
            raise ValueError(
                f"need 1 <= views <= cameras <= 8, got views={views}, cameras={cameras}"
            )
        if frames < 1 or subjects < 1 or not 0 < holdout < 1:
            raise ValueError("frames and subjects must be >= 1 and holdout in (0, 1)")
        self.config = {
            "version": CACHE_VERSION, "motions": resolve_motions(motions), "split": split,
            "views": views, "cameras": cameras, "frames": frames,
            "stride": stride or max(1, frames // 3), "test_stride": test_stride or frames,
            "rig": rig, "noise": noise, "distortion": distortion, "subjects": subjects,
            "fps": fps, "normalisation": normalisation, "holdout": holdout, "seed": seed,
        }
        if train_on not in ("train", "adapt"):
            raise ValueError(f"train_on must be 'train' or 'adapt', got {train_on!r}")
        self.views, self.frames, self.flip, self.train_on = views, frames, flip, train_on
        self.batch_size, self.num_workers, self.seed = batch_size, num_workers, seed
        self.cache_root = Path(cache_dir) if cache_dir else default_cache_dir()
        self.action_names: list[str] = []
        self.subject_names: list[str] = []
        self.datasets: dict[str, ClipDataset] = {}

    @property
    def cache_key(self) -> str:
        """Hash of the generation configuration (names the cache folder)."""
        blob = json.dumps(self.config, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    @property
    def cache_path(self) -> Path:
        """Folder holding this configuration's cached clip arrays."""
        return self.cache_root / self.cache_key

    def prepare_data(self) -> None:
        """Generate and cache the clips unless this configuration is cached already."""
        if (self.cache_path / "meta.json").is_file():
            return
        cfg = self.config
        records = synthesize(
            cfg["motions"], subjects=cfg["subjects"], rig=cfg["rig"], cameras=cfg["cameras"],
            noise=cfg["noise"], distortion=cfg["distortion"], fps=cfg["fps"], seed=cfg["seed"],
        )
        takes = self._split_takes(records)
        actions = sorted({r.action for r in records})
        subjects = sorted({r.subject for r in records})
        self.cache_root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=self.cache_root, prefix=".tmp-"))
        try:
            for name, idx in takes.items():
                stride = cfg["stride"] if name in ("train", "adapt") else cfg["test_stride"]
                arrays = build_clips(
                    [records[i] for i in idx], cfg["frames"], stride, views=cfg["views"],
                    normalisation=cfg["normalisation"], action_names=actions,
                    subject_names=subjects,
                )
                (tmp / name).mkdir()
                for key, arr in arrays.items():
                    np.save(tmp / name / f"{key}.npy", arr)
            meta = {
                "config": cfg, "actions": actions, "subjects": subjects,
                "takes": {k: [records[i].take for i in v] for k, v in takes.items()},
            }
            (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
            try:
                os.replace(tmp, self.cache_path)  # atomic: concurrent ranks never see half a cache
            except OSError:
                if not (self.cache_path / "meta.json").is_file():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _split_takes(self, records: list) -> dict[str, list[int]]:
        """Take indices per set (see the module docstring), deterministic for the seed."""
        rng = np.random.default_rng([self.config["seed"], 7])
        hold = self.config["holdout"]

        def cut(idx: list[int]) -> tuple[list[int], list[int]]:
            idx = [idx[i] for i in rng.permutation(len(idx))]
            k = max(1, int(round(hold * len(idx)))) if len(idx) > 1 else 0
            return sorted(idx[k:]), sorted(idx[:k])

        split = self.config["split"]
        if split == "random":
            rest, test = cut(list(range(len(records))))
            train, val = cut(rest)
            out = {"train": train, "val": val, "adapt": list(train), "test": test}
        else:
            src, dst = split.split("->")
            group = [r.labels.get("group") for r in records]
            train, val = cut([i for i, g in enumerate(group) if g == src])
            adapt, test = cut([i for i, g in enumerate(group) if g == dst])
            out = {"train": train, "val": val, "adapt": adapt, "test": test}
        for name in ("train", "test"):
            if not out[name]:
                raise ValueError(
                    f"split {split!r} leaves no {name} takes for motions "
                    f"{self.config['motions']}; add motions of both groups or use split='random'"
                )
        return {k: v for k, v in out.items() if v}

    def setup(self, stage: str | None = None) -> None:
        """Load the cached clip arrays (generating them first if needed)."""
        if self.datasets:
            return
        self.prepare_data()
        meta = json.loads((self.cache_path / "meta.json").read_text())
        self.action_names, self.subject_names = meta["actions"], meta["subjects"]
        self.takes = meta["takes"]
        for name in SPLITS:
            folder = self.cache_path / name
            if folder.is_dir():
                arrays = {p.stem: np.load(p) for p in sorted(folder.glob("*.npy"))}
                flip = self.flip and name in ("train", "adapt")
                self.datasets[name] = ClipDataset(arrays, flip=flip, seed=self.seed)

    def protocol(self) -> dict:
        """Protocol fields of results on this data (stored in every run record)."""
        cfg = self.config
        source = "gt" if cfg["noise"] == "clean" else f"det:synthetic-{cfg['noise']}"
        return {
            "dataset": "synthetic", "split": cfg["split"], "source_2d": source,
            "frames": cfg["frames"], "stride": cfg["test_stride"], "views": cfg["views"],
            "rig": cfg["rig"], "cameras": cfg["cameras"], "normalisation": cfg["normalisation"],
            "motions": cfg["motions"], "subjects": cfg["subjects"], "fps": cfg["fps"],
            "data_seed": cfg["seed"], "cache_key": self.cache_key, "train_on": self.train_on,
        }

    def _loader(self, name: str, shuffle: bool) -> torch.utils.data.DataLoader:
        if not self.datasets:
            self.setup()
        if name not in self.datasets:
            raise ValueError(f"this split has no {name!r} set (sets: {', '.join(self.datasets)})")
        return clip_loader(
            self.datasets[name], self.batch_size, shuffle=shuffle, seed=self.seed,
            num_workers=self.num_workers,
        )

    def train_dataloader(self) -> torch.utils.data.DataLoader:
        """Shuffled, flip-augmented training clips (of the `train_on` set)."""
        return self._loader(self.train_on, shuffle=True)

    def val_dataloader(self) -> torch.utils.data.DataLoader:
        """Held-out training-group clips, in order."""
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> torch.utils.data.DataLoader:
        """Held-out test-group clips, in order."""
        return self._loader("test", shuffle=False)

    def adapt_dataloader(self) -> torch.utils.data.DataLoader:
        """Shuffled target-domain clips for adaptation regimes (their 3D must not be used)."""
        return self._loader("adapt", shuffle=True)
