import json
import math
import subprocess
import sys

import pytest

from liftbench.leaderboard.records import (
    SCHEMA_VERSION,
    RunRecord,
    read_record,
    read_records,
    write_record,
)


def make(run_id="r1", **kw):
    base = dict(
        run_id=run_id,
        kind="test",
        created="2026-11-22T13:00:00+00:00",
        lifter={"name": "motionagformer_xs", "size": "tiny", "params": 10},
        regime={"name": "supervised", "loss_weights": {"w_pos": 1.0}},
        protocol={
            "dataset": "synthetic", "split": "daily->sports", "source_2d": "gt", "frames": 27,
            "stride": 27, "flip_tta": True, "joints_evaluated": list(range(17)),
            "averaging": "frame",
        },
        metrics={"mpjpe": 41.5, "pa_mpjpe": 30.0},
        groups={"action": {"kick": {"mpjpe": 50.0}}},
    )
    base.update(kw)
    return RunRecord(**base)


def test_round_trip(tmp_path):
    rec = make()
    path = write_record(rec, tmp_path)
    assert path.name == "r1.json"
    back = read_record(path)
    assert back == rec
    assert json.loads(path.read_text())["schema_version"] == SCHEMA_VERSION


def test_nan_metric_stored_as_null(tmp_path):
    path = write_record(make(metrics={"mpjpe": math.nan}), tmp_path)
    assert json.loads(path.read_text())["metrics"]["mpjpe"] is None
    assert math.isnan(read_record(path).metrics["mpjpe"])


def test_rewrite_replaces(tmp_path):
    write_record(make(metrics={"mpjpe": 1.0}), tmp_path)
    write_record(make(metrics={"mpjpe": 2.0}), tmp_path)
    recs = read_records(tmp_path)
    assert len(recs) == 1 and recs[0].metrics["mpjpe"] == 2.0


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"run_id": "../x"}, "run_id"),
        ({"kind": "train"}, "kind"),
        ({"protocol": {"dataset": "x"}}, "protocol is missing"),
        ({"metrics": {"mpjpe": "1"}}, "must be a number"),
    ],
)
def test_validation(kw, match):
    with pytest.raises(ValueError, match=match):
        make(**kw)


def test_bad_file_named(tmp_path):
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(ValueError, match="broken.json"):
        read_records(tmp_path)
    with pytest.warns(UserWarning):
        assert read_records(tmp_path, strict=False) == []


WRITER = """
import sys
from liftbench.leaderboard.records import RunRecord, write_record
root, i = sys.argv[1], int(sys.argv[2])
proto = dict(dataset="synthetic", split="s", source_2d="gt", frames=27, stride=27,
             flip_tta=True, joints_evaluated=list(range(17)), averaging="frame")
for k in range(20):
    rec = RunRecord(run_id=f"w{i}-{k}", kind="test", created="2026-11-22T13:00:00+00:00",
                    lifter={"name": "x"}, regime={"name": "supervised"}, protocol=proto,
                    metrics={"mpjpe": float(i * 100 + k)})
    write_record(rec, root)
"""


def test_concurrent_writers(tmp_path):
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(i)]) for i in range(4)
    ]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    recs = read_records(tmp_path)
    assert len(recs) == 80
    assert not list(tmp_path.glob(".*tmp"))
    assert sorted(r.metrics["mpjpe"] for r in recs) == sorted(
        float(i * 100 + k) for i in range(4) for k in range(20)
    )
