"""The run-record schema: one JSON file per run, written by `bench`, read by `leaderboard`.

Schema version 1 (bump `SCHEMA_VERSION` and extend `_MIGRATIONS` on any incompatible change):

```
{
  "schema_version": 1,
  "run_id": "20261122-134501-ab12cd",         # unique; also the file name (<run_id>.json)
  "kind": "fit" | "test",
  "created": "2026-11-22T13:45:01+00:00",       # UTC, ISO 8601
  "lifter":  {"name": "motionagformer_xs", "size": "tiny", "params": 123456},
  "regime":  {"name": "supervised", "loss_weights": {"w_pos": 1.0, "w_scale": 0.5, "w_vel": 20.0}},
  "protocol": {                                 # what makes two numbers comparable
      "dataset": "synthetic", "split": "daily->sports", "source_2d": "gt" | "det:<name>",
      "frames": 27, "stride": 27, "flip_tta": true, "joints_evaluated": [0, 1, ..., 16],
      "averaging": "frame" | "action", "units": "mm",
      "scale": "2.5D x factor" | "up to scale"},  # the evaluation space (optional in old records)
  "metrics": {"mpjpe": 41.2, "pa_mpjpe": 30.1, ...},          # overall, mm
  "groups":  {"action": {"kick": {"mpjpe": 50.3, ...}, ...}},  # per-group breakdowns
  "seed": 0, "git_commit": "abc123...", "config_hash": "9f1e...", "config": {...},
  "wall_time_s": 12.3, "hardware": {"device": "cpu", "cpu": "...", "gpus": [], "torch": "2.13.0"},
  "sweep": {"id": "...", "trial": 3} | null, "extra": {},
  "checkpoint": "/abs/runs/<run_id>/checkpoints/best.ckpt" | null   # what was evaluated
}
```

Writes are atomic (a temporary file in the same directory, then `os.replace`), so many processes
on many machines can share one results directory: each run owns its own file name, and a reader
never sees a half-written record.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
_PROTOCOL_KEYS = (
    "dataset", "split", "source_2d", "frames", "stride", "flip_tta", "joints_evaluated",
    "averaging",
)
_MIGRATIONS: dict[int, Any] = {}  # version -> function(dict) -> dict of version+1


@dataclass
class RunRecord:
    """One run's result (see the module docstring for every field and its unit)."""

    run_id: str
    kind: str
    created: str
    lifter: dict[str, Any]
    regime: dict[str, Any]
    protocol: dict[str, Any]
    metrics: dict[str, float]
    groups: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    seed: int | None = None
    git_commit: str | None = None
    config_hash: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    wall_time_s: float | None = None
    hardware: dict[str, Any] = field(default_factory=dict)
    sweep: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # The checkpoint the metrics were computed with (absolute path; null in older records).
    checkpoint: str | None = None
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise `ValueError` if a required field is missing or malformed."""
        if not self.run_id or any(c in self.run_id for c in "/\\\0") or self.run_id.startswith("."):
            raise ValueError(f"run_id must be a plain, non-empty file name, got {self.run_id!r}")
        if self.kind not in ("fit", "test"):
            raise ValueError(f"kind must be 'fit' or 'test', got {self.kind!r}")
        if "name" not in self.lifter:
            raise ValueError("lifter must contain 'name'")
        if "name" not in self.regime:
            raise ValueError("regime must contain 'name'")
        missing = [k for k in _PROTOCOL_KEYS if k not in self.protocol]
        if missing:
            raise ValueError(f"protocol is missing {missing} (required: {list(_PROTOCOL_KEYS)})")
        if self.protocol["averaging"] not in ("frame", "action"):
            raise ValueError(f"protocol.averaging must be 'frame' or 'action', got "
                             f"{self.protocol['averaging']!r}")
        for name, value in self.metrics.items():
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise ValueError(f"metric {name!r} must be a number, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; non-finite metric values become `null`."""
        d = asdict(self)
        d["metrics"] = {k: _finite_or_none(v) for k, v in d["metrics"].items()}
        d["groups"] = {
            g: {k: {m: _finite_or_none(v) for m, v in vals.items()} for k, vals in members.items()}
            for g, members in d["groups"].items()
        }
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        """Build (and validate) a record from its dict, migrating older schema versions."""
        data = dict(data)
        version = data.get("schema_version")
        if not isinstance(version, int):
            raise ValueError("not a liftbench run record: 'schema_version' is missing")
        while version < SCHEMA_VERSION:
            data = _MIGRATIONS[version](data)
            version = data["schema_version"]
        if version > SCHEMA_VERSION:
            raise ValueError(
                f"record schema_version {version} is newer than this liftbench "
                f"({SCHEMA_VERSION}); upgrade liftbench"
            )
        data["metrics"] = {k: (math.nan if v is None else v) for k, v in data["metrics"].items()}
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown record fields {unknown}")
        return cls(**data)


def _finite_or_none(v: Any) -> Any:
    return None if isinstance(v, float) and not math.isfinite(v) else v


def write_record(record: RunRecord, results_dir: str | os.PathLike) -> Path:
    """Atomically write `record` to `<results_dir>/<run_id>.json` (replacing an older version)."""
    record.validate()
    out_dir = Path(results_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{record.run_id}.json"
    fd, tmp = tempfile.mkstemp(prefix=f".{record.run_id}.", suffix=".tmp", dir=out_dir)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(record.to_dict(), fh, indent=2, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def read_record(path: str | os.PathLike) -> RunRecord:
    """Read one record; errors name the file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        return RunRecord.from_dict(data)
    except (json.JSONDecodeError, ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"{path}: not a valid liftbench run record: {exc}") from exc


def read_records(results_dir: str | os.PathLike, strict: bool = True,
                 recursive: bool = False) -> list[RunRecord]:
    """Every complete record in `results_dir` (sorted by creation time, then run id).

    Safe while other processes are writing: writers replace files atomically and their temporary
    files are dot-files, so a listed `*.json` is always complete, and one deleted between listing
    and reading is skipped. Invalid files raise with `strict=True` and are skipped with a warning
    otherwise.

    With `recursive=True` the records anywhere below `results_dir` are read (`reproduce` and
    grids write one folder per run, `results/<run>/`); hidden folders are skipped, and so are
    JSON files that are not run records at all (no `schema_version`: summaries, evaluations,
    logger files). A run id found in two files is one run, read once (with a warning).
    """
    root = Path(results_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"results directory {root} does not exist")
    paths = sorted(root.rglob("*.json")) if recursive else sorted(root.glob("*.json"))
    records: dict[str, RunRecord] = {}
    where: dict[str, Path] = {}
    for path in paths:
        if recursive and any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        try:
            if recursive and not _looks_like_record(path):
                continue
            record = read_record(path)
        except FileNotFoundError:
            continue
        except ValueError as exc:
            if strict:
                raise
            warnings.warn(str(exc), stacklevel=2)
            continue
        if record.run_id in records:
            warnings.warn(f"run {record.run_id} is recorded twice ({where[record.run_id]} and "
                          f"{path}); read once, from the first", stacklevel=2)
            continue
        records[record.run_id], where[record.run_id] = record, path
    return sorted(records.values(), key=lambda r: (r.created, r.run_id))


def _looks_like_record(path: Path) -> bool:
    """Whether a JSON file claims to be a run record (a mapping with `schema_version`)."""
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError:
        return True  # a broken file named like a record: let `read_record` report it
    except UnicodeDecodeError:
        return False
    return isinstance(data, dict) and "schema_version" in data
