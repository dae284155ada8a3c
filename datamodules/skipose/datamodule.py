"""`SkiPoseDataModule` ("skipose")."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from liftbench.datamodules.real import RealDataModule
from liftbench.datamodules.records import SequenceRecord
from liftbench.datamodules.registry import register_datamodule
from liftbench.datamodules.skipose.reader import read_split


@register_datamodule("skipose")
class SkiPoseDataModule(RealDataModule):
    """SkiPose: 6 moving (pan-tilt-zoom) views of alpine skiers.

    Split `official`: the release's `train/` and `test/` folders; or `subjects=` lists of
    `subj<k>` ids.

    Args:
        root: the `Ski-PosePTZ-CameraDataset-png` folder (`train/labels.h5`, `test/labels.h5`).
        fps: frame rate (not published; default 30).
        pose_frame: `"auto"`, `"camera"` or `"world"`: orientation of the `3D` labels.
        **kwargs: `RealDataModule` arguments.
    """

    name = "skipose"
    SPLITS = {"official": {"test": []}}
    default_split = "official"
    how_to = (
        "Download the Ski-PosePTZ-CameraDataset (EPFL CVLab), unzip, then run `liftbench data "
        "prepare skipose --root PATH` and set data.kwargs.root=PATH (needs h5py)."
    )

    def __init__(self, root: str | Path | None = None, fps: float = 30.0,
                 pose_frame: str = "auto", **kwargs: Any) -> None:
        opts = {"fps": float(fps), "pose_frame": pose_frame}
        super().__init__(root=root, reader_options=opts, **kwargs)

    def read_records(self) -> Iterator[SequenceRecord]:
        """Both splits' sequences."""
        found = False
        for split in ("train", "test"):
            path = self.root / split / "labels.h5"
            if path.is_file():
                found = True
                yield from read_split(path, split, self.reader_options["fps"],
                                      self.reader_options["pose_frame"])
        if not found:
            raise FileNotFoundError(f"{self.root}: no train/labels.h5 or test/labels.h5. "
                                    f"{self.how_to}")

    def set_of(self, rec: SequenceRecord) -> list[str]:
        """`official`: the folder the take came from; else by subject."""
        if self.split != "official":
            return super().set_of(rec)
        return ["train", "adapt"] if rec.labels["split"] == "train" else ["test"]
