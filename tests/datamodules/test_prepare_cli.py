import pytest

from liftbench.bench.cli import main
from tests.datamodules.test_aspset import _write_release


def test_prepare_prints_summary_and_caches(tmp_path, capsys):
    root = tmp_path / "asp"
    _write_release(root, [("1e28", "train"), ("4d9e", "test")])
    code = main(["data", "prepare", "aspset", "--root", str(root), "--cache-dir",
                 str(tmp_path / "cache")])
    out = capsys.readouterr().out
    assert code == 0
    assert "aspset: 4 takes, 102 frames (202 view-frames)" in out
    assert "subjects (2): 1e28, 4d9e" in out and "views (3): left, mid, right" in out
    assert "units check: median person extent" in out
    cached = list((tmp_path / "cache").glob("records-*/index.json"))
    assert len(cached) == 1
    # a second run reads the cache (raw files no longer needed)
    (root / "trainval/joints_3d/1e28/1e28-0001.c3d").unlink()
    assert main(["data", "prepare", "aspset", "--root", str(root), "--cache-dir",
                 str(tmp_path / "cache")]) == 0


def test_prepare_errors_are_one_clear_line(tmp_path, capsys):
    _write_release(tmp_path / "mm", [("1e28", "train")], scale=1000.0)
    code = main(["data", "prepare", "aspset", "--root", str(tmp_path / "mm"), "--cache-dir",
                 str(tmp_path / "cache")])
    err = capsys.readouterr().err
    assert code != 0 and "1e28-0001.c3d" in err and "factor 1000" in err
    code = main(["data", "prepare", "aspset", "--root", str(tmp_path / "none")])
    assert code != 0 and "liftbench data prepare aspset" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["data", "prepare", "aspset"])  # --root is required


@pytest.mark.parametrize("name", ["h36m", "mpi_inf_3dhp", "sportspose", "aspset", "aist",
                                  "mads", "skipose", "worldpose"])
def test_config_without_root_says_how_to_prepare(name):
    from liftbench.bench.config import compose
    from liftbench.bench.runner import build_datamodule

    cfg = compose([f"data={name}"])
    with pytest.raises(ValueError, match=f"root.*is required.*liftbench data prepare {name}"):
        build_datamodule(cfg)


def test_humans71m_config_without_sources():
    from liftbench.bench.config import compose
    from liftbench.bench.runner import build_datamodule

    with pytest.raises(ValueError, match="sources.*is required"):
        build_datamodule(compose(["data=humans71m"]))


def test_every_dataset_is_registered():
    from liftbench.datamodules.registry import list_datamodules

    assert {"h36m", "mpi_inf_3dhp", "sportspose", "aspset", "worldpose", "aist", "mads",
            "skipose", "humans71m"} <= set(list_datamodules())
