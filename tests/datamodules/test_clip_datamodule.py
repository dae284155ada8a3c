"""`ClipDataModule`: one base of the synthetic and real DataModules (cache, loaders, labels)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from liftbench.datamodules.clip_datamodule import ClipDataModule
from liftbench.datamodules.clips import EVAL_BATCH_FACTOR, GROUND_TRUTH_KEYS
from liftbench.datamodules.real import RealDataModule
from liftbench.datamodules.synthetic.capture import iter_takes
from liftbench.datamodules.synthetic.datamodule import SyntheticDataModule


class Generated(RealDataModule):
    """A real-dataset subclass whose takes are generated (no files)."""

    name = "generated"
    SPLITS = {"default": {"train": ["S1", "S2"], "test": ["S3"]}}
    default_split = "default"
    needs_root = False

    def read_records(self):
        yield from iter_takes(["walk", "run"], subjects=3, cameras=2, noise="clean")


def make_my_records(takes: int) -> list:
    return list(iter_takes(["walk", "run"], subjects=3, cameras=2, noise="clean"))[:takes]


class MyTakes(ClipDataModule):
    """The direct `ClipDataModule` subclass of docs/extending.md, as written there."""

    name = "mytakes"

    def __init__(self, takes: int = 6, **kwargs) -> None:
        super().__init__(**kwargs)
        self.config["takes"] = takes
        self.split = "by-take"

    def cache_config(self) -> dict:
        return self.config

    def source_2d(self) -> str:
        return "gt"

    def write_clips(self, folder: Path) -> dict:
        records = make_my_records(self.config["takes"])
        actions = sorted({r.action for r in records})
        subjects = sorted({r.subject for r in records})
        sets = {"train": records[:-2], "adapt": records[:-2], "test": records[-2:]}
        for name, recs in sets.items():
            self.save_set(folder, name, self.build_set(name, recs, actions, subjects))
        return {"actions": actions, "subjects": subjects,
                "takes": {k: [r.take for r in v] for k, v in sets.items()}}


def test_the_documented_direct_subclass_works(tmp_path):
    doc = (Path(__file__).resolve().parents[2] / "docs" / "extending.md").read_text()
    assert "class MyTakes(ClipDataModule):" in doc and "def write_clips" in doc
    dm = MyTakes(takes=5, frames=9, views=2, batch_size=4, cache_dir=tmp_path)
    dm.setup()
    assert dm.cache_path.name == dm.cache_key and (dm.cache_path / "meta.json").is_file()
    assert set(dm.datasets) == {"train", "adapt", "test", "val"} and dm.val_set == "test"
    assert len(dm.takes["train"]) == 3 and len(dm.takes["test"]) == 2
    batch = next(iter(dm.train_dataloader()))
    assert batch["input"].shape[:3] == (4, 2, 9)  # (B, V, T)
    proto = dm.protocol()
    assert proto["dataset"] == "mytakes" and proto["split"] == "by-take"
    assert proto["views"] == 2 and proto["cache_key"] == dm.cache_key
    assert MyTakes(takes=6, frames=9, views=2, cache_dir=tmp_path).cache_key != dm.cache_key


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    dm = Generated(frames=9, batch_size=4, cache_dir=tmp_path_factory.mktemp("gen"))
    dm.setup()
    return dm


def test_both_kinds_share_the_base_and_its_loaders():
    for cls in (SyntheticDataModule, RealDataModule, Generated):
        assert issubclass(cls, ClipDataModule)
        shared = ("_loader", "train_dataloader", "test_dataloader", "set_training_labels",
                  "hide_ground_truth", "setup", "prepare_data", "cache_key")
        assert not [k for k in shared if k in vars(cls)], cls


def test_real_subclass_serves_sets_validates_on_test_and_reports_its_protocol(real):
    assert set(real.datasets) == {"train", "val", "test", "adapt"}
    assert real.val_set == "test" and real.datasets["val"] is real.datasets["test"]
    assert real.cache_path.name == f"clips-{real.cache_key}"
    train = next(iter(real.train_dataloader()))
    test = next(iter(real.test_dataloader()))
    assert train["input"].shape[:2] == (4, 9)
    assert len(test["input"]) == min(EVAL_BATCH_FACTOR * 4, len(real.datasets["test"]))
    proto = real.protocol()
    assert proto["dataset"] == "generated" and proto["split"] == "default"
    assert proto["source_2d"] == "gt" and proto["val_set"] == "test"
    assert proto["cache_key"] == real.cache_key


def test_cache_key_follows_the_clip_configuration(real, tmp_path):
    assert Generated(frames=9, cache_dir=tmp_path).cache_key == real.cache_key
    assert Generated(frames=27, cache_dir=tmp_path).cache_key != real.cache_key
    assert Generated(frames=9, test_stride=3, cache_dir=tmp_path).cache_key != real.cache_key


def test_label_api_of_a_real_datamodule(tmp_path):
    dm = Generated(frames=9, batch_size=4, flip=False, train_on="adapt", cache_dir=tmp_path)
    dm.setup()
    n = len(dm.datasets["adapt"])
    target = np.random.default_rng(0).normal(size=(n, 9, 17, 3)).astype(np.float32)
    valid = np.zeros((n, 9, 17), dtype=bool)
    valid[::2] = True
    dm.hide_ground_truth()
    dm.set_training_labels(target, valid)
    batch = next(iter(dm.train_dataloader()))
    assert not set(GROUND_TRUTH_KEYS) - {"target"} & set(batch)
    idx = batch["index"].numpy()
    np.testing.assert_array_equal(batch["target"].numpy(), target[idx])
    np.testing.assert_array_equal(batch["valid"].numpy(), valid[idx])
    assert "target_mm" in dm.datasets["test"].arrays  # evaluation keeps its ground truth
    with pytest.raises(ValueError, match="expected"):
        dm.set_training_labels(target[:-1], valid[:-1])


def test_train_on_is_checked():
    with pytest.raises(ValueError, match="train_on"):
        Generated(train_on="test")
