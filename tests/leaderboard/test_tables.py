import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from liftbench.leaderboard import records as records_module
from liftbench.leaderboard.frames import concat_frames, filter_runs, records_frames, reported_frames
from liftbench.leaderboard.records import RunRecord, read_records, write_record
from liftbench.leaderboard.reported import load_reported
from liftbench.leaderboard.stats import bootstrap_ci, paired_test, sign_flip_pvalue
from liftbench.leaderboard.tables import build_table, compare_rows

GOLDEN = Path(__file__).parent / "golden"
PROTO = dict(dataset="synthetic", split="daily->sports", source_2d="gt", frames=27, stride=27,
             flip_tta=True, joints_evaluated=list(range(17)), averaging="frame",
             scale="2.5D x factor")


def rec(run_id, lifter, regime, seed, mpjpe, pa, actions, **proto):
    return RunRecord(
        run_id=run_id, kind="fit", created=f"2026-11-22T13:00:0{seed}+00:00",
        lifter={"name": lifter, "size": "tiny", "params": 10},
        regime={"name": regime, "loss_weights": {"w_pos": 1.0}},
        protocol={**PROTO, **proto}, metrics={"mpjpe": mpjpe, "pa_mpjpe": pa, "pck": 100 - mpjpe},
        groups={"action": {a: {"mpjpe": v, "pa_mpjpe": v * 0.6} for a, v in actions.items()}},
        seed=seed,
    )


def fixed_records():
    return [
        rec("a0", "motionagformer_xs", "supervised", 0, 50.0, 30.0, {"kick": 55.0, "run": 45.0}),
        rec("a1", "motionagformer_xs", "supervised", 1, 52.0, 31.0, {"kick": 57.0, "run": 47.0}),
        rec("a2", "motionagformer_xs", "supervised", 2, 54.0, 32.5, {"kick": 60.0, "run": 48.0}),
        rec("b0", "videopose3d_27", "supervised", 0, 61.0, 40.0, {"kick": 70.0, "run": 52.0}),
        rec("b1", "videopose3d_27", "supervised", 1, 63.0, 41.0, {"kick": 72.0, "run": 54.0}),
        rec("b2", "videopose3d_27", "supervised", 2, 65.0, 39.0, {"kick": 74.0, "run": 56.0}),
        rec("c0", "kasportsformer", "consistency", 0, 58.04, 29.0, {"kick": 66.0, "run": 50.1}),
        rec("d0", "kasportsformer", "supervised", 0, 40.0, 20.0, {"kick": 44.0, "run": 36.0},
            source_2d="det:synthetic-hard"),
    ]


@pytest.fixture
def frames():
    return records_frames(fixed_records())


def test_golden_markdown_and_latex(frames):
    table = build_table(*frames, title="Synthetic daily -> sports")
    assert table.render("md") == (GOLDEN / "table.md").read_text()
    assert table.render("latex") == (GOLDEN / "table.tex").read_text()
    by_action = build_table(*frames, by="action", metric="mpjpe")
    assert by_action.render("md") == (GOLDEN / "table_by_action.md").read_text()


def test_marks_and_protocol_groups(frames):
    table = build_table(*frames)
    rows = {r.label: r for r in table.rows}
    a = rows["motionagformer_xs (tiny) · supervised"]
    b = rows["videopose3d_27 (tiny) · supervised"]
    c = rows["kasportsformer (tiny) · consistency"]
    d = rows["kasportsformer (tiny) · supervised"]
    assert a.marks["mpjpe"] == 1 and c.marks["mpjpe"] == 2 and "mpjpe" not in b.marks
    assert c.marks["pa_mpjpe"] == 1 and a.marks["pa_mpjpe"] == 2
    assert a.marks["pck"] == 1  # higher is better
    # d has the lowest error but another 2D source: flagged and not ranked against P1
    assert d.tag == "P2" and d.differs == ["2D"] and d.marks == {}
    assert [r.tag for r in table.rows] == ["P1", "P1", "P1", "P2"]
    assert a.cells["mpjpe"].mean == pytest.approx(52.0) and a.cells["mpjpe"].n == 3
    assert a.cells["mpjpe"].low < 52.0 < a.cells["mpjpe"].high


