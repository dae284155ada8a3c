"""`RealDataModule`: the base of the real-dataset DataModules (records cache, splits by subject).

A dataset package (`datamodules/<name>/`) provides a reader that turns the files of the
user's own copy, exactly as distributed, into `SequenceRecord`s, and a `RealDataModule`
subclass naming its splits. From there everything is shared:

1. `prepare_records()` reads the raw files once and caches the records under
   `cache_dir/records-<key>/` (`liftbench data prepare NAME --root PATH` runs just this);
2. `prepare_data()` windows the cached records of each set into clip arrays (`build_clips`),
   cached under `cache_dir/clips-<key>/` (the `ClipDataModule` base);
3. `setup()` / the loaders of the base serve them following the batch contract of
   `datamodules/clips.py`.

Sets: `train`, `val`, `test` by subject (a dataset's named splits, or the user's own lists),
and `adapt` = the train takes (what adaptation regimes train on without their 3D). A split
without validation subjects validates on its test set (recorded as `val_set` in the protocol).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from liftbench.datamodules.clip_datamodule import SETS, ClipDataModule, write_atomically
from liftbench.datamodules.real.record_cache import (
    RECORDS_VERSION,
    read_records_folder,
    read_summary,
    write_records,
)
from liftbench.datamodules.records import SequenceRecord


class RealDataModule(ClipDataModule):
    """Base DataModule of a real dataset (see the module docstring).

    Subclasses set `name`, `SPLITS` (`{split name: {"train"|"val"|"test": [subjects]}}`; a
    missing `"train"` = every other subject), `default_split`, `how_to` (how to obtain and
    prepare the data, shown when `root` is missing) and implement `read_records()`.

    Args:
        root: the dataset's folder (or file) exactly as distributed.
        split: a name of `SPLITS`.
        subjects: user subject lists `{"train": [...], "val": [...], "test": [...]}`
            (overrides `split`; a missing `"train"` = the rest).
        views: 1 (single-view samples) or V >= 2 (every V-combination of a take's cameras).
        cameras: view names to keep (default all), e.g. `["right", "left"]`.
        frames: clip length T. stride / test_stride: clip start steps (default T // 3, T).
        downsample: keep every n-th frame (e.g. 2: H36M 50 → 25 fps).
        normalisation: `"width"` or `"crop"` (see `clips.build_clips`).
        flip: horizontal-flip augmentation of training batches.
        train_on: `"train"` or `"adapt"`.
        batch_size, num_workers, seed, cache_dir: as `ClipDataModule`.
        detections: folder of the user's own 2D detections replacing the records' 2D: per take
            and view a file `<take>.<view>.{json,npz,npy}` (or an OpenPose folder
            `<take>.<view>/`) in any format of `datamodules.keypoints`, covering the whole
            video (takes split at gaps read their frames from it).
        reader_options: options that change the records (part of the records cache key).
    """

    name: ClassVar[str] = ""
    SPLITS: ClassVar[dict[str, dict[str, list[str]]]] = {}
    default_split: ClassVar[str] = ""
    how_to: ClassVar[str] = ""
    cache_prefix = "clips-"
    # False for DataModules built from other datasets (their `root` is unused).
    needs_root: ClassVar[bool] = True

    def __init__(
        self,
        root: str | Path | None = None,
        split: str | None = None,
        subjects: dict[str, list[str]] | None = None,
        views: int = 1,
        cameras: list[str] | None = None,
        frames: int = 27,
        stride: int | None = None,
        test_stride: int | None = None,
        downsample: int = 1,
        normalisation: str = "width",
        flip: bool = True,
        train_on: str = "train",
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int = 0,
        cache_dir: str | Path | None = None,
        detections: str | Path | None = None,
        reader_options: dict[str, Any] | None = None,
    ) -> None:
        if self.needs_root and (root is None or str(root) == "???"):
            raise ValueError(f"dataset {self.name!r}: `root` is required. {self.how_to}")
        self.root = Path(root if root is not None and str(root) != "???" else ".").expanduser()
        if not self.root.exists():
            raise FileNotFoundError(
                f"dataset {self.name!r}: root {self.root} does not exist. {self.how_to}"
            )
        split = split or self.default_split
        if subjects is None and split not in self.SPLITS:
            raise ValueError(
                f"unknown {self.name} split {split!r}; known: {', '.join(self.SPLITS)} "
                "(or pass subjects={'train': [...], 'test': [...]})"
            )
        if subjects is not None:
            bad = set(subjects) - {"train", "val", "test"}
            if bad or "test" not in subjects:
                raise ValueError(
                    "subjects must map 'test' (and optionally 'train', 'val') to subject lists, "
                    f"got keys {sorted(subjects)}"
                )
            split = "custom"
        if views < 1 or frames < 1 or downsample < 1:
            raise ValueError(
                f"views, frames and downsample must be >= 1, got {views}, {frames}, {downsample}"
            )
        super().__init__(
            views=views, frames=frames, stride=stride, test_stride=test_stride,
            normalisation=normalisation, flip=flip, train_on=train_on, batch_size=batch_size,
            num_workers=num_workers, seed=seed, cache_dir=cache_dir,
        )
        self.split = split
        self.subject_sets = {k: list(v) for k, v in (subjects or self.SPLITS[split]).items()}
        self.reader_options = dict(reader_options or {})
        self.config.update({
            "cameras": list(cameras) if cameras else None, "downsample": downsample,
            "detections": str(Path(detections).resolve()) if detections else None,
        })

    # ---------------------------------------------------------------- records
    def read_records(self) -> Iterator[SequenceRecord]:
        """Yield the dataset's records from `self.root` (implemented by each dataset)."""
        raise NotImplementedError(f"{type(self).__name__} must implement read_records()")

    def count_items(self) -> int | None:
        """How many records `read_records` will yield, for the progress bar (None = unknown)."""
        return None

    @property
    def records_key(self) -> str:
        """Hash of what the records depend on (root, reader options, version)."""
        blob = json.dumps(
            {"v": RECORDS_VERSION, "name": self.name, "root": str(self.root.resolve()),
             "opts": self.reader_options}, sort_keys=True, default=str,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @property
    def records_path(self) -> Path:
        """Folder of the cached records."""
        return self.cache_root / f"records-{self.records_key}"

    def prepare_records(self, progress: bool = False) -> dict[str, Any]:
        """Read the raw files once into the records cache; returns `summarise` of them."""
        if (self.records_path / "index.json").is_file():
            return read_summary(self.records_path)
        records = self.read_records()
        if progress:
            from tqdm import tqdm

            records = tqdm(records, total=self.count_items(), unit="take", desc=f"{self.name}")
        summary: dict[str, Any] = {}

        def fill(folder: Path) -> None:
            summary.update(write_records(records, folder))
            if not summary["takes"]:
                raise ValueError(f"{self.root}: no {self.name} takes found. {self.how_to}")

        write_atomically(self.cache_root, self.records_path, fill, "index.json")
        return summary

    def load_records(self) -> list[SequenceRecord]:
        """All cached records (reading the raw files first if needed)."""
        self.prepare_records()
        return read_records_folder(self.records_path)

    def set_of(self, rec: SequenceRecord) -> list[str]:
        """The sets a record belongs to (by subject; `adapt` mirrors `train`).

        Split `pkl` (MotionBERT-format files) keeps the file's own train/test split.
        """
        if self.split == "pkl":
            return {"train": ["train", "adapt"], "test": ["test"]}.get(
                rec.labels.get("pkl_split", ""), [])
        sets = self.subject_sets
        named = {s for k in ("val", "test") for s in sets.get(k, [])}
        out = [k for k in ("val", "test") if rec.subject in sets.get(k, [])]
        in_train = rec.subject in sets["train"] if "train" in sets else rec.subject not in named
        return out + (["train", "adapt"] if in_train else [])

    def sample_labels(self, records: list[SequenceRecord]) -> dict[str, list[int]]:
        """Extra integer labels per record, served per sample as batch keys (none here)."""
        return {}

    # ---------------------------------------------------------------- clips
    def cache_config(self) -> dict[str, Any]:
        """Records + subject sets + clip configuration (hashed into `cache_key`)."""
        return {"records": self.records_key, "sets": self.subject_sets, **self.config}

    def source_2d(self) -> str:
        """`"gt"`, `"det:user"` with `detections`, else `"det:<reader_options.source_2d>"`."""
        src = "user" if self.config["detections"] else self.reader_options.get("source_2d", "gt")
        return "gt" if src == "gt" else f"det:{src}"

    def apply_detections(self, rec: SequenceRecord) -> SequenceRecord:
        """The record with every view's 2D read from the `detections` folder."""
        from liftbench.datamodules.keypoints import load_keypoints_file

        base = Path(self.config["detections"])
        video = rec.take.split("#")[0].replace("/", "_")
        start = int(rec.labels.get("start_frame", 0))
        pose2d = rec.pose2d.copy()
        for v, view in enumerate(rec.view_names):
            stem = f"{video}.{view}"
            cands = [base / f"{stem}{ext}" for ext in (".json", ".npz", ".npy", "")]
            path = next((c for c in cands if c.exists()), None)
            if path is None:
                raise FileNotFoundError(f"no detections for take {rec.take!r} view {view!r}: "
                                        f"expected {base / stem}.json|.npz|.npy")
            size = tuple(int(x) for x in rec.image_size[v])
            kp = load_keypoints_file(path, image_size=size)["keypoints"][0]
            if len(kp) < start + rec.num_frames:
                raise ValueError(f"{path}: {len(kp)} frames, the take needs "
                                 f"{start + rec.num_frames}")
            pose2d[v] = kp[start : start + rec.num_frames]
        return replace(rec, pose2d=pose2d)

    def _usable(self, rec: SequenceRecord) -> SequenceRecord | None:
        cfg = self.config
        if cfg["detections"]:
            rec = self.apply_detections(rec)
        if cfg["cameras"]:
            keep = [rec.view_names.index(c) for c in cfg["cameras"] if c in rec.view_names]
            if not keep:
                return None
            rec = rec.select_views(keep)
        if cfg["downsample"] > 1:
            s = slice(None, None, cfg["downsample"])
            rec = SequenceRecord(
                subject=rec.subject, action=rec.action, take=rec.take,
                fps=rec.fps / cfg["downsample"], pose2d=rec.pose2d[:, s], K=rec.K,
                R=rec.R[:, s], t=rec.t[:, s], image_size=rec.image_size,
                pose3d_world=rec.pose3d_world[s], dist=rec.dist, valid=rec.valid[:, s],
                view_names=rec.view_names, labels=rec.labels,
            )
        ok = rec.pose3d_world is not None and rec.num_views >= cfg["views"]
        return rec if ok else None

    def write_clips(self, folder: Path) -> dict[str, Any]:
        """Window the cached records of every set into clip arrays in `folder`."""
        cfg = self.config
        records = [r for r in map(self._usable, self.load_records()) if r is not None]
        actions = sorted({r.action for r in records})
        subjects = sorted({r.subject for r in records})
        by_set: dict[str, list[SequenceRecord]] = {k: [] for k in SETS}
        for rec in records:
            for name in self.set_of(rec):
                by_set[name].append(rec)
        for name in ("train", "test"):
            if not by_set[name]:
                raise ValueError(
                    f"{self.name} split {self.split!r}: no {name} takes with >= {cfg['views']} "
                    f"views (subjects found: {subjects}; sets: {self.subject_sets})"
                )
        for name, recs in by_set.items():
            if not recs:
                continue
            arrays = self.build_set(name, recs, actions, subjects)
            for key, per_take in self.sample_labels(recs).items():
                arrays[key] = np.asarray(per_take, dtype=np.int64)[arrays["take"]]
            self.save_set(folder, name, arrays)
        return {"actions": actions, "subjects": subjects,
                "takes": {k: [r.take for r in v] for k, v in by_set.items()}}

    def protocol(self) -> dict[str, Any]:
        """Protocol fields of results on this data (stored in every run record)."""
        cfg = self.config
        return {**super().protocol(), "subjects": self.subject_sets, "cameras": cfg["cameras"],
                "downsample": cfg["downsample"], "val_set": self.val_set}
