"""Published tables: the files, their command and machine lines, the CSV, the name checks."""

from __future__ import annotations

import math
import warnings

import pandas as pd
import pytest

from liftbench.leaderboard.published import (
    TABLES_DIR_ENV,
    command_line,
    format_value,
    machine,
    publish_frame,
    publish_table,
    table_name,
    tables_dir,
)
from liftbench.leaderboard.records import RunRecord, read_records, write_record

COLUMNS = ["lifter", "mpjpe", "note", "n"]
ROWS = [["simplebaseline", 52.123456, "row #a, with a comma", 2],
        ["copy_2d", float("nan"), None, 1]]


def test_files_command_machine_and_csv(tmp_path):
    md, csv = publish_table("demo-x", "A title", COLUMNS, ROWS, notes=["a note"],
                            command="liftbench demo --seeds 0", out_dir=tmp_path / "t")
    assert (md, csv) == (tmp_path / "t" / "demo-x.md", tmp_path / "t" / "demo-x.csv")
    text = md.read_text()
    assert text.startswith("# A title\n")
    assert "Written by: `liftbench demo --seeds 0`" in text
    assert f"Machine: {machine()}" in text and "cores" in text and "torch" in text
    assert "| simplebaseline | 52.1 | row #a, with a comma | 2 |" in text
    assert "- a note" in text
    head = csv.read_text().splitlines()[:3]
    assert head[0] == "# command: liftbench demo --seeds 0"
    assert head[1] == f"# machine: {machine()}" and head[2].startswith("# written: ")
    frame = pd.read_csv(csv, comment="#")
    assert list(frame.columns) == COLUMNS and len(frame) == 2
    assert frame["mpjpe"][0] == 52.123456  # unrounded
    assert frame["note"][0] == "row #a, with a comma"  # a `#` in a cell is no comment
    assert math.isnan(frame["mpjpe"][1]) and pd.isna(frame["note"][1])
    assert list(frame["n"]) == [2, 1]
    assert not list((tmp_path / "t").glob(".*"))  # no temporary files left


def test_markdown_body_replaces_the_plain_table(tmp_path):
    md, csv = publish_table("x", "T", ["a"], [[1.5]], markdown="**mine**\n\n| a |\n|---|\n| 1.50 |",
                            command="liftbench x", out_dir=tmp_path)
    text = md.read_text()
    assert "**mine**" in text and "| 1.50 |" in text and "| 1.5 |" not in text
    assert pd.read_csv(csv, comment="#")["a"].tolist() == [1.5]


def test_default_folder_and_command(tmp_path, monkeypatch):
    monkeypatch.setenv(TABLES_DIR_ENV, str(tmp_path / "env"))
    assert tables_dir() == tmp_path / "env" and tables_dir(tmp_path / "o") == tmp_path / "o"
    monkeypatch.setattr("sys.argv", ["liftbench", "perf", "data", "--title", "a b"])
    md, _ = publish_table("p", "P", ["a"], [[1]])
    assert md.parent == tmp_path / "env"
    assert "Written by: `liftbench perf data --title 'a b'`" in md.read_text()
    monkeypatch.delenv(TABLES_DIR_ENV)
    assert str(tables_dir()) == "results/tables"
    assert command_line(["table", "--publish", "in-domain"]) == \
        "liftbench table --publish in-domain"


@pytest.mark.parametrize("name", ["", "a b", "../x", "a/b", "..", "x;y", "é"])
def test_bad_names_are_rejected(tmp_path, name):
    with pytest.raises(ValueError, match="table name"):
        publish_table(name, "T", ["a"], [[1]], command="c", out_dir=tmp_path)
    assert not list(tmp_path.iterdir())


def test_bad_rows_and_columns_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="row 1 has 1 values for 2 columns"):
        publish_table("x", "T", ["a", "b"], [[1, 2], [3]], command="c", out_dir=tmp_path)
    with pytest.raises(ValueError, match="distinct"):
        publish_table("x", "T", ["a", "a"], [[1, 2]], command="c", out_dir=tmp_path)
    assert not list(tmp_path.iterdir())


def test_table_name_and_formatting():
    assert table_name("claim-my claim/v2") == "claim-my_claim_v2"
    with pytest.raises(ValueError):
        table_name("///")
    assert [format_value(v) for v in (None, 41.26, 0.0123, 2.5e-7, 0.0, 3, True, "a")] == \
        ["", "41.3", "0.0123", "2.5e-07", "0.0", "3", "True", "a"]


def test_publish_frame_writes_numpy_values(tmp_path):
    frame = pd.DataFrame({"lifter": ["a", "b"], "n": [2, 3], "mpjpe": [1.25, None]})
    _, csv = publish_frame("f", "F", frame, command="c", out_dir=tmp_path)
    back = pd.read_csv(csv, comment="#")
    assert back["n"].tolist() == [2, 3] and back["mpjpe"][0] == 1.25 and pd.isna(back["mpjpe"][1])


def test_record_readers_skip_published_tables(tmp_path):
    """`results/` holds records and `results/tables/`: tables are never read as runs."""
    results = tmp_path / "results"
    rec = RunRecord(run_id="r1", kind="test", created="2026-11-22T13:00:00+00:00",
                    lifter={"name": "simplebaseline", "size": "tiny", "params": 1},
                    regime={"name": "supervised"}, metrics={"mpjpe": 41.5},
                    protocol={"dataset": "synthetic", "split": "daily->sports",
                              "source_2d": "gt", "frames": 27, "stride": 27, "flip_tta": True,
                              "joints_evaluated": list(range(17)), "averaging": "frame"})
    write_record(rec, results)
    publish_table("demo", "Demo", COLUMNS, ROWS, command="c", out_dir=results / "tables")
    publish_table("claim-x", "X", ["kind"], [["run"]], command="c", out_dir=results / "tables")
    assert sorted(p.name for p in (results / "tables").iterdir()) == [
        "claim-x.csv", "claim-x.md", "demo.csv", "demo.md"]
    for recursive in (False, True):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # not even a skipped-file warning
            records = read_records(results, strict=True, recursive=recursive)
        assert [r.run_id for r in records] == ["r1"]
