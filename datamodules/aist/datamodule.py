"""`AISTDataModule` ("aist")."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from liftbench.datamodules.aist.reader import read_aist
from liftbench.datamodules.real import RealDataModule
from liftbench.datamodules.records import SequenceRecord
from liftbench.datamodules.registry import register_datamodule


@register_datamodule("aist")
class AISTDataModule(RealDataModule):
    """AIST++: 9 synchronized views, 60 fps, dance.

    Splits: `pose` (the official `splits/pose_{train,val,test}.txt` sequence lists) or user
    `subjects=` lists of dancers (`d01`, ...).

    Args:
        root: the `aist_plusplus_final/` folder.
        source_2d: `"gt"` (projection of the 3D) or `"dataset"` (`keypoints2d` detections).
        **kwargs: `RealDataModule` arguments.
    """

    name = "aist"
    SPLITS = {"pose": {"test": []}}
    default_split = "pose"
    how_to = (
        "Download the AIST++ annotations (aist_plusplus_final/, fullset.zip), then run "
        "`liftbench data prepare aist --root PATH/aist_plusplus_final` and set "
        "data.kwargs.root=PATH/aist_plusplus_final."
    )

    def __init__(self, root: str | Path | None = None, source_2d: str = "gt",
                 **kwargs: Any) -> None:
        if source_2d not in ("gt", "dataset"):
            raise ValueError(f"source_2d must be 'gt' or 'dataset', got {source_2d!r}")
        super().__init__(root=root, reader_options={"source_2d": source_2d}, **kwargs)

    def count_items(self) -> int | None:
        """Number of 3D keypoint files."""
        return len(list((self.root / "keypoints3d").glob("*.pkl")))

    def read_records(self) -> Iterator[SequenceRecord]:
        """Every usable sequence."""
        yield from read_aist(self.root, self.reader_options["source_2d"])

    def set_of(self, rec: SequenceRecord) -> list[str]:
        """`pose`: the official sequence split; else by dancer."""
        if self.split != "pose":
            return super().set_of(rec)
        s = rec.labels.get("split", "")
        return {"train": ["train", "adapt"], "val": ["val"], "test": ["test"]}.get(s, [])