def test_centre_frame_and_other_joint_sets_are_other_protocols():
    records = [*fixed_records()[:3],
               rec("p0", "pstmo", "supervised", 0, 30.0, 20.0, {"kick": 30.0}, output="centre"),
               rec("q0", "mylifter", "supervised", 0, 31.0, 20.0, {"kick": 31.0},
                   joint_set="coco17")]
    table = build_table(*records_frames(records))
    rows = {r.label: r for r in table.rows}
    p, q = rows["pstmo (tiny) · supervised"], rows["mylifter (tiny) · supervised"]
    assert p.differs == ["frames scored"] and p.marks == {} and p.tag != "P1"
    assert q.differs == ["joint set"] and q.marks == {} and q.tag not in ("P1", p.tag)
    notes = "\n".join(table.notes())
    assert "frames scored=centre" in notes and "joint set=coco17" in notes
    # an older record without the fields is the default protocol (seq2seq, H36M-17)
    assert rows["motionagformer_xs (tiny) · supervised"].tag == "P1"


def test_visible_ties_share_the_mark(frames):
    runs, groups = frames
    runs = runs.copy()
    runs.loc[runs["run_id"] == "c0", "mpjpe"] = 52.04  # shows as 52.0, like a's mean
    table = build_table(runs, groups, ci="none")
    rows = {r.label: r for r in table.rows}
    assert rows["motionagformer_xs (tiny) · supervised"].marks["mpjpe"] == 1
    assert rows["kasportsformer (tiny) · consistency"].marks["mpjpe"] == 1
    assert rows["videopose3d_27 (tiny) · supervised"].marks["mpjpe"] == 2


def test_html_escapes_user_strings(frames):
    records = fixed_records()
    records[0].lifter["name"] = "<script>alert(1)</script>"
    records[0].regime["name"] = 'a"&b'
    out = build_table(*records_frames(records)).render("html")
    assert "<script>" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "a&quot;&amp;b" in out
    assert out.count("<table") == 1 and "<strong>" in out and "<u>" in out


def test_latex_escapes_specials():
    records = fixed_records()
    records[0].lifter["name"] = "my_lifter&50%#"
    out = build_table(*records_frames(records)).render("latex")
    assert r"my\_lifter\&50\%\#" in out
    assert r"\toprule" in out and r"\bottomrule" in out


def test_csv_has_exact_numbers(frames):
    csv = build_table(*frames).render("csv")
    df = pd.read_csv(io.StringIO(csv))
    a = df[df["lifter"] == "motionagformer_xs (tiny)"].iloc[0]
    assert a["mpjpe"] == pytest.approx(52.0)
    assert a["mpjpe_mark"] == "best" and a["n"] == 3
    assert a["mpjpe_ci_low"] < 52.0 < a["mpjpe_ci_high"]
    d = df[df["protocol"] == "P2"].iloc[0]
    assert d["protocol_differs"] == "2D" and d["protocol.source_2d"] == "det:synthetic-hard"
    assert len(df) == 4


def test_ci_over_groups_is_action_averaged(frames):
    table = build_table(*frames, ci="groups", metrics=["mpjpe"])
    a = table.row("motionagformer_xs (tiny) · supervised")
    kick, run = np.mean([55, 57, 60]), np.mean([45, 47, 48])
    assert a.cells["mpjpe"].mean == pytest.approx((kick + run) / 2)
    assert a.protocol["averaging"] == "action"
    with pytest.raises(ValueError, match="cannot be used with by='action'"):
        build_table(*frames, ci="groups", by="action")


def test_filters(frames):
    runs, groups = frames
    kept, g = filter_runs(runs, groups, regime="Consistency")
    assert list(kept["run_id"]) == ["c0"] and set(g["run_id"]) == {"c0"}
    kept, _ = filter_runs(runs, None, source_2d=["gt"], frames=27, lifter="videopose3d_27")
    assert list(kept["run_id"]) == ["b0", "b1", "b2"]
    with pytest.raises(ValueError, match="unknown filter"):
        filter_runs(runs, None, colour="red")
    empty, _ = filter_runs(runs, None, dataset="SportsPose")
    with pytest.raises(ValueError, match="no runs"):
        build_table(empty)


