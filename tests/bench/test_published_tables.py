"""Each measuring command publishes its table(s) with its command line and the machine.

`demo` and `reproduce` run with a fit that trains nothing but writes a record (seconds, not
minutes); `table --publish` reads such records; `perf` runs its smallest benchmark for real.
"""

from __future__ import annotations

import io
import json
import math
import types

import pandas as pd
import pytest

from liftbench.bench.cli import main
from liftbench.bench.perf._publish import long_rows, result_tables
from liftbench.leaderboard.published import machine
from liftbench.leaderboard.records import RunRecord, write_record

PROTOCOL = {"dataset": "synthetic", "split": "daily->sports", "source_2d": "gt", "frames": 27,
            "stride": 27, "flip_tta": True, "joints_evaluated": list(range(17)),
            "averaging": "frame"}
STAGE_ERROR = {"pretrain": 80.0, "upper": 50.0}  # other adaptation stages: 70 mm


def _fit(cfg):
    """A fit writing the record of run `LIFTER-STAGE-sSEED` (or `CLAIM-RUN-sSEED`)."""
    name = cfg.run_name.rsplit("-", 2)[1]
    seed = int(cfg.seed)
    mpjpe = {"copy_2d": 150.0, "mean_pose": 200.0}.get(cfg.model.name,
                                                       STAGE_ERROR.get(name, 70.0))
    if name == "a":  # reproduce's toy claim: b beats a on every seed
        mpjpe = 100.0
    elif name == "b":
        mpjpe = 60.0 - seed
    rec = RunRecord(run_id=cfg.run_name, kind="fit", created="2026-12-01T00:00:00+00:00",
                    lifter={"name": cfg.model.name, "size": "tiny", "params": 1},
                    regime={"name": cfg.regime.name}, seed=seed, protocol=PROTOCOL,
                    metrics={"mpjpe": mpjpe + seed, "pa_mpjpe": mpjpe / 2 + seed},
                    groups={"action": {"kick": {"mpjpe": mpjpe}, "run": {"mpjpe": mpjpe + 1}}})
    return write_record(rec, cfg.results_dir)


@pytest.fixture
def fake_fit(monkeypatch):
    monkeypatch.setattr("liftbench.bench.runner.run_fit", _fit)


def _check_header(path, argv):
    """The markdown names the command and the machine; the CSV carries them as comments."""
    command = "liftbench " + " ".join(argv)
    text = path.with_suffix(".md").read_text()
    assert f"Written by: `{command}`" in text and f"Machine: {machine()}" in text
    lines = path.with_suffix(".csv").read_text().splitlines()
    assert lines[0] == f"# command: {command}" and lines[1] == f"# machine: {machine()}"
    return text, pd.read_csv(path.with_suffix(".csv"), comment="#")


