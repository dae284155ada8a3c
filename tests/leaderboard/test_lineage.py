"""Nested results folders, and rows of runs started from checkpoints (`leaderboard.lineage`)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from liftbench.leaderboard.frames import records_frames
from liftbench.leaderboard.records import RunRecord, read_records, write_record
from liftbench.leaderboard.tables import build_table

PROTOCOL = {"dataset": "synthetic", "split": "daily->sports", "source_2d": "gt", "frames": 27,
            "stride": 27, "flip_tta": True, "joints_evaluated": list(range(17)),
            "averaging": "frame"}


def config(name: str, seed: int, regime: str = "supervised", init_from: str | None = None,
           **loss: float) -> dict:
    """A config shaped like `fit`'s: the run's name, seed and folders differ per seed."""
    return {"model": {"name": "videopose3d_27", "size": "tiny", "kwargs": {}},
            "regime": {"name": regime, "loss": {"w_pos": 1.0, **loss}},
            "data": {"name": "synthetic", "kwargs": {"train_on": "adapt"}},
            "trainer": {"max_epochs": 2}, "seed": seed, "run_name": f"{name}-s{seed}",
            "output_dir": "runs", "results_dir": f"results/{name}", "init_from": init_from}


def record(run_id: str, cfg: dict, mpjpe: float, checkpoint: str | None = None) -> RunRecord:
    return RunRecord(
        run_id=run_id, kind="fit", created=f"2026-12-01T00:00:{len(run_id) % 60:02d}+00:00",
        lifter={"name": cfg["model"]["name"], "size": cfg["model"]["size"]},
        regime={"name": cfg["regime"]["name"], "loss_weights": cfg["regime"]["loss"]},
        protocol=PROTOCOL, metrics={"mpjpe": mpjpe}, seed=cfg["seed"], config=cfg,
        checkpoint=checkpoint)


def pretrain_and_adapted(root: Path, folders: bool = True,
                         adapted_w: tuple[float, ...] = (0.3,)) -> dict[str, list[RunRecord]]:
    """Seeds 0-2 of a pre-training and of adaptations of each seed's checkpoint.

    Records go to `root/results/<run>/`; with `folders`, each run also has the run folder `fit`
    leaves (`root/runs/<run id>/config.yaml` and `checkpoints/best.ckpt`). `init_from` paths are
    relative to `root` (where the runs were started).
    """
    out: dict[str, list[RunRecord]] = {"pretrain": []}
    for seed in range(3):
        run_id = f"pretrain-s{seed}-20261201-000000-aaaa0{seed}"
        cfg = config("pretrain", seed)
        ckpt = Path("runs") / run_id / "checkpoints" / "best.ckpt"
        if folders:
            (root / ckpt).parent.mkdir(parents=True)
            (root / ckpt).write_bytes(f"weights of seed {seed}".encode())
            OmegaConf.save(OmegaConf.create(cfg), root / "runs" / run_id / "config.yaml")
        out["pretrain"].append(record(run_id, cfg, 100.0 + seed))
        for w in adapted_w:
            name = f"adapted_w{w}"
            child = config(name, seed, "consistency", str(ckpt), w_con=w)
            out.setdefault(name, []).append(record(f"{name}-s{seed}-20261201-000001-bbbb0{seed}",
                                                   child, 90.0 + seed + w))
    for name, recs in out.items():
        for r in recs:
            write_record(r, root / "results" / name)
    return out


# ---------------------------------------------------------------------- recursive reading
def test_recursive_read_finds_nested_records_and_skips_other_json(tmp_path):
    recs = pretrain_and_adapted(tmp_path)
    (tmp_path / "results" / "claim.json").write_text(json.dumps({"runs": {}, "seeds": [0]}))
    (tmp_path / "results" / "pretrain" / "files.json").write_text("[1, 2]")  # a logger's
    hidden = tmp_path / "results" / ".cache"
    write_record(recs["pretrain"][0], hidden)
    # not recursive: only the top folder, where the summary is no record
    with pytest.raises(ValueError, match="claim.json.*schema_version"):
        read_records(tmp_path / "results")
    with pytest.warns(UserWarning, match="claim.json"):
        assert read_records(tmp_path / "results", strict=False) == []
    found = read_records(tmp_path / "results", recursive=True)
    assert sorted(r.run_id for r in found) == sorted(r.run_id for v in recs.values() for r in v)
    # a copy of a record elsewhere in the tree is the same run: read once, with a warning
    write_record(recs["pretrain"][1], tmp_path / "results" / "copy")
    with pytest.warns(UserWarning, match="recorded twice"):
        again = read_records(tmp_path / "results", recursive=True)
    assert len(again) == len(found)
    # a broken record still names its file
    (tmp_path / "results" / "copy" / "bad.json").write_text('{"schema_version": 1}')
    with pytest.raises(ValueError, match="bad.json"):
        read_records(tmp_path / "results", recursive=True)


# ------------------------------------------------------------------------- row identity
def rows_of(records: list[RunRecord], roots=()) -> tuple[dict[str, object], object]:
    table = build_table(*records_frames(records, roots=roots), metrics=["mpjpe"])
    return {r.label: r for r in table.rows}, table


def test_seeds_of_an_adaptation_merge_into_one_row(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    recs = pretrain_and_adapted(tmp_path, adapted_w=(0.0, 0.3))
    rows, table = rows_of(read_records(tmp_path / "results", recursive=True))
    assert sorted((label, len(r.run_ids)) for label, r in rows.items()) == [
        ("videopose3d_27 (tiny) · consistency [init_from=(a), w_con=0.3]", 3),
        ("videopose3d_27 (tiny) · consistency [init_from=(a), w_con=0]", 3),
        ("videopose3d_27 (tiny) · supervised", 3)]
    row = rows["videopose3d_27 (tiny) · consistency [init_from=(a), w_con=0.3]"]
    assert row.cells["mpjpe"].mean == pytest.approx(91.3) and row.cells["mpjpe"].n == 3
    assert row.cells["mpjpe"].low < row.cells["mpjpe"].high  # a CI over the 3 seeds
    pre = rows["videopose3d_27 (tiny) · supervised"]
    assert row.parent == pre.identity and pre.parent is None
    assert table.parents == [("a", 'checkpoints of the runs of row "videopose3d_27 (tiny) · '
                                   f'supervised" (config {pre.identity.split()[-1]})')]
    md = table.render("md")
    assert "runs/pretrain-s0" not in md  # no checkpoint path anywhere in the table
    assert '- init_from=(a): checkpoints of the runs of row "videopose3d_27' in md
    frame = table.to_frame()
    assert set(frame["init_from"].dropna()) == {table.parents[0][1]}
    assert len(recs["adapted_w0.3"]) == 3


def test_parent_found_through_its_run_folder_gets_the_same_identity(tmp_path, monkeypatch):
    pretrain_and_adapted(tmp_path)
    monkeypatch.chdir(tmp_path)
    with_parents = records_frames(read_records(tmp_path / "results", recursive=True))[0]
    child = read_records(tmp_path / "results" / "adapted_w0.3")
    alone = records_frames(child)[0]
    assert alone["init_from"].nunique() == 1
    expected = with_parents.loc[with_parents["run_id"].str.startswith("pretrain"), "identity"]
    assert set(alone["init_from"]) == set(expected)
    assert set(alone["variant"]) == set(
        with_parents.loc[with_parents["run_id"].str.startswith("adapted"), "variant"])
    # from another working directory, the relative paths are found from the results folder
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    folder = tmp_path / "results" / "adapted_w0.3"
    rows, table = rows_of(child, roots=[folder])
    (row,) = rows.values()
    assert len(row.run_ids) == 3 and row.parent == expected.iloc[0]
    assert table.parents[0][1].startswith("checkpoints of videopose3d_27 (tiny) · supervised runs")


def test_a_record_naming_its_checkpoint_is_matched_by_that_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    parents, children = [], []
    for seed in range(2):
        ckpt = tmp_path / "exported" / f"model-{seed}.ckpt"  # no run id in the path
        ckpt.parent.mkdir(exist_ok=True)
        ckpt.write_bytes(b"x" * (seed + 1))
        parents.append(record(f"p{seed}", config("p", seed), 50.0, checkpoint=str(ckpt)))
        rel = os.path.relpath(ckpt, tmp_path)
        children.append(record(f"c{seed}", config("c", seed, "consistency", rel, w_con=0.3),
                               40.0 + seed))
    rows, _ = rows_of(parents + children)
    adapted = rows["videopose3d_27 (tiny) · consistency [init_from=(a)]"]
    assert len(adapted.run_ids) == 2
    assert adapted.parent == rows["videopose3d_27 (tiny) · supervised"].identity


def test_foreign_checkpoint_is_identified_by_its_content(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    official = b"official weights"
    paths = [tmp_path / "a" / "best_epoch.bin", tmp_path / "b" / "renamed.bin",
             tmp_path / "c" / "best_epoch.bin"]
    for p, data in zip(paths, (official, official, b"other weights")):
        p.parent.mkdir()
        p.write_bytes(data)
    recs = [record(f"ft{seed}", config("ft", seed, init_from=str(p)), 60.0 + seed)
            for seed, p in enumerate(paths)]
    rows, table = rows_of(recs)
    digest = hashlib.sha256(official).hexdigest()[:12]
    other = hashlib.sha256(b"other weights").hexdigest()[:12]
    assert sorted((r.parent, len(r.run_ids)) for r in rows.values()) == sorted(
        [(f"sha256:{digest}", 2), (f"sha256:{other}", 1)])
    assert sorted(text for _, text in table.parents) == sorted(
        [f"file best_epoch.bin, sha256 {digest}", f"file best_epoch.bin, sha256 {other}"])
    # the path is nowhere in the row labels
    assert all(str(tmp_path) not in label for label in rows)


def test_unknown_checkpoint_keeps_its_path_and_says_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    recs = [record(f"ft{seed}", config("ft", seed, init_from=f"gone/run{seed}/best.ckpt"),
                   60.0) for seed in range(2)]
    rows, table = rows_of(recs)
    assert sorted(r.parent for r in rows.values()) == ["gone/run0/best.ckpt",
                                                       "gone/run1/best.ckpt"]
    assert all("not found" in text for _, text in table.parents)
    assert sorted(label for label in rows) == [
        "videopose3d_27 (tiny) · supervised [init_from=(a)]",
        "videopose3d_27 (tiny) · supervised [init_from=(b)]"]


def test_a_chain_of_fine_tunings_merges_at_every_level(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pretrain_and_adapted(tmp_path, folders=True)
    # a second fine-tuning of each adapted seed, its parent's run folder absent: the adapted
    # records identify it
    for seed in range(3):
        parent = f"adapted_w0.3-s{seed}-20261201-000001-bbbb0{seed}"
        cfg = config("second", seed, "consistency", f"runs/{parent}/checkpoints/best.ckpt",
                     w_con=0.1)
        write_record(record(f"second-s{seed}", cfg, 80.0 + seed), tmp_path / "results" / "second")
    rows, table = rows_of(read_records(tmp_path / "results", recursive=True))
    assert all(len(r.run_ids) == 3 for r in rows.values()) and len(rows) == 3
    second = next(r for label, r in rows.items() if "w_con=0.1" in label)
    first = next(r for label, r in rows.items() if "w_con=0.3" in label)
    assert second.parent == first.identity and first.parent_ref != second.parent_ref
    assert len(table.parents) == 2
