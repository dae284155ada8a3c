import re
from pathlib import Path

import pytest

from liftbench.leaderboard.reported import (
    KNOWN_METRICS,
    PROTOCOL_FIELDS,
    list_tables,
    load_reported,
    load_reported_file,
)

PAPERS = Path(__file__).resolve().parents[2] / "../shared/papers"
PAPER_FILES = {
    "suzuki": "000_77fc2ccd023871c0.txt",
    "ingwersen": "001_58ea09f8e1e17853.txt",
    "kasportsformer": "002_53039cf1050c2fd2.txt",
    "cvsf": "003_cb2fd773cf6b0f9a.txt",
    "solopose": "004_3627a660d54735e2.txt",
}


@pytest.fixture(scope="module")
def papers():
    if not PAPERS.is_dir():
        pytest.skip(f"paper texts not found at {PAPERS}")
    return {k: (PAPERS / v).read_text() for k, v in PAPER_FILES.items()}


def test_every_requested_table_is_transcribed():
    counts = {t["id"]: t["rows"] for t in list_tables()}
    assert counts == {
        "kasportsformer_t1": 20, "kasportsformer_t2": 20, "kasportsformer_t3": 20,
        "ingwersen_t1": 7, "ingwersen_t2": 12, "suzuki_t1": 4,
        "cvsf_t3": 12, "cvsf_t4": 9, "cvsf_t5": 4, "solopose_t2": 14,
    }


def test_rows_carry_protocol_and_known_metrics():
    rows = load_reported()
    assert len({r.id for r in rows}) == len(rows)
    for r in rows:
        assert set(r.protocol) == set(PROTOCOL_FIELDS)
        assert r.protocol["dataset"], r.id
        assert set(r.metrics) <= set(KNOWN_METRICS)
        assert r.metrics or r.actions
        assert r.source_label.startswith("reported: ")


def test_spot_values():
    t1 = {(r.method, r.protocol["source_2d"]): r for r in load_reported("kasportsformer_t1")}
    assert t1["KASportsFormer", "det:HRNet"].metrics == {"mpjpe": 58.0, "pa_mpjpe": 44.3}
    assert t1["MotionAGFormer-L", "gt"].metrics == {"mpjpe": 31.3, "pa_mpjpe": 29.3}
    t2 = {(r.method, r.protocol["source_2d"]): r for r in load_reported("kasportsformer_t2")}
    assert t2["KASportsFormer", "det:HRNet"].actions["mpjpe"]["soccer"] == 57.0
    ing = load_reported("ingwersen_t1")[-1]
    assert ing.metrics == {"mpjpe": 36.2, "pa_mpjpe": 22.8}
    assert ing.extra["loss_weights"]["w_con"] == 0.3
    suzuki = load_reported("suzuki")
    assert [r.metrics.get("spa_mpjpe") for r in suzuki] == [None, 123.19, None, 98.99]
    cvsf = {r.method: r for r in load_reported("cvsf_t5")}
    assert cvsf["CVSF (S1+S2)"].metrics == {"n_mpjpe": 115.2, "pa_mpjpe": 78.8, "n_pck": 72.4}
    solo = [r for r in load_reported("solopose") if r.method == "SoloPose"]
    assert {r.protocol["dataset"]: r.metrics["mpjpe"] for r in solo} == {
        "Humans7.1M": 22.7, "Human3.6M": 26.0}


def _number_pattern(value: float) -> str:
    text = repr(float(value))
    whole, frac = text.split(".")
    frac = frac.rstrip("0")
    body = re.escape(whole) + (r"\." + re.escape(frac) + "0*" if frac else r"(?:\.0+)?")
    return r"(?<![\d.])" + body + r"(?!\d|\.\d)"


def test_numbers_match_the_paper_text(papers):
    """Every row's numbers appear together on one line of its paper (catches typos)."""
    for r in load_reported():
        values = list(r.metrics.values()) + [v for per in r.actions.values() for v in
                                             per.values()]
        patterns = [_number_pattern(v) for v in values]
        lines = papers[r.paper].splitlines()
        assert any(all(re.search(p, line) for p in patterns) for line in lines), (
            f"{r.id} {r.method}: {values} not found on one line of the paper")


def test_number_pattern_is_strict():
    assert re.search(_number_pattern(74.9), "x 74.90 y")
    assert not re.search(_number_pattern(5.8), "45.8")
    assert not re.search(_number_pattern(42.0), "42.2")
    assert re.search(_number_pattern(259), "259\t132")


def test_filters():
    assert {r.table_id for r in load_reported(["cvsf_t3", "suzuki"])} == {"cvsf_t3", "suzuki_t1"}
    assert {r.paper for r in load_reported(paper="solopose")} == {"solopose"}
    with pytest.raises(ValueError, match="unknown reported table"):
        load_reported("kasportsformer_t9")


@pytest.mark.parametrize("row, match", [
    ("{method: X, metrics: {mpjpe: 1.0}}", "protocol fields"),
    ("{method: X, dataset: D, split: null, source_2d: null, frames: null, stride: null, "
     "flip_tta: null, joints: null, averaging: null, metrics: {p1: 1.0}}", "unknown metric"),
    ("{method: X, dataset: D, split: null, source_2d: null, frames: null, stride: null, "
     "flip_tta: null, joints: null, averaging: null, metrics: {mpjpe: fast}}", "finite number"),
    ("{method: X, dataset: D, split: null, source_2d: null, frames: null, stride: null, "
     "flip_tta: null, joints: null, averaging: null}", "metrics or actions"),
])
def test_bad_rows_named(tmp_path, row, match):
    path = tmp_path / "bad.yaml"
    path.write_text(f"paper: p\ntables:\n  - id: p_t1\n    table: T1\n    rows:\n      - {row}\n")
    with pytest.raises(ValueError, match=match) as info:
        load_reported_file(path)
    assert "bad.yaml p_t1 row 0" in str(info.value)