def test_reported_rows_beside_measured(frames):
    measured = frames
    rep = reported_frames(load_reported("kasportsformer_t1"))
    table = build_table(*concat_frames(measured, rep), metrics=["mpjpe", "pa_mpjpe"])
    ks = [r for r in table.rows if r.lifter == "KASportsFormer"]
    assert {r.protocol["source_2d"] for r in ks} == {"det:HRNet", "gt"}
    for r in ks:  # the paper's bold entries are bold here too (ranked within its protocol)
        assert r.marks == {"mpjpe": 1, "pa_mpjpe": 1}
        assert r.source == "reported: KASportsFormer Table 1"
        assert "dataset" in r.differs
    mag_l = [r for r in table.rows if r.lifter == "MotionAGFormer-L"
             and r.protocol["source_2d"] == "det:HRNet"][0]
    assert mag_l.marks == {"mpjpe": 2}  # underlined in the paper
    md = table.render("md")
    assert "reported: KASportsFormer Table 1" in md and "measured here" in md
    assert "≠ dataset" in md


def test_paired_test_rows(frames):
    runs, groups = frames
    table = build_table(runs, groups)
    res = compare_rows(table, runs, groups, "videopose3d_27", "motionagformer_xs",
                       metric="mpjpe", over="seed")
    assert res.units == ["0", "1", "2"] and res.mean_diff == pytest.approx(11.0)
    assert res.p_value == pytest.approx(0.25)  # all 3 diffs positive: 2 of 8 sign patterns
    assert not res.protocols_differ
    res = compare_rows(table, runs, groups, "videopose3d_27", "kasportsformer (tiny) · super",
                       over="action")
    assert res.protocols_differ and "protocols differ" in res.summary()
    with pytest.raises(ValueError, match="matches 2 rows"):
        table.row("kasportsformer")


def test_sign_flip_and_scipy_agree_on_direction():
    d = [1.2, 0.8, 2.0, 1.5, 0.9, 1.1]
    assert sign_flip_pvalue(d) == pytest.approx(2 / 64)
    for method in ("wilcoxon", "ttest"):
        r = paired_test(dict(enumerate(d)), dict.fromkeys(range(6), 0.0), method=method)
        assert r.p_value < 0.05
    r = paired_test({"x": 1.0, "y": 2.0}, {"x": 1.0, "y": 2.0}, method="wilcoxon")
    assert r.p_value == 1.0 and r.mean_diff == 0.0
    with pytest.raises(ValueError, match=">= 2 shared"):
        paired_test({"x": 1.0}, {"x": 2.0})
    with pytest.raises(ValueError, match="method"):
        paired_test({"x": 1.0}, {"x": 2.0}, method="magic")


def test_bootstrap_ci():
    assert bootstrap_ci([5.0]) == (5.0, 5.0, 5.0)
    m, lo, hi = bootstrap_ci([1.0, 2.0, 3.0, 4.0], seed=1)
    assert m == 2.5 and 1.0 <= lo < 2.5 < hi <= 4.0
    assert bootstrap_ci([1.0, 2.0, 3.0, 4.0], seed=1) == (m, lo, hi)
    assert bootstrap_ci([1.0, np.nan, 3.0])[0] == 2.0
    with pytest.raises(ValueError, match="values"):
        bootstrap_ci([np.nan])
    with pytest.raises(ValueError, match="level"):
        bootstrap_ci([1.0, 2.0], level=95)


def test_read_records_skips_vanished_file(tmp_path, monkeypatch):
    for r in fixed_records()[:3]:
        write_record(r, tmp_path)
    real = records_module.read_record

    def flaky(path):
        if Path(path).name == "a1.json":
            raise FileNotFoundError(path)
        return real(path)

    monkeypatch.setattr(records_module, "read_record", flaky)
    assert [r.run_id for r in read_records(tmp_path)] == ["a0", "a2"]
    (tmp_path / "junk.json").write_text("{")
    with pytest.warns(UserWarning, match="junk.json"):
        read_records(tmp_path, strict=False)
    with pytest.raises(ValueError, match="junk.json"):
        read_records(tmp_path)


WRITER = """
import sys
from liftbench.leaderboard.records import RunRecord, write_record
root, i = sys.argv[1], int(sys.argv[2])
proto = dict(dataset="synthetic", split="s", source_2d="gt", frames=27, stride=27,
             flip_tta=True, joints_evaluated=list(range(17)), averaging="frame",
             scale="2.5D x factor")
for k in range(15):
    write_record(RunRecord(
        run_id=f"w{i}-{k}", kind="fit", created="2026-11-22T13:00:00+00:00",
        lifter={"name": f"lifter{i}", "size": "tiny"}, regime={"name": "supervised"},
        protocol=proto, metrics={"mpjpe": float(i * 100 + k)}, seed=k,
        groups={"action": {"kick": {"mpjpe": float(i * 100 + k)}}}), root)
"""

