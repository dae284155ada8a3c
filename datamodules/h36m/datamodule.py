"""`H36MDataModule` ("h36m"): Human3.6M from any of the three common file layouts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from liftbench.datamodules.h36m.reader import (
    find_format,
    read_mmpose_npz,
    read_motionbert_pkl,
    read_vp3d,
)
from liftbench.datamodules.real import RealDataModule
from liftbench.datamodules.records import SequenceRecord
from liftbench.datamodules.registry import register_datamodule


@register_datamodule("h36m")
class H36MDataModule(RealDataModule):
    """Human3.6M (4 synchronized cameras, 50 fps; single-view for the MotionBERT pkl).

    Args:
        root: folder with `data_3d_h36m.npz` + `cameras.pkl|json` (VideoPose3D), a MotionBERT
            `h36m_*_source_final.pkl` (or its folder), or mmpose's `annotation_body3d/`.
        source_2d: `"gt"` (ground-truth projection) or a detection source: for VideoPose3D
            the `<det>` of `data_2d_h36m_<det>.npz` in root (e.g. `"cpn_ft_h36m_dbb"`); for
            the pkl and mmpose layouts `"dataset"` (the 2D stored in the file).
        cameras_file: camera parameters when not in root (VideoPose3D / mmpose layouts).
        **kwargs: `RealDataModule` arguments (split `protocol1`: train S1 S5 S6 S7 S8, test
            S9 S11; `subjects`, `views`, `frames`, ...).
    """

    name = "h36m"
    SPLITS = {
        "protocol1": {"train": ["S1", "S5", "S6", "S7", "S8"], "test": ["S9", "S11"]},
        "protocol1-val": {"train": ["S1", "S5", "S6", "S7"], "val": ["S8"], "test": ["S9", "S11"]},
        "pkl": {"test": []},  # a MotionBERT pkl's own train/test split
    }
    default_split = "protocol1"
    how_to = (
        "Register at vision.imar.ro/human3.6m, build VideoPose3D's data_3d_h36m.npz (or download "
        "MotionBERT's h36m_sh_conf_cam_source_final.pkl), put cameras.pkl beside it, then run "
        "`liftbench data prepare h36m --root PATH` and set data.kwargs.root=PATH."
    )

    def __init__(
        self, root: str | Path | None = None, source_2d: str = "gt",
        cameras_file: str | Path | None = None, **kwargs: Any,
    ) -> None:
        opts = {"source_2d": source_2d, "cameras_file": str(cameras_file or "")}
        super().__init__(root=root, reader_options=opts, **kwargs)
        self.layout = find_format(self.root)
        if cameras_file is not None:
            self.layout["cameras"] = Path(cameras_file)
        fmt = self.layout["format"]
        if fmt == "vp3d" and self.layout["cameras"] is None:
            raise FileNotFoundError(
                f"{self.root}: data_3d_h36m.npz needs camera parameters: put mmpose's "
                "cameras.pkl (or a VideoPose3D-style cameras.json) in root or pass cameras_file"
            )
        if fmt != "vp3d" and source_2d not in ("gt", "dataset"):
            raise ValueError(f"source_2d must be 'gt' or 'dataset' for the {fmt} layout, "
                             f"got {source_2d!r}")

    def read_records(self) -> Iterator[SequenceRecord]:
        """Records of the detected layout (`reader.find_format`)."""
        lay, src = self.layout, self.reader_options["source_2d"]
        if lay["format"] == "vp3d":
            det = None if src == "gt" else self.root / f"data_2d_h36m_{src}.npz"
            if det is not None and not det.is_file():
                raise FileNotFoundError(f"2D detections {det} not found (source_2d={src!r})")
            yield from read_vp3d(lay["path"], lay["cameras"], det)
        elif lay["format"] == "motionbert":
            yield from read_motionbert_pkl(lay["path"], source_2d=src)
        else:
            for path in lay["paths"]:
                yield from read_mmpose_npz(path, lay["cameras"], source_2d=src)
