"""`WorldPoseDataModule` ("worldpose")."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from liftbench.datamodules.motionbert_format import VideoInfo, read_pkl, virtual_intrinsics
from liftbench.datamodules.real import RealDataModule
from liftbench.datamodules.records import SequenceRecord
from liftbench.datamodules.registry import register_datamodule
from liftbench.datamodules.worldpose.reader import FPS, IMAGE_SIZE, list_sequences, read_worldpose

# KASportsFormer's test games (its WorldPose preprocessing) and the release's evaluation clips.
KAS_TEST = [
    "ARG_CRO_221657", "ARG_CRO_222132", "ARG_CRO_223805", "ARG_CRO_235121", "ARG_FRA_180702",
    "ARG_FRA_183429", "ARG_FRA_193158", "BRA_KOR_221807", "BRA_KOR_232126", "BRA_KOR_224459",
    "CRO_MOR_181141", "CRO_MOR_182854", "CRO_MOR_184559", "CRO_MOR_194948", "ENG_FRA_224248",
    "ENG_FRA_233519", "ENG_FRA_232015", "ENG_FRA_235059", "FRA_MOR_232451", "FRA_MOR_222923",
    "MOR_POR_181952", "MOR_POR_192030", "MOR_POR_184724", "NET_ARG_220032", "NET_ARG_231259",
    "NET_ARG_222749",
]
OFFICIAL_EVAL = ["ARG_FRA_182345", "ARG_FRA_201902", "BRA_KOR_231503", "CRO_MOR_180400",
                 "FRA_MOR_231753", "NET_ARG_231259"]


@register_datamodule("worldpose")
class WorldPoseDataModule(RealDataModule):
    """WorldPose: one moving broadcast camera per sequence, many players, 50 fps.

    "Subjects" are sequences (`<TEAM1>_<TEAM2>_<HHMMSS>`). Splits: `kasportsformer` (its 26
    test games) and `official` (the release's 6 evaluation clips); or `subjects=` lists.

    Args:
        root: the `WorldPose` folder (`cameras/`, `poses/`), or a KASportsFormer
            MotionBERT-format pkl (`wp_*_source_final.pkl`; split `pkl` = the file's own).
        smpl_model: path to the SMPL neutral model `.npz` (not distributed with liftbench;
            not needed for the pkl).
        source_2d: `"gt"`, or `"dataset"` for the pkl's HRNet detections.
        min_frames: drop visible runs shorter than this.
        **kwargs: `RealDataModule` arguments.
    """

    name = "worldpose"
    SPLITS = {"kasportsformer": {"test": KAS_TEST}, "official": {"test": OFFICIAL_EVAL},
              "pkl": {"test": []}}
    default_split = "kasportsformer"
    how_to = (
        "Register at eth-ait.github.io/WorldPoseDataset, extract cameras-dev.7z and "
        "poses-dev.7z, get the SMPL neutral model (.npz) from smpl.is.tue.mpg.de, then run "
        "`liftbench data prepare worldpose --root PATH -o smpl_model=SMPL.npz`."
    )

    def __init__(self, root: str | Path | None = None, smpl_model: str | Path | None = None,
                 min_frames: int = 1, source_2d: str = "gt", **kwargs: Any) -> None:
        has_root = root is not None and str(root) != "???"
        self.is_pkl = has_root and Path(root).suffix == ".pkl"
        if self.is_pkl:
            kwargs.setdefault("split", "pkl")
            smpl_model = None
        elif source_2d != "gt":
            raise ValueError("WorldPose ships no 2D detections: source_2d='gt', or pass your "
                             "own with detections=DIR")
        if has_root and not self.is_pkl and (smpl_model is None or str(smpl_model) == "???"):
            raise ValueError(f"worldpose: `smpl_model` is required. {self.how_to}")
        model = "" if smpl_model is None else str(Path(smpl_model).resolve())
        opts = {"smpl_model": model, "min_frames": int(min_frames), "source_2d": source_2d}
        super().__init__(root=root, reader_options=opts, **kwargs)

    def count_items(self) -> int | None:
        """Sequences (each yields several player takes)."""
        return None if not (self.root / "poses").is_dir() else len(list_sequences(self.root))

    def read_records(self) -> Iterator[SequenceRecord]:
        """Every visible run of every player (or every video of the pkl)."""
        o = self.reader_options
        if not self.is_pkl:
            yield from read_worldpose(self.root, o["smpl_model"], o["min_frames"])
            return

        def describe(source: str, split: str, first: dict) -> VideoInfo:
            game = source.split("+")[0]  # "<game>+player<id>+start_frame<k>"
            return VideoInfo(game, game, source, "broadcast",
                             virtual_intrinsics(*IMAGE_SIZE), IMAGE_SIZE, FPS)

        yield from read_pkl(self.root, describe, o["source_2d"])
