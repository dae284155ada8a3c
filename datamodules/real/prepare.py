"""`liftbench data prepare NAME --root PATH`: read a dataset's raw files into its records cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from liftbench.datamodules.real.datamodule import RealDataModule
from liftbench.datamodules.registry import create_datamodule


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