def test_demo_publishes_its_table(tmp_path, fake_fit, capsys):
    tables = tmp_path / "tables"
    argv = ["demo", "--lifters", "simplebaseline", "--seeds", "0", "1", "--out",
            str(tmp_path / "demo"), "--tables-dir", str(tables)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"published: {tables / 'demo.md'}, {tables / 'demo.csv'}" in out
    text, frame = _check_header(tables / "demo", argv)
    report = (tmp_path / "demo" / "report" / "report.md").read_text()
    # what the report shows first, as the report shows it
    table_md = report.split("\n\nChange of MPJPE")[0].removeprefix("# liftbench demo report\n\n")
    assert table_md.strip() in text and "Change of MPJPE vs no adaptation" in text
    rows = frame.set_index(["demo_lifter", "stage"])
    assert {"copy_2d", "mean_pose"} <= set(frame["demo_lifter"])
    assert rows.loc[("simplebaseline", "pretrain"), "mpjpe"] == pytest.approx(80.5)
    assert rows.loc[("simplebaseline", "pretrain"), "mpjpe_vs_pretrain"] == 0
    assert rows.loc[("simplebaseline", "upper"), "mpjpe_vs_pretrain"] == pytest.approx(
        50.5 / 80.5 - 1)
    assert pd.isna(rows.loc[("copy_2d", "baseline"), "mpjpe_vs_pretrain"])
    assert rows.loc[("simplebaseline", "upper"), "n"] == 2
    low, high = rows.loc[("simplebaseline", "upper"), ["mpjpe_ci_low", "mpjpe_ci_high"]]
    assert low < 50.5 < high  # the 95% CI over the two seeds
    assert {"pa_mpjpe", "pa_mpjpe_ci_low", "pa_mpjpe_ci_high"} <= set(frame.columns)


def test_reproduce_publishes_the_claim_summary(tmp_path, fake_fit, capsys):
    claim = tmp_path / "toy.yaml"
    claim.write_text("claim: b beats a\nbase: [experiment=demo, model=simplebaseline]\n"
                     "runs:\n  a: {overrides: [regime=supervised]}\n"
                     "  b: {init_from: a, overrides: [regime=supervised]}\n"
                     "comparisons: [{better: b, worse: a}]\n")
    tables = tmp_path / "tables"
    argv = ["reproduce", str(claim), "--seeds", "3", "--out", str(tmp_path / "out"),
            "--tables-dir", str(tables)]
    assert main(argv) == 0
    assert f"published: {tables / 'claim-toy.md'}" in capsys.readouterr().out
    text, frame = _check_header(tables / "claim-toy", argv)
    assert (tmp_path / "out" / "toy" / "toy.md").read_text().strip() in text
    summary = json.loads((tmp_path / "out" / "toy" / "toy.json").read_text())
    run = frame[frame["kind"] == "run"].set_index("name")
    assert run.loc["b", "mpjpe"] == pytest.approx(summary["runs"]["b"]["mpjpe"][0])
    assert run.loc["b", "mpjpe_ci_half"] == pytest.approx(summary["runs"]["b"]["mpjpe"][1])
    assert run.loc["a", "x_copy_2d"] == pytest.approx(summary["gates"]["a"]["ratio"])
    assert run.loc["a", "copy_2d"] == pytest.approx(151.0)  # mean over seeds 0..2
    (test,) = summary["comparisons"]
    cmp = frame[frame["kind"] == "comparison"].iloc[0]
    assert (cmp["better"], cmp["worse"], cmp["n"]) == ("b", "a", 3)
    assert cmp["gain"] == pytest.approx(test["gain"]) and cmp["p"] == pytest.approx(test["p"])
    assert (cmp["gain_ci_low"], cmp["gain_ci_high"]) == pytest.approx(tuple(test["ci"]))
    assert (cmp["better_x_copy_2d"], cmp["worse_x_copy_2d"]) == pytest.approx(
        (summary["gates"]["b"]["ratio"], summary["gates"]["a"]["ratio"]))
    assert frame[frame["kind"] == "claim"]["verdict"].tolist() == [summary["verdict"]]


def _records(results, values):
    for i, (lifter, seed, mpjpe) in enumerate(values):
        write_record(RunRecord(
            run_id=f"r{i}", kind="test", created="2026-12-01T00:00:00+00:00",
            lifter={"name": lifter, "size": "tiny", "params": 1}, regime={"name": "supervised"},
            seed=seed, protocol=PROTOCOL, metrics={"mpjpe": mpjpe}), results)


def test_table_publish(tmp_path, capsys):
    results = tmp_path / "results"
    _records(results, [("simplebaseline", 0, 50.0), ("simplebaseline", 1, 52.0),
                       ("canonpose", 0, 60.0)])
    tables = tmp_path / "tables"
    argv = ["table", "--results", str(results), "--publish", "in-domain", "--tables-dir",
            str(tables)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert f"published: {tables / 'in-domain.md'}" in captured.err  # stdout: the table only
    text, frame = _check_header(tables / "in-domain", argv)
    assert captured.out.strip() in text  # the markdown it prints
    assert sorted(frame["lifter"].str.split().str[0]) == ["canonpose", "simplebaseline"]
    assert frame.set_index("n")["mpjpe"][2] == pytest.approx(51.0)
    assert main(["table", "--results", str(results), "--format", "csv"]) == 0
    assert len(pd.read_csv(io.StringIO(capsys.readouterr().out))) == len(frame)
    # a bad name fails before anything is written
    assert main(["table", "--results", str(results), "--publish", "../x", "--tables-dir",
                 str(tmp_path / "bad")]) == 2
    assert "table name" in capsys.readouterr().err and not (tmp_path / "bad").exists()
    # so does a folder that cannot be made
    (tmp_path / "file").write_text("")
    assert main(["table", "--results", str(results), "--publish", "x", "--tables-dir",
                 str(tmp_path / "file" / "tables")]) == 2
    assert "--tables-dir" in capsys.readouterr().err


def test_perf_publishes_the_returned_figures(tmp_path, capsys):
    tables = tmp_path / "tables"
    argv = ["perf", "metrics", "--poses", "300", "--loop-poses", "30", "--repeats", "1",
            "--json", str(tmp_path / "m.json"), "--tables-dir", str(tables)]
    assert main(argv) == 0
    assert f"published: {tables / 'perf-metrics.md'}" in capsys.readouterr().out
    text, frame = _check_header(tables / "perf-metrics", argv)
    figures = json.loads((tmp_path / "m.json").read_text())
    assert list(frame.columns) == ["table", "row", "column", "value"]
    values = frame.set_index("row")["value"]
    assert float(values["pa_mpjpe_mm"]) == pytest.approx(figures["pa_mpjpe_mm"])
    assert float(values["ours_s"]) == pytest.approx(figures["ours_s"])
    assert "| pa_mpjpe_mm |" in text


def test_perf_all_publishes_every_benchmark_by_one_path(tmp_path, monkeypatch, capsys):
    def module(name, figures, in_all=True):
        return types.SimpleNamespace(NAME=name, HELP=f"{name} help", IN_ALL=in_all,
                                     add_arguments=lambda p: None, run=lambda a: figures)

    fakes = {"one": module("one", {"rows": [{"model": "x", "ms": 1.5}], "pass": True}),
             "two": module("two", {"lifters": {"a": {"raw_mm": 2.0}}, "steps": 3}),
             "long": module("long", {"x": 1}, in_all=False)}
    monkeypatch.setattr("liftbench.bench.commands.perf.benchmark_modules", lambda: fakes)
    assert main(["perf", "all", "--tables-dir", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "perf-one.csv", "perf-one.md", "perf-two.csv", "perf-two.md"]
    _, frame = _check_header(tmp_path / "perf-two", ["perf", "all", "--tables-dir",
                                                     str(tmp_path)])
    assert frame.values.tolist() == [["figures", "steps", "value", 3],
                                     ["lifters", "a", "raw_mm", 2.0]]
    assert "two help" in (tmp_path / "perf-two.md").read_text()


def test_returned_figures_become_tables_by_their_shape():
    result = {
        "model": "m", "load": [0.5, 0.25],
        "rows": [{"model": "a", "ms": 1.0, "round_ms": [1.0, 2.0]}, {"model": "b", "error": "x"}],
        "lifters": {"a": {"raw_mm": 1.0, "z": {"mm": 2.0}}, "b": {"raw_mm": 3.0}},
        "gmm": {"test": {"mpjpe": 1.0}, "params": 2}, "main": {"test": {"mpjpe": 3.0}, "params": 2},
        "timing": {"seconds": 0.5, "pass": True},
    }
    tables = {title: (columns, rows) for title, columns, rows in result_tables(result)}
    assert list(tables) == ["figures", "rows", "lifters", "gmm, main"]
    assert tables["figures"][1] == [["model", "m"], ["load", [0.5, 0.25]],
                                    ["timing/seconds", 0.5], ["timing/pass", True]]
    assert tables["rows"] == (["row", "model", "ms", "round_ms", "error"],
                              [["0", "a", 1.0, [1.0, 2.0], None], ["1", "b", None, None, "x"]])
    assert tables["lifters"][0] == ["row", "raw_mm", "z/mm"]
    assert tables["gmm, main"][1] == [["gmm", 1.0, 2], ["main", 3.0, 2]]
    cells = long_rows(result_tables(result))
    assert ["rows", "0", "round_ms", "[1.0, 2.0]"] in cells  # lists as JSON in the CSV
    assert not [c for c in cells if c[3] is None or (isinstance(c[3], float) and math.isnan(
        c[3]))]
