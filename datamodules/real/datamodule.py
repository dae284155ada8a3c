"""Shared machinery of the real-dataset DataModules: records cache, splits, units check.

A dataset package (`datamodules/<name>/`) provides a reader that turns the files of the
user's own copy, exactly as distributed, into `SequenceRecord`s, and a `RealDataModule`
subclass naming its splits. From there everything is shared:

1. `prepare_records()` reads the raw files once and caches the records under
   `cache_dir/records-<key>/` (`liftbench data prepare NAME --root PATH` runs just this);
2. `prepare_data()` windows the cached records of each set into clip arrays (`build_clips`),
   cached under `cache_dir/clips-<key>/`, like the synthetic DataModule;
3. `setup()` / the loaders serve them following the batch contract of `datamodules/clips.py`.

Sets: `train`, `val`, `test` by subject (a dataset's named splits, or the user's own lists),
and `adapt` = the train takes (what adaptation regimes train on without their 3D). A split
without validation subjects validates on its test set (recorded as `val_set` in the protocol).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import lightning.pytorch as L
import numpy as np
import torch

from datamodules.clips import EVAL_BATCH_FACTOR, ClipDataset, build_clips, clip_loader
from datamodules.records import SequenceRecord
from geometry.cameras import project

# Bump when records change meaning so stale caches are not reused.
RECORDS_VERSION = 1
SETS = ("train", "val", "test", "adapt")
# Plausible standing heights / body extents of a person in metres; a reader whose unit is off
# by 10, 100 or 1000 lands far outside.
PERSON_EXTENT_M = (0.4, 3.0)


def default_cache_dir(name: str) -> Path:
    """`$LIFTBENCH_CACHE/<name>`, else `~/.cache/liftbench/<name>`."""
    root = os.environ.get("LIFTBENCH_CACHE")
    return Path(root) / name if root else Path.home() / ".cache" / "liftbench" / name


def check_person_scale(pose3d_m: np.ndarray, source: str | Path) -> float:
    """Raise when 3D joints in metres do not describe a human-sized body (a unit mistake).

    Args:
        pose3d_m: `(..., T, J, 3)` joints in metres; NaN frames are ignored.
        source: the file the joints came from (named in the error).

    Returns:
        The median over frames of the body's largest extent (m).

    Raises:
        ValueError: the median extent is outside `PERSON_EXTENT_M` (e.g. millimetres read as
            metres give a 1000× too tall person), naming `source` and the likely factor.
    """
    x = np.asarray(pose3d_m, dtype=np.float64)
    x = x.reshape((-1,) + x.shape[-2:])
    ok = np.isfinite(x).all(axis=(-1, -2))
    if not ok.any():
        raise ValueError(f"{source}: no frame with finite 3D joints")
    extent = np.linalg.norm(x[ok].max(-2) - x[ok].min(-2), axis=-1)
    size = float(np.median(extent))
    lo, hi = PERSON_EXTENT_M
    if not lo <= size <= hi:
        factor = 10.0 ** np.round(np.log10(size / 1.7))
        raise ValueError(
            f"{source}: the person spans {size:.4g} m after unit conversion, not a human size "
            f"({lo}-{hi} m); the file's unit is probably off by a factor {factor:g} "
            "(millimetres vs metres?)"
        )
    return size


def project_views(
    pose3d_world: np.ndarray, K: np.ndarray, R: np.ndarray, t: np.ndarray,
    image_size: np.ndarray, dist: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ground-truth 2D of every view: project world joints (OpenCV model).

    Args:
        pose3d_world: `(T, J, 3)` metres.
        K: `(V, 3, 3)` pixels.
        R: `(V, T, 3, 3)` world→camera rotations.
        t: `(V, T, 3)` world→camera translations, metres.
        image_size: `(V, 2)` `(W, H)` pixels.
        dist: optional `(V, 5)` OpenCV `k1, k2, p1, p2, k3`.

    Returns:
        `(pose2d (V, T, J, 3) px + confidence 1, clean (V, T, J, 2) px, valid (V, T, J))`;
        joints behind the camera or outside the image are invalid (their 2D is set to 0).
    """
    x_cam = np.einsum("vtij,tkj->vtki", R, pose3d_world) + t[:, :, None, :]
    d = None if dist is None else np.asarray(dist)[:, None, None, :]
    uv = np.asarray(project(x_cam, np.asarray(K)[:, None, None], d))
    size = np.asarray(image_size, dtype=np.float64)[:, None, None, :]
    valid = np.isfinite(uv).all(-1) & (uv >= 0).all(-1) & (uv <= size).all(-1)
    uv = np.where(np.isfinite(uv), uv, 0.0)
    pose2d = np.concatenate([uv, np.ones(uv.shape[:-1] + (1,))], axis=-1)
    return pose2d, uv, valid


