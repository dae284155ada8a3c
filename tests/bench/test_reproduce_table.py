"""`liftbench table` on the records of real `liftbench reproduce` runs: one row per claim run.

Each claim adapts every seed's own pre-trained model, so each adapted run's `init_from` is
another path; the table must still give one row per run of the claim, n = 3 seeds each, with
the means of the claim's own summary. Tiny runs (the sizing of `test_reproduce.py`'s CLI run):
a few seconds per claim.
"""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from liftbench.bench.cli import main
from liftbench.leaderboard.frames import records_frames
from liftbench.leaderboard.records import read_records
from liftbench.leaderboard.tables import build_table

TINY = ["data.kwargs.subjects=2", "data.kwargs.motions=[walk,run]", "data.kwargs.variants=1",
        "trainer.max_epochs=1", "trainer.limit_train_batches=2", "trainer.limit_val_batches=1",
        "logger=none"]


def reproduce_and_table(tmp_path, capsys, claim: str) -> tuple[dict, pd.DataFrame, str]:
    """Run the claim over 3 seeds, then `liftbench table` (CSV) on its results folder."""
    out = tmp_path / "rc"
    assert main(["reproduce", "--seeds", "3", "--out", str(out), claim, *TINY,
                 f"data.kwargs.cache_dir={tmp_path / 'cache'}"]) == 0
    summary = json.loads((out / claim / f"{claim}.json").read_text())
    capsys.readouterr()
    results = str(out / claim / "results")
    assert main(["table", "--results", results, "--format", "csv"]) == 0
    frame = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert main(["table", "--results", results, "--metrics", "mpjpe"]) == 0
    return summary, frame, capsys.readouterr().out


def check_rows_are_claim_runs(tmp_path, claim: str, summary: dict, frame: pd.DataFrame) -> None:
    """One row per claim run, n = 3, each row's runs the 3 seeds of that run, same means.

    Beside them, the gate's `copy_2d` rows (one per test set); where a claim run's row has a
    ratio to one, it is the summary's gate ratio when the claim's metric is the table's MPJPE.
    """
    runs = summary["runs"]
    ours = frame[~frame["lifter"].str.startswith("copy_2d")]
    assert len(ours) == len(runs) and list(frame["n"]) == [3] * len(frame)
    results = tmp_path / "rc" / claim / "results"
    table = build_table(*records_frames(read_records(results, recursive=True), roots=[results]))
    folder_of = {p.stem: p.parent.name for p in results.rglob("*.json")}
    for row in table.rows:
        (name,) = {folder_of[i] for i in row.run_ids}  # a row never mixes claim runs
        if name == "copy_2d":
            continue
        line = frame[frame["label"] == row.label].iloc[0]
        gate = summary["gates"][name]
        if gate["metric"] == "mpjpe" and row.protocol["scale"] == "2.5D x factor":
            assert line["copy_2d_ratio"] == pytest.approx(gate["ratio"], rel=1e-12)
        for metric, (mean, _) in runs[name].items():
            assert line[metric] == pytest.approx(mean, rel=1e-12), (name, metric)
        assert line[f"{metric}_ci_low"] < line[f"{metric}_ci_high"]  # a CI over the seeds
        # the adapted rows started from the pretrain row: one mark, named by its label
        if claim_parent(claim, name):
            pretrain = next(r for r in table.rows
                            if {folder_of[i] for i in r.run_ids} == {"pretrain"})
            assert row.parent == pretrain.identity and row.parent_ref == "a"
            assert line["init_from"] == (f'checkpoints of the runs of row "{pretrain.label}" '
                                         f'(config {pretrain.identity.split()[-1]})')
        else:
            assert pd.isna(line["init_from"])


def claim_parent(claim: str, run: str) -> str | None:
    from liftbench.bench.reproduce import load_claim

    return load_claim(claim).runs[run].get("init_from")


def test_consistency_claim_table(tmp_path, capsys):
    summary, frame, md = reproduce_and_table(tmp_path, capsys, "consistency")
    assert set(summary["runs"]) == {"pretrain", "l2d", "l2d_con"}
    check_rows_are_claim_runs(tmp_path, "consistency", summary, frame)
    assert "init_from=(a), w_con=0.3]" in md and "init_from=(a), w_con=0]" in md
    assert "checkpoints/best.ckpt" not in md  # no per-seed path in a label or note
    # one claim run's folder alone: its parent is found through the run folders
    capsys.readouterr()
    assert main(["table", "--results", str(tmp_path / "rc" / "consistency" / "results" /
                                           "l2d_con"), "-f", "csv"]) == 0
    alone = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert list(alone["n"]) == [3]
    assert alone["mpjpe"].iloc[0] == pytest.approx(summary["runs"]["l2d_con"]["mpjpe"][0])
    # the same experiment as the pretrain row's, identified from its saved config alone
    config = frame["init_from"].dropna().iloc[0].rpartition(" (config ")[2]
    assert alone["init_from"].iloc[0] == (
        f"checkpoints of videopose3d_27 (tiny) · supervised runs (config {config}")


@pytest.mark.parametrize("claim", ["pseudolabel", "selffusion"])
def test_adaptation_claim_tables(tmp_path, capsys, claim):
    summary, frame, _ = reproduce_and_table(tmp_path, capsys, claim)
    check_rows_are_claim_runs(tmp_path, claim, summary, frame)
