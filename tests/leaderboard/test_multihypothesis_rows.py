"""Multi-hypothesis (diffusion) records form their own protocol: never ranked with single poses."""

from __future__ import annotations

from liftbench.leaderboard.frames import records_frames
from liftbench.leaderboard.records import RunRecord
from liftbench.leaderboard.tables import build_table

PROTO = dict(dataset="synthetic", split="daily->sports", source_2d="gt", frames=27, stride=27,
             flip_tta=True, joints_evaluated=list(range(17)), averaging="frame",
             scale="2.5D x factor")


def _rec(run_id: str, lifter: str, regime: str, mpjpe: float, **extra: object) -> RunRecord:
    metrics = {"mpjpe": mpjpe, **extra.pop("metrics", {})}  # type: ignore[dict-item]
    return RunRecord(run_id=run_id, kind="fit", created="2026-11-22T13:00:00+00:00",
                     lifter={"name": lifter, "size": "tiny"}, regime={"name": regime},
                     protocol={**PROTO, **extra}, metrics=metrics, seed=0)


def test_diffusion_rows_are_a_protocol_of_their_own():
    records = [
        _rec("a", "motionagformer_xs", "supervised", 50.0),
        _rec("b", "videopose3d_27", "supervised", 60.0),
        # lowest MPJPE, but the mean of 5 hypotheses, with oracle bounds beside it
        _rec("c", "d3dp", "diffusion", 40.0, hypotheses="H=5, K=5, p_agg",
             metrics={"mpjpe_p_agg": 40.0, "mpjpe_j_best": 30.0}),
    ]
    runs, groups = records_frames(records)
    assert list(runs["hypotheses"]) == [1, 1, "H=5, K=5, p_agg"]
    table = build_table(runs, groups)
    rows = {r.lifter.split()[0]: r for r in table.rows}
    assert rows["motionagformer_xs"].tag == rows["videopose3d_27"].tag == "P1"
    assert rows["d3dp"].tag == "P2" and rows["d3dp"].differs == ["hypotheses"]
    assert rows["motionagformer_xs"].marks["mpjpe"] == 1 and rows["d3dp"].marks == {}
    notes = "\n".join(table.notes())
    assert "hypotheses=H=5, K=5, p_agg" in notes
    assert "hypotheses=1" not in notes  # single-pose protocols do not name it
    # oracle columns only on request, and only multi-hypothesis rows have them
    oracle = build_table(runs, groups, metrics=["mpjpe_j_best"])
    assert [r.lifter for r in oracle.rows if r.cells.get("mpjpe_j_best")] == ["d3dp (tiny)"]
    assert "MPJPE J-Best (oracle)" in oracle.render("md")