def finite_segments(ok: np.ndarray, min_len: int = 1) -> list[tuple[int, int]]:
    """`[start, stop)` runs of True in a `(T,)` mask, at least `min_len` long."""
    ok = np.asarray(ok, bool)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], ok.astype(np.int8), [0]])))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2]) if b - a >= min_len]


def slice_record(rec: SequenceRecord, start: int, stop: int, take: str) -> SequenceRecord:
    """Frames `[start, stop)` of a record as a new take."""
    s = slice(start, stop)
    opt = lambda a: None if a is None else a[:, s]  # noqa: E731
    return SequenceRecord(
        subject=rec.subject, action=rec.action, take=take, fps=rec.fps,
        pose2d=rec.pose2d[:, s], K=rec.K, R=rec.R[:, s], t=rec.t[:, s],
        image_size=rec.image_size,
        pose3d_world=None if rec.pose3d_world is None else rec.pose3d_world[s],
        pose2d_clean=opt(rec.pose2d_clean), dist=rec.dist, valid=rec.valid[:, s],
        view_names=rec.view_names,
        labels={**rec.labels, "start_frame": str(int(rec.labels.get("start_frame", 0)) + start)},
    )


def _static(a: np.ndarray) -> bool:
    return bool(a.shape[1] > 0 and (a == a[:, :1]).all())


def save_record(rec: SequenceRecord, path: Path) -> None:
    """Write one record as `.npz` (static cameras stored once, not per frame)."""
    arrays = {
        "pose2d": rec.pose2d, "K": rec.K, "image_size": rec.image_size, "dist": rec.dist,
        "valid": rec.valid,
    }
    for key in ("R", "t"):
        a = getattr(rec, key)
        arrays[key if not _static(a) else f"{key}_static"] = a if not _static(a) else a[:, 0]
    for key in ("pose3d_world", "pose2d_clean"):
        if getattr(rec, key) is not None:
            arrays[key] = getattr(rec, key)
    meta = {
        "subject": rec.subject, "action": rec.action, "take": rec.take, "fps": rec.fps,
        "view_names": list(rec.view_names), "labels": rec.labels,
    }
    np.savez(path, meta=np.asarray(json.dumps(meta)), **arrays)


def load_record(path: Path) -> SequenceRecord:
    """Read a record written by `save_record`."""
    with np.load(path, allow_pickle=False) as f:
        a = {k: f[k] for k in f.files}
    meta = json.loads(str(a.pop("meta")))
    n = a["pose2d"].shape[1]
    for key in ("R", "t"):
        if f"{key}_static" in a:
            s = a.pop(f"{key}_static")
            a[key] = np.broadcast_to(s[:, None], (s.shape[0], n) + s.shape[1:])
    return SequenceRecord(
        subject=meta["subject"], action=meta["action"], take=meta["take"], fps=meta["fps"],
        view_names=tuple(meta["view_names"]), labels=meta["labels"], **a,
    )


def summarise(records: Iterable[SequenceRecord]) -> dict[str, Any]:
    """Counts and the units check of a list of records (for `liftbench data prepare`)."""
    recs = list(records)
    extents = [check_person_scale(r.pose3d_world, r.take) for r in recs
               if r.pose3d_world is not None]
    return {
        "takes": len(recs),
        "frames": int(sum(r.num_frames for r in recs)),
        "view_frames": int(sum(r.num_frames * r.num_views for r in recs)),
        "subjects": sorted({r.subject for r in recs}),
        "actions": sorted({r.action for r in recs}),
        "views": sorted({n for r in recs for n in r.view_names}),
        "person_extent_m": round(float(np.median(extents)), 3) if extents else None,
    }


