"""`liftbench perf train` at toy size: both loops run on one lifter, the ratio is reported."""

from __future__ import annotations

import json

from liftbench.bench.cli import main


def test_perf_train_reports_both_loops(tmp_path, capsys):
    out = tmp_path / "train.json"
    assert main([
        "perf", "train", "--lifters", "simplebaseline", "copy_2d", "--steps", "6", "--warmup",
        "2", "--repeats", "1", "--batch-size", "8", "--json", str(out),
        "data.kwargs.motions=[walk,dance_a,run,kick]", "data.kwargs.subjects=3",
        "data.kwargs.variants=1", f"data.kwargs.cache_dir={tmp_path / 'cache'}",
    ]) == 0
    assert "fit/plain" in capsys.readouterr().out
    rows = json.loads(out.read_text())["lifters"]
    row = rows["simplebaseline"]
    assert row["fit_steps_per_s"] > 0 and row["plain_steps_per_s"] > 0
    assert abs(row["ratio"] - row["fit_steps_per_s"] / row["plain_steps_per_s"]) < 0.01
    assert rows["copy_2d"]["skipped"]  # nothing to train: no loop to time
