"""The records cache of a real dataset: one `.npz` per take plus an `index.json`.

`liftbench data prepare` (and the first `prepare_data()`) reads a dataset's raw files once and
writes its `SequenceRecord`s here (`write_records`); every later clip configuration starts
from `read_records_folder`. `summarise` gives the counts and the units check shown by
`liftbench data prepare`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from liftbench.datamodules.real.reader_helpers import check_person_scale
from liftbench.datamodules.records import SequenceRecord

# Bump when records change meaning so stale caches are not reused.
RECORDS_VERSION = 1


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


class _Light:
    """The fields `summarise` reads, without keeping a record's big arrays alive."""

    def __init__(self, rec: SequenceRecord) -> None:
        self.take, self.subject, self.action = rec.take, rec.subject, rec.action
        self.num_frames, self.num_views, self.view_names = (
            rec.num_frames, rec.num_views, rec.view_names)
        w = rec.pose3d_world
        # A few frames suffice for the median body extent.
        self.pose3d_world = None if w is None else w[:: max(1, len(w) // 50)]


def write_records(records: Iterable[SequenceRecord], folder: Path) -> dict[str, Any]:
    """Save `records` into `folder` (`000000.npz`, ... and `index.json`); returns `summarise`."""
    light, files = [], []
    for i, rec in enumerate(records):
        fname = f"{i:06d}.npz"
        save_record(rec, folder / fname)
        files.append(fname)
        light.append(_Light(rec))
    summary = summarise(light)
    (folder / "index.json").write_text(json.dumps({"files": files, "summary": summary}))
    return summary


def read_summary(folder: Path) -> dict[str, Any]:
    """The `summarise` of a records folder written by `write_records`."""
    return json.loads((folder / "index.json").read_text())["summary"]


def read_records_folder(folder: Path) -> list[SequenceRecord]:
    """Every record of a folder written by `write_records`, in order."""
    files = json.loads((folder / "index.json").read_text())["files"]
    return [load_record(folder / f) for f in files]