class RealDataModule(L.LightningDataModule):
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
        batch_size, num_workers, seed: loader settings.
        cache_dir: cache root (default `default_cache_dir(name)`).
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
        super().__init__()
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
        if train_on not in ("train", "adapt"):
            raise ValueError(f"train_on must be 'train' or 'adapt', got {train_on!r}")
        self.split = split
        self.subject_sets = {k: list(v) for k, v in (subjects or self.SPLITS[split]).items()}
        self.reader_options = dict(reader_options or {})
        self.config = {
            "views": views, "cameras": list(cameras) if cameras else None, "frames": frames,
            "stride": stride or max(1, frames // 3), "test_stride": test_stride or frames,
            "downsample": downsample, "normalisation": normalisation,
            "detections": str(Path(detections).resolve()) if detections else None,
        }
        self.views, self.frames, self.flip, self.train_on = views, frames, flip, train_on
        self.batch_size, self.num_workers, self.seed = batch_size, num_workers, seed
        self.cache_root = Path(cache_dir) if cache_dir else default_cache_dir(self.name)
        self.action_names: list[str] = []
        self.subject_names: list[str] = []
        self.datasets: dict[str, ClipDataset] = {}
        self.val_set = "val"

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
        index = self.records_path / "index.json"
        if index.is_file():
            return json.loads(index.read_text())["summary"]
        self.cache_root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=self.cache_root, prefix=".tmp-"))
        try:
            it = self.read_records()
            if progress:
                from tqdm import tqdm

                it = tqdm(it, total=self.count_items(), unit="take", desc=f"{self.name}")
            recs, files = [], []
            for i, rec in enumerate(it):
                fname = f"{i:06d}.npz"
                save_record(rec, tmp / fname)
                files.append(fname)
                recs.append(_Light(rec))
            if not files:
                raise ValueError(f"{self.root}: no {self.name} takes found. {self.how_to}")
            summary = summarise(recs)
            (tmp / "index.json").write_text(json.dumps({"files": files, "summary": summary}))
            try:
                os.replace(tmp, self.records_path)
            except OSError:
                if not index.is_file():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return summary

    def load_records(self) -> list[SequenceRecord]:
        """All cached records (reading the raw files first if needed)."""
        self.prepare_records()
        files = json.loads((self.records_path / "index.json").read_text())["files"]
        return [load_record(self.records_path / f) for f in files]

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
    @property
    def cache_key(self) -> str:
        """Hash of records + split + clip configuration (names the clip cache)."""
        blob = json.dumps({"records": self.records_key, "sets": self.subject_sets,
                           **self.config}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @property
    def cache_path(self) -> Path:
        """Folder of this configuration's clip arrays."""
        return self.cache_root / f"clips-{self.cache_key}"

    def apply_detections(self, rec: SequenceRecord) -> SequenceRecord:
        """The record with every view's 2D read from the `detections` folder."""
        from datamodules.keypoints import load_keypoints_file

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

    def prepare_data(self) -> None:
        """Cache the records, then the clip arrays of every set (once per configuration)."""
        if (self.cache_path / "meta.json").is_file():
            return
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
        self.cache_root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=self.cache_root, prefix=".tmp-"))
        try:
            for name, recs in by_set.items():
                if not recs:
                    continue
                stride = cfg["stride"] if name in ("train", "adapt") else cfg["test_stride"]
                arrays = build_clips(
                    recs, cfg["frames"], stride, views=cfg["views"],
                    normalisation=cfg["normalisation"], action_names=actions,
                    subject_names=subjects,
                )
                for key, per_take in self.sample_labels(recs).items():
                    arrays[key] = np.asarray(per_take, dtype=np.int64)[arrays["take"]]
                (tmp / name).mkdir()
                for key, arr in arrays.items():
                    np.save(tmp / name / f"{key}.npy", arr)
            meta = {"actions": actions, "subjects": subjects,
                    "takes": {k: [r.take for r in v] for k, v in by_set.items()}}
            (tmp / "meta.json").write_text(json.dumps(meta))
            try:
                os.replace(tmp, self.cache_path)
            except OSError:
                if not (self.cache_path / "meta.json").is_file():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def setup(self, stage: str | None = None) -> None:
        """Load the cached clip arrays (building them first if needed)."""
        if self.datasets:
            return
        self.prepare_data()
        meta = json.loads((self.cache_path / "meta.json").read_text())
        self.action_names, self.subject_names = meta["actions"], meta["subjects"]
        self.takes = meta["takes"]
        for name in SETS:
            folder = self.cache_path / name
            if folder.is_dir():
                arrays = {p.stem: np.load(p) for p in sorted(folder.glob("*.npy"))}
                flip = self.flip and name in ("train", "adapt")
                self.datasets[name] = ClipDataset(arrays, flip=flip, seed=self.seed)
        if "val" not in self.datasets:
            self.datasets["val"], self.val_set = self.datasets["test"], "test"

    def protocol(self) -> dict[str, Any]:
        """Protocol fields of results on this data (stored in every run record)."""
        cfg = self.config
        src = self.reader_options.get("source_2d", "gt")
        src = "user" if cfg["detections"] else src
        return {
            "dataset": self.name, "split": self.split, "subjects": self.subject_sets,
            "source_2d": "gt" if src == "gt" else f"det:{src}", "frames": cfg["frames"],
            "stride": cfg["test_stride"], "views": cfg["views"], "cameras": cfg["cameras"],
            "downsample": cfg["downsample"], "normalisation": cfg["normalisation"],
            "val_set": self.val_set, "cache_key": self.cache_key, "train_on": self.train_on,
        }

    def _loader(self, name: str, shuffle: bool) -> torch.utils.data.DataLoader:
        if not self.datasets:
            self.setup()
        if name not in self.datasets:
            raise ValueError(f"this split has no {name!r} set (sets: {', '.join(self.datasets)})")
        size = self.batch_size if shuffle else EVAL_BATCH_FACTOR * self.batch_size
        return clip_loader(self.datasets[name], size, shuffle=shuffle,
                           seed=self.seed, num_workers=self.num_workers)

    def train_dataloader(self) -> torch.utils.data.DataLoader:
        """Shuffled, flip-augmented clips of the `train_on` set."""
        return self._loader(self.train_on, shuffle=True)

    def val_dataloader(self) -> torch.utils.data.DataLoader:
        """Validation clips in order (the test set when the split has no val subjects)."""
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> torch.utils.data.DataLoader:
        """Test clips in order."""
        return self._loader("test", shuffle=False)

    def adapt_dataloader(self) -> torch.utils.data.DataLoader:
        """Shuffled train-subject clips for adaptation regimes (their 3D must not be used)."""
        return self._loader("adapt", shuffle=True)


