"""`SyntheticDataModule` ("synthetic"): the embedded multi-view capture as training data.

Takes are motion × subject × variant (`capture.iter_takes`): `subjects` synthetic people with
anthropometric body proportions (`bodies.py`), each motion performed by each of them in
`variants` takes that differ in mirror image, speed and camera rig. The split protocol
(`splits.py`) decides which takes form each set:

- `train`: labelled source-domain takes;
- `val`: in-domain validation (held-out subjects of the training motions);
- `adapt`: target-domain takes — the unlabelled training data of the adaptation regimes and
  the labelled data of the supervised upper bound (for `in-domain` / `random`: the train takes);
- `test`: held-out takes (for the domain splits: the adapt motions, other subjects and rigs).

Only the takes some set uses are generated. Generated clips are cached under
`cache_dir/<config hash>/` as `.npy` files, so a second start with the same configuration only
loads arrays. Batches follow the contract in `datamodules/clips.py`.
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

from datamodules.clips import (
    EVAL_BATCH_FACTOR,
    GROUND_TRUTH_KEYS,
    ClipDataset,
    build_clips,
    clip_loader,
)
from datamodules.registry import register_datamodule
from datamodules.synthetic.bodies import sample_body
from datamodules.synthetic.bvh import bvh_motion_options
from datamodules.synthetic.capture import SPEED_RANGE, motion_label, resolve_motions, synthesize
from datamodules.synthetic.rigs import RIG_CHOICES
from datamodules.synthetic.splits import PROTOCOLS, SETS, SplitPlan, plan_split

# Bump when the generated arrays change meaning, so stale caches are not reused.
CACHE_VERSION = 2
SPLITS = SETS


def default_cache_dir() -> Path:
    """`$LIFTBENCH_CACHE/synthetic`, else `~/.cache/liftbench/synthetic`."""
    root = os.environ.get("LIFTBENCH_CACHE")
    return Path(root) / "synthetic" if root else Path.home() / ".cache" / "liftbench" / "synthetic"


@register_datamodule("synthetic")
class SyntheticDataModule(L.LightningDataModule):
    """Synthetic multi-view capture from DeepMimic (or BVH) motion, cached on disk.

    Args:
        motions: `"all"`, `"daily"`, `"sports"`, or a list of clip names / BVH paths.
        split: `"daily->sports"`, `"sports->daily"` (source group -> target group, subject-
            disjoint sets, test motions = adapt motions), `"in-domain"` (held-out subjects,
            all motions) or `"random"` (held-out takes); see `splits.py`.
        views: 1 (single-view samples) or V >= 2 (every V-combination of the rig's cameras).
        cameras: cameras per rig (2–8), >= `views`.
        frames: clip length T.
        stride: frames between training clip starts (default T // 3, as MotionBERT).
        test_stride: frames between evaluation clip starts (default T, non-overlapping).
        rig: `"mixed"` (ring / random / broadcast drawn per take), or one kind for every take:
            `"ring"`, `"random"`, `"broadcast"`, `"panning"` (see `rigs.make_rig`).
        noise: `"clean"` (ground-truth 2D), `"detector"` or `"hard"` (see `detector.py`).
        distortion: give the cameras mild lens distortion.
        subjects: synthetic subjects `S1..SN` (`bodies.sample_body`); the domain splits need
            4 for subject-disjoint sets, in-domain 3 (fewer: sets disjoint by take).
        variants: takes per motion × subject (mirror / speed / rig draws).
        mirror: alternate original and left/right-mirrored variants.
        speed: `(low, high)` playback-speed range of the variants; `(1, 1)` = original speed.
        fps: frame rate the motion is resampled to, Hz.
        normalisation: `"width"` or `"crop"` (see `clips.build_clips`).
        flip: random horizontal-flip augmentation of training batches.
        train_on: `"train"` (labelled source-domain takes) or `"adapt"` (the target-domain takes
            that adaptation regimes train on without their 3D).
        holdout: fraction of each subject pool held out (val / test subjects), at least one;
            of each motion's takes when the sets are disjoint by take.
        batch_size: clips per batch.
        num_workers: DataLoader workers (0 = in-process, fastest for these cached arrays).
        seed: generation, split and augmentation seed.
        cache_dir: cache root (default `default_cache_dir()`).
        bvh_map: for BVH motions, H36M joint → BVH joint overrides: a dict or the path of a
            JSON file holding one (see `bvh.map_bvh`).
        flavour: how BVH motions are mapped: `"auto"` (hierarchy topology and rest pose,
            names as hints) or a name table of `bvh.NAME_MAPS` (`"cmu"`, `"mixamo"`,
            `"generic"`).
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
        rig: str = "mixed",
        noise: str = "detector",
        distortion: bool = False,
        subjects: int = 8,
        variants: int = 2,
        mirror: bool = True,
        speed: tuple[float, float] | list[float] = SPEED_RANGE,
        fps: float = 50.0,
        normalisation: str = "width",
        flip: bool = True,
        train_on: str = "train",
        holdout: float = 0.25,
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int = 0,
        cache_dir: str | Path | None = None,
        bvh_map: str | Path | dict[str, str] | None = None,
        flavour: str = "auto",
    ) -> None:
        super().__init__()
        if split not in PROTOCOLS:
            raise ValueError(f"split must be one of {', '.join(map(repr, PROTOCOLS))}, "
                             f"got {split!r}")
        if not 1 <= views <= cameras <= 8:
            raise ValueError(
                f"need 1 <= views <= cameras <= 8, got views={views}, cameras={cameras}"
            )
        if frames < 1 or subjects < 1 or variants < 1 or not 0 < holdout < 1:
            raise ValueError("frames, subjects and variants must be >= 1 and holdout in (0, 1)")
        if rig not in RIG_CHOICES:
            raise ValueError(f"rig must be one of {', '.join(RIG_CHOICES)}, got {rig!r}")
        speed = (float(speed[0]), float(speed[1]))
        if not 0 < speed[0] <= speed[1]:
            raise ValueError(f"speed must be (low, high) with 0 < low <= high, got {speed}")
        self.config = {
            "version": CACHE_VERSION, "motions": resolve_motions(motions), "split": split,
            "views": views, "cameras": cameras, "frames": frames,
            "stride": stride or max(1, frames // 3), "test_stride": test_stride or frames,
            "rig": rig, "noise": noise, "distortion": distortion, "subjects": subjects,
            "variants": variants, "mirror": bool(mirror), "speed": list(speed),
            "fps": fps, "normalisation": normalisation, "holdout": holdout, "seed": seed,
        }
        bvh_options = bvh_motion_options(bvh_map, flavour)
        if bvh_options != {"flavour": "auto"}:  # older caches keep their keys
            self.config["bvh"] = bvh_options
        if train_on not in ("train", "adapt"):
            raise ValueError(f"train_on must be 'train' or 'adapt', got {train_on!r}")
        self.views, self.frames, self.flip, self.train_on = views, frames, flip, train_on
        self.batch_size, self.num_workers, self.seed = batch_size, num_workers, seed
        self.cache_root = Path(cache_dir) if cache_dir else default_cache_dir()
        self.action_names: list[str] = []
        self.subject_names: list[str] = []
        self.takes: dict[str, list[str]] = {}
        self.meta: dict = {}
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

    def plan(self) -> SplitPlan:
        """The take assignment of this configuration (cheap: nothing is generated)."""
        cfg = self.config
        return plan_split(
            cfg["split"], [motion_label(m) for m in cfg["motions"]], cfg["subjects"],
            cfg["variants"], cfg["holdout"], cfg["seed"],
        )

    def prepare_data(self) -> None:
        """Generate and cache the clips unless this configuration is cached already."""
        if (self.cache_path / "meta.json").is_file():
            return
        cfg = self.config
        plan = self.plan()
        needed = plan.needed()
        records = synthesize(
            cfg["motions"], subjects=cfg["subjects"], rig=cfg["rig"], cameras=cfg["cameras"],
            noise=cfg["noise"], distortion=cfg["distortion"], fps=cfg["fps"], seed=cfg["seed"],
            variants=cfg["variants"], mirror=cfg["mirror"], speed=tuple(cfg["speed"]),
            select=lambda a, s, v: (a, s, v) in needed,
            bvh_options=cfg.get("bvh", {"flavour": "auto"}),
        )
        by_key = {(r.action, r.subject, int(r.labels["variant"])): r for r in records}
        actions = sorted({r.action for r in records})
        subjects = [f"S{k + 1}" for k in range(cfg["subjects"])]
        self.cache_root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=self.cache_root, prefix=".tmp-"))
        try:
            clips = {}
            for name, keys in plan.sets.items():
                stride = cfg["stride"] if name in ("train", "adapt") else cfg["test_stride"]
                arrays = build_clips(
                    [by_key[k] for k in keys], cfg["frames"], stride, views=cfg["views"],
                    normalisation=cfg["normalisation"], action_names=actions,
                    subject_names=subjects,
                )
                clips[name] = int(len(arrays["input"]))
                (tmp / name).mkdir()
                for key, arr in arrays.items():
                    np.save(tmp / name / f"{key}.npy", arr)
            bodies = [sample_body(k, cfg["seed"]) for k in range(cfg["subjects"])]
            meta = {
                "config": cfg, "actions": actions, "subjects": subjects,
                "split": plan.split, "disjoint": plan.disjoint,
                "takes": {k: [by_key[key].take for key in v] for k, v in plan.sets.items()},
                "set_subjects": plan.subjects,
                "set_motions": {k: plan.motions(k) for k in plan.sets},
                "clips": clips,
                "bodies": {b.name: {"sex": b.sex, "stature_m": b.stature} for b in bodies},
                "variants": {r.take: {k: v for k, v in r.labels.items() if k != "group"}
                             for r in records},
            }
            (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
            try:
                os.replace(tmp, self.cache_path)  # atomic: concurrent ranks never see half a cache
            except OSError:
                if not (self.cache_path / "meta.json").is_file():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def setup(self, stage: str | None = None) -> None:
        """Load the cached clip arrays (generating them first if needed)."""
        if self.datasets:
            return
        self.prepare_data()
        meta = json.loads((self.cache_path / "meta.json").read_text())
        self.meta = meta
        self.action_names, self.subject_names = meta["actions"], meta["subjects"]
        self.takes = meta["takes"]
        for name in SPLITS:
            folder = self.cache_path / name
            if folder.is_dir():
                arrays = {p.stem: np.load(p) for p in sorted(folder.glob("*.npy"))}
                flip = self.flip and name in ("train", "adapt")
                self.datasets[name] = ClipDataset(arrays, flip=flip, seed=self.seed)

    def protocol(self) -> dict:
        """Protocol fields of results on this data (stored in every run record).

        Besides the generation settings: `disjoint` (`"subjects"` or `"takes"`), and per set
        (`train`, `val`, `adapt`, `test`) its `set_subjects`, `set_motions`, `set_takes` (count)
        and `set_clips` (count of samples). Loads (or generates) the cache if needed.
        """
        if not self.meta:
            self.setup()
        cfg, meta = self.config, self.meta
        source = "gt" if cfg["noise"] == "clean" else f"det:synthetic-{cfg['noise']}"
        return {
            "dataset": "synthetic", "split": cfg["split"], "source_2d": source,
            "frames": cfg["frames"], "stride": cfg["test_stride"], "views": cfg["views"],
            "rig": cfg["rig"], "cameras": cfg["cameras"], "normalisation": cfg["normalisation"],
            "motions": cfg["motions"], "subjects": cfg["subjects"],
            "variants": cfg["variants"], "mirror": cfg["mirror"], "speed": cfg["speed"],
            "fps": cfg["fps"], "data_seed": cfg["seed"], "cache_key": self.cache_key,
            "train_on": self.train_on, "disjoint": meta["disjoint"],
            "set_subjects": meta["set_subjects"], "set_motions": meta["set_motions"],
            "set_takes": {k: len(v) for k, v in meta["takes"].items()},
            "set_clips": dict(meta["clips"]),
        }

    def _loader(self, name: str, shuffle: bool) -> torch.utils.data.DataLoader:
        if not self.datasets:
            self.setup()
        if name not in self.datasets:
            raise ValueError(f"this split has no {name!r} set (sets: {', '.join(self.datasets)})")
        size = self.batch_size if shuffle else EVAL_BATCH_FACTOR * self.batch_size
        return clip_loader(
            self.datasets[name], size, shuffle=shuffle, seed=self.seed,
            num_workers=self.num_workers,
        )

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
