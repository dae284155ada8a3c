"""`SportsPoseDataModule` ("sportspose")."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from liftbench.datamodules.motionbert_format import VideoInfo, read_pkl, virtual_intrinsics
from liftbench.datamodules.real import RealDataModule
from liftbench.datamodules.records import SequenceRecord
from liftbench.datamodules.registry import register_datamodule
from liftbench.datamodules.sportspose.reader import FPS, VIEWS, list_takes, read_sportspose

# KASportsFormer's image sizes per `camera_name` (its official preprocessing).
KAS_SIZES = {"indoors": (1216, 1936), "outdoors": (1312, 1216)}


@register_datamodule("sportspose")
class SportsPoseDataModule(RealDataModule):
    """SportsPose: 7 synchronized views, 90 fps, ground-truth 2D by projection.

    Splits by name (subject ids as in the release, S00-S23; the papers number subjects
    differently and their mapping to the release ids is not published, so these lists take the
    papers' numbers as release ids — pass `subjects=` for another reading):
    `ingwersen` (Ingwersen et al.: val S04 S07 S09 S14 S22, test S06 S12 S19) and `kasportsformer`
    (Yin et al.: test S02 S04 S07 S10 S16 S21 S22).

    Args:
        root: the `SportsPose/` folder (holding `data/`), or a KASportsFormer MotionBERT-format
            pkl (`sp_*_source_final.pkl`; single view, split `pkl` = the file's own).
        source_2d: `"gt"`, or `"dataset"` for the pkl's HRNet detections.
        **kwargs: `RealDataModule` arguments (`cameras=["right", "left"]` picks views by name).
    """

    name = "sportspose"
    SPLITS = {
        "ingwersen": {"val": ["S04", "S07", "S09", "S14", "S22"], "test": ["S06", "S12", "S19"]},
        "kasportsformer": {"test": ["S02", "S04", "S07", "S10", "S16", "S21", "S22"]},
        "pkl": {"test": []},
    }
    default_split = "ingwersen"
    how_to = (
        "Request SportsPose from its authors (academic licence), unzip SportsPoseArchive.zip, "
        "then run `liftbench data prepare sportspose --root PATH/SportsPose` and set "
        "data.kwargs.root=PATH/SportsPose."
    )

    def __init__(self, root: str | Path | None = None, source_2d: str = "gt",
                 **kwargs: Any) -> None:
        self.is_pkl = root is not None and Path(root).suffix == ".pkl"
        if self.is_pkl:
            kwargs.setdefault("split", "pkl")
        elif source_2d != "gt":
            raise ValueError("the SportsPose release has no 2D detections: source_2d='gt', or "
                             "pass your own with detections=DIR")
        opts = {"views": list(VIEWS), "source_2d": source_2d}
        super().__init__(root=root, reader_options=opts, **kwargs)

    def count_items(self) -> int | None:
        """Number of take files."""
        return None if self.is_pkl else len(list_takes(self.root))

    def read_records(self) -> Iterator[SequenceRecord]:
        """Every take, all 7 views (or every video of the pkl)."""
        if not self.is_pkl:
            yield from read_sportspose(self.root)
            return

        def describe(source: str, split: str, first: dict) -> VideoInfo:
            env = str(first.get("camera_name", "indoors"))
            if env not in KAS_SIZES:
                raise ValueError(f"{self.root}: camera_name {env!r} is not indoors/outdoors")
            size = KAS_SIZES[env]
            action = str(first.get("action", "all"))
            return VideoInfo(env, action, source, env, virtual_intrinsics(*size), size, FPS)

        yield from read_pkl(self.root, describe, self.reader_options["source_2d"])