class _Light:
    """The fields `summarise` reads, without keeping a record's big arrays alive."""

    def __init__(self, rec: SequenceRecord) -> None:
        self.take, self.subject, self.action = rec.take, rec.subject, rec.action
        self.num_frames, self.num_views, self.view_names = (
            rec.num_frames, rec.num_views, rec.view_names)
        w = rec.pose3d_world
        # A few frames suffice for the median body extent.
        self.pose3d_world = None if w is None else w[:: max(1, len(w) // 50)]


def prepare_dataset(
    name: str, root: str | Path, cache_dir: str | Path | None = None,
    options: dict[str, Any] | None = None, progress: bool = True,
) -> dict[str, Any]:
    """Read a dataset's raw files once into the records cache (`liftbench data prepare`).

    Args:
        name: registered dataset name (`h36m`, `sportspose`, ...).
        root: the dataset's folder as distributed.
        cache_dir: cache root (default the dataset's `default_cache_dir`).
        options: extra DataModule arguments that change the records (e.g. `source_2d`).
        progress: show a tqdm progress bar.

    Returns:
        `summarise` of the records plus `cache` (the records folder).
    """
    from datamodules.registry import create_datamodule

    dm = create_datamodule(name, root=root, cache_dir=cache_dir, **(options or {}))
    if not isinstance(dm, RealDataModule):
        raise ValueError(f"dataset {name!r} has no raw files to prepare")
    summary = dm.prepare_records(progress=progress)
    return {**summary, "cache": str(dm.records_path)}


def format_summary(name: str, summary: dict[str, Any]) -> str:
    """Human-readable lines of a `prepare_dataset` summary."""
    def short(items: list[str]) -> str:
        return ", ".join(items) if len(items) <= 12 else ", ".join(items[:12]) + ", ..."

    extent = summary.get("person_extent_m")
    units = "n/a (no 3D)" if extent is None else f"median person extent {extent} m: ok"
    return "\n".join([
        f"{name}: {summary['takes']} takes, {summary['frames']} frames "
        f"({summary['view_frames']} view-frames)",
        f"  subjects ({len(summary['subjects'])}): {short(summary['subjects'])}",
        f"  views ({len(summary['views'])}): {short(summary['views'])}",
        f"  actions ({len(summary['actions'])}): {short(summary['actions'])}",
        f"  units check: {units}",
        f"  cached records: {summary['cache']}",
    ])