READER = """
import sys, time
from liftbench.leaderboard.records import read_records
from liftbench.leaderboard.frames import records_frames
from liftbench.leaderboard.tables import build_table
root, seen, reads = sys.argv[1], 0, 0
print("ready", flush=True)
deadline = time.time() + 60
while time.time() < deadline:
    recs = read_records(root)
    assert len(recs) >= seen
    seen = len(recs)
    if recs:
        build_table(*records_frames(recs)).render("md")
    reads += 1
    if seen == 120:
        break
print(seen, reads)
"""


def test_eight_concurrent_writers_and_a_reader(tmp_path):
    reader = subprocess.Popen([sys.executable, "-c", READER, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    assert reader.stdout.readline().strip() == "ready"  # it reads while the writers write
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(i)])
               for i in range(8)]
    assert all(p.wait(timeout=120) == 0 for p in writers)
    out, _ = reader.communicate(timeout=120)
    seen, reads = out.split()
    assert reader.returncode == 0 and seen == "120" and int(reads) >= 1
    recs = read_records(tmp_path)
    assert sorted(r.metrics["mpjpe"] for r in recs) == sorted(
        float(i * 100 + k) for i in range(8) for k in range(15))
    assert not list(tmp_path.glob(".*"))
    table = build_table(*records_frames(recs))
    assert len(table.rows) == 8 and all(len(r.run_ids) == 15 for r in table.rows)


def test_sweep_trials_are_rows_and_seeds_merge():
    records = []
    for lr in (1e-3, 2e-3):
        for seed in (0, 1):
            r = fixed_records()[seed]
            r.run_id = f"lr{lr}-{seed}"
            r.sweep = {"id": "s", "trial": 0, "params": {"regime.optim.lr": lr, "seed": seed}}
            records.append(r)
    table = build_table(*records_frames(records))
    assert sorted(r.label for r in table.rows) == [
        "motionagformer_xs (tiny) · supervised [regime.optim.lr=0.001]",
        "motionagformer_xs (tiny) · supervised [regime.optim.lr=0.002]"]
    assert all(len(r.run_ids) == 2 for r in table.rows)


def test_table_cli(tmp_path, capsys, monkeypatch):
    from liftbench.bench.cli import main

    for r in fixed_records():
        write_record(r, tmp_path / "results")
    res = str(tmp_path / "results")
    assert main(["table", "--results", res, "--source-2d", "gt", "--metrics", "mpjpe",
                 "--compare", "videopose3d_27", "motionagformer_xs", "--over", "seed"]) == 0
    out = capsys.readouterr().out
    assert "| motionagformer_xs (tiny) | supervised | measured here | 3 | P1 | **52.0** ± 2.0 |" \
        in out
    assert "mpjpe diff +11.00" in out and "p = 0.25" in out
    assert main(["table", "--results", res, "-f", "html", "-o", str(tmp_path / "t.html")]) == 0
    assert (tmp_path / "t.html").read_text().startswith('<table class="liftbench">')
    assert "written to" in capsys.readouterr().out
    assert main(["table", "--results", res, "--by", "action", "-f", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("kasportsformer (tiny),")
    monkeypatch.chdir(tmp_path)  # no ./results: reported rows alone
    assert main(["table", "--reported", "--dataset", "WorldPose", "--source-2d", "gt"]) == 0
    out = capsys.readouterr().out
    assert out.count("reported: KASportsFormer Table 3") == 10 and "**8.5**" in out
    assert main(["table", "--list-reported"]) == 0
    assert "kasportsformer_t2" in capsys.readouterr().out
    assert main(["table", "--results", res, "--dataset", "nowhere"]) == 2
    assert "no runs to tabulate" in capsys.readouterr().err


def test_swept_loss_weight_named_once():
    records = []
    for w in (0.1, 0.3):
        r = fixed_records()[0]
        r.run_id, r.regime["loss_weights"] = f"w{w}", {"w_pos": 1.0, "w_con": w}
        r.sweep = {"id": "s", "trial": 0, "params": {"regime.loss.w_con": w}}
        records.append(r)
    labels = sorted(r.label for r in build_table(*records_frames(records)).rows)
    assert labels == ["motionagformer_xs (tiny) · supervised [w_con=0.1]",
                      "motionagformer_xs (tiny) · supervised [w_con=0.3]"]
