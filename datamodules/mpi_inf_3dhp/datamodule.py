"""`MPIINF3DHPDataModule` ("mpi_inf_3dhp"): the raw MPI-INF-3DHP release."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from liftbench.datamodules.mpi_inf_3dhp.reader import (
    SEQUENCE_FRAMES,
    VNECT_CAMERAS,
    read_test_sequence,
    read_train_sequence,
)
from liftbench.datamodules.real import RealDataModule
from liftbench.datamodules.records import SequenceRecord
from liftbench.datamodules.registry import register_datamodule

TRAIN = [f"S{i}" for i in range(1, 9)]
TEST = [f"TS{i}" for i in range(1, 7)]


@register_datamodule("mpi_inf_3dhp")
class MPIINF3DHPDataModule(RealDataModule):
    """MPI-INF-3DHP: training sequences multi-view (14 cameras), test sequences single-view.

    Args:
        root: the `mpi_inf_3dhp` folder (`S1..S8/Seq1|Seq2/`, and the test set in
            `mpi_inf_3dhp_test_set/TS1..TS6/` or `TS1..TS6/`).
        source_2d: `"gt"` (projection of the 3D) or `"dataset"` (`annot2`).
        train_cameras: training-set camera indices to read (default the 8 VNect cameras).
        **kwargs: `RealDataModule` arguments. Splits: `standard` (train S1-S8, test TS1-TS6,
            the usual protocol; single-view test) and `multiview` (train S1-S6, val S7,
            test S8: multi-view evaluation on training-set subjects).
    """

    name = "mpi_inf_3dhp"
    SPLITS = {
        "standard": {"train": TRAIN, "test": TEST},
        "multiview": {"train": TRAIN[:6], "val": ["S7"], "test": ["S8"]},
    }
    default_split = "standard"
    how_to = (
        "Download MPI-INF-3DHP with its get_dataset.sh / get_testset.sh (research licence), "
        "then run `liftbench data prepare mpi_inf_3dhp --root PATH` and set "
        "data.kwargs.root=PATH."
    )

    def __init__(
        self, root: str | Path | None = None, source_2d: str = "gt",
        train_cameras: list[int] | tuple[int, ...] = VNECT_CAMERAS, **kwargs: Any,
    ) -> None:
        if source_2d not in ("gt", "dataset"):
            raise ValueError(f"source_2d must be 'gt' or 'dataset', got {source_2d!r}")
        cams = tuple(int(c) for c in train_cameras)
        if not cams or not all(0 <= c <= 13 for c in cams):
            raise ValueError(f"train_cameras must be indices in 0..13, got {list(cams)}")
        opts = {"source_2d": source_2d, "train_cameras": list(cams)}
        super().__init__(root=root, reader_options=opts, **kwargs)
        self.train_cameras = cams

    def _sequences(self) -> tuple[list[Path], list[Path]]:
        train = [self.root / s / q for s, q in SEQUENCE_FRAMES if (self.root / s / q).is_dir()]
        test_root = self.root / "mpi_inf_3dhp_test_set"
        base = test_root if test_root.is_dir() else self.root
        test = [base / ts for ts in TEST if (base / ts).is_dir()]
        return train, test

    def count_items(self) -> int | None:
        """Training sequences (test sequences yield one record per valid run)."""
        return len(self._sequences()[0]) or None

    def read_records(self) -> Iterator[SequenceRecord]:
        """Every training sequence present, then every test sequence present."""
        train, test = self._sequences()
        if not train and not test:
            raise FileNotFoundError(
                f"{self.root}: no S*/Seq* or TS* folders of MPI-INF-3DHP. {self.how_to}"
            )
        src = self.reader_options["source_2d"]
        for seq in train:
            yield read_train_sequence(seq, self.train_cameras, src)
        for ts in test:
            yield from read_test_sequence(ts, src)
