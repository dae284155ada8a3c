"""`SportsPoseDataModule` ("sportspose")."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from datamodules.real import RealDataModule
from datamodules.records import SequenceRecord
from datamodules.registry import register_datamodule
from datamodules.sportspose.reader import VIEWS, list_takes, read_sportspose


@register_datamodule("sportspose")
class SportsPoseDataModule(RealDataModule):
    """SportsPose: 7 synchronized views, 90 fps, ground-truth 2D by projection.

    Splits by name (subject ids as in the release, S00-S23; the papers number subjects
    differently and their mapping to the release ids is not published, so these lists take the
    papers' numbers as release ids — pass `subjects=` for another reading):
    `ingwersen` (papers/001: val S04 S07 S09 S14 S22, test S06 S12 S19) and `kasportsformer`
    (papers/002: test S02 S04 S07 S10 S16 S21 S22).

    Args:
        root: the `SportsPose/` folder (holding `data/`).
        **kwargs: `RealDataModule` arguments (`cameras=["right", "left"]` picks views by name).
    """

    name = "sportspose"
    SPLITS = {
        "ingwersen": {"val": ["S04", "S07", "S09", "S14", "S22"], "test": ["S06", "S12", "S19"]},
        "kasportsformer": {"test": ["S02", "S04", "S07", "S10", "S16", "S21", "S22"]},
    }
    default_split = "ingwersen"
    how_to = (
        "Request SportsPose from its authors (academic licence), unzip SportsPoseArchive.zip, "
        "then run `liftbench data prepare sportspose --root PATH/SportsPose` and set "
        "data.kwargs.root=PATH/SportsPose."
    )

    def __init__(self, root: str | Path | None = None, **kwargs: Any) -> None:
        super().__init__(root=root, reader_options={"views": list(VIEWS)}, **kwargs)

    def count_items(self) -> int | None:
        """Number of take files."""
        return len(list_takes(self.root))

    def read_records(self) -> Iterator[SequenceRecord]:
        """Every take, all 7 views."""
        yield from read_sportspose(self.root)
