"""`MADSDataModule` ("mads")."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from liftbench.datamodules.mads.reader import ACTIONS, read_mads
from liftbench.datamodules.real import RealDataModule
from liftbench.datamodules.records import SequenceRecord
from liftbench.datamodules.registry import register_datamodule


@register_datamodule("mads")
class MADSDataModule(RealDataModule):
    """MADS multi-view: 3 synchronized views, martial arts, dance and sports.

    MADS has no official split and no subject labels; "subjects" are the five actions. Split
    `sports` (our choice, the suite's daily→sports question): train Taichi Kata Jazz HipHop,
    test Sports; or `subjects=` lists of actions.

    Args:
        root: the `MADS` folder (or its `multi_view_data/`).
        fps: frame rate (not published; default 30).
        image_size: video `(W, H)` (not published; default 1024×768).
        **kwargs: `RealDataModule` arguments.
    """

    name = "mads"
    SPLITS = {"sports": {"train": list(ACTIONS[:4]), "test": ["Sports"]}}
    default_split = "sports"
    how_to = (
        "Download MADS_multiview.zip (visal.cs.cityu.edu.hk/research/mads), unzip, then run "
        "`liftbench data prepare mads --root PATH/MADS` and set data.kwargs.root=PATH/MADS."
    )

    def __init__(self, root: str | Path | None = None, fps: float = 30.0,
                 image_size: tuple[int, int] | list[int] = (1024, 768), **kwargs: Any) -> None:
        opts = {"fps": float(fps), "image_size": [int(v) for v in image_size]}
        super().__init__(root=root, reader_options=opts, **kwargs)

    def read_records(self) -> Iterator[SequenceRecord]:
        """Every sequence."""
        o = self.reader_options
        yield from read_mads(self.root, o["fps"], tuple(o["image_size"]))
