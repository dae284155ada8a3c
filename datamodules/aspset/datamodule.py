"""`ASPsetDataModule` ("aspset")."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from liftbench.datamodules.aspset.reader import read_aspset, read_splits
from liftbench.datamodules.real import RealDataModule
from liftbench.datamodules.records import SequenceRecord
from liftbench.datamodules.registry import register_datamodule


@register_datamodule("aspset")
class ASPsetDataModule(RealDataModule):
    """ASPset-510: 3 views (left, mid, right), 50 fps, clips split by `splits.csv`.

    Splits: `official` (the release's `splits.csv` train/val/test per clip; test clips use
    the one camera listed there) or user `subjects=` lists. Official evaluation runs test at
    10 fps: pass `downsample=5`.

    Args:
        root: the extracted `ASPset-510` folder (`splits.csv`, `trainval/`, `test/`).
        **kwargs: `RealDataModule` arguments.
    """

    name = "aspset"
    SPLITS = {"official": {"test": []}}
    default_split = "official"
    how_to = (
        "Download ASPset-510 (CC0) from archive.org/details/aspset510 (splits, cameras and "
        "joints_3d archives), extract into one folder, then run `liftbench data prepare aspset "
        "--root PATH` and set data.kwargs.root=PATH."
    )

    def __init__(self, root: str | Path | None = None, **kwargs: Any) -> None:
        super().__init__(root=root, reader_options={}, **kwargs)

    def count_items(self) -> int | None:
        """Clips listed in splits.csv."""
        return len(read_splits(self.root))

    def read_records(self) -> Iterator[SequenceRecord]:
        """Every clip with 3D joints."""
        yield from read_aspset(self.root)

    def set_of(self, rec: SequenceRecord) -> list[str]:
        """`official`: the clip's split from splits.csv; else by subject."""
        if self.split != "official":
            return super().set_of(rec)
        s = rec.labels["split"]
        return [s, "adapt"] if s == "train" else [s]
