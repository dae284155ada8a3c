"""Row identity and evaluation scale in tables, on records built the way `fit` builds them."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from liftbench.bench.config import compose
from liftbench.bench.demo import available_stages, run_demo
from liftbench.bench.runner import build_module, make_record, protocol_fields
from liftbench.leaderboard.frames import records_frames
from liftbench.leaderboard.records import read_records, write_record
from liftbench.leaderboard.tables import build_table

DATA = SimpleNamespace(action_names=["all"], frames=27)


def _dm(cfg):
    return SimpleNamespace(protocol=lambda: {
        "dataset": cfg.data.name, "split": cfg.data.kwargs.get("split", "random"),
        "source_2d": "gt", "frames": 27, "stride": 27})


def recording_fit(values):
    """A `fit` that trains nothing but writes the record `run_fit` would (config, protocol)."""

    def fit(cfg):
        module = build_module(cfg, DATA)
        run_id = f"{cfg.run_name}-r{len(values)}"
        mpjpe = 100.0 + len(values)
        values.append(mpjpe)
        record = make_record(cfg, run_id, "fit", module, protocol_fields(cfg, _dm(cfg), module),
                             {"overall": {"mpjpe": mpjpe}, "groups": {}}, 1.0)
        # where `run_fit` keeps the checkpoint its record names
        record.checkpoint = str((Path(cfg.output_dir) / run_id / "checkpoints" / "best.ckpt")
                                .resolve())
        return write_record(record, cfg.results_dir)

    return fit


def test_demo_records_give_one_row_per_stage(tmp_path):
    rows = run_demo(["simplebaseline"], tmp_path, fit=recording_fit([]), seeds=(0, 1))
    stage_of = {}
    for r in rows:
        stage_of[r["record"].stem] = (r["lifter"], r["stage"])
    table = build_table(*records_frames(read_records(tmp_path / "results")), metrics=["mpjpe"])
    cells = [{stage_of[i] for i in row.run_ids} for row in table.rows]
    assert all(len(c) == 1 for c in cells), "a row mixes stages"
    assert sorted(next(iter(c)) for c in cells) == sorted(set(stage_of.values()))
    assert len(table.rows) == len(available_stages()) + 2  # + the two trivial baselines
    assert all(len(row.run_ids) == 2 for row in table.rows)  # the seeds of each stage
    # pretrain and upper are both `supervised` runs of one lifter: labelled by what differs
    supervised = [r for r in table.rows if r.lifter.startswith("simplebaseline")
                  and r.regime == "supervised"]
    assert len(supervised) == 2 and supervised[0].label != supervised[1].label
    upper = next(r for r in supervised if "init_from=(a)" in r.note)
    assert "data.train_on=adapt" in upper.note
    # every adapted stage started from the pretrain row's checkpoints: one mark, one note
    pretrain = next(r for r in supervised if r is not upper)
    adapted = {r.parent_ref for r in table.rows
               if stage_of[r.run_ids[0]][1] not in ("pretrain", "baseline")}
    assert adapted == {"a"} and pretrain.parent_ref == "" and "init_from" not in pretrain.note
    assert table.parents == [("a", f'checkpoints of the runs of row "{pretrain.label}" '
                                   f'(config {pretrain.identity.rpartition(" ")[2]})')]
    assert "- init_from=(a): checkpoints of the runs of row" in table.render("md")


def test_seed_alone_merges_anything_else_splits(tmp_path):
    values = []
    fit = recording_fit(values)
    base = ["model=simplebaseline", "size=tiny", f"results_dir={tmp_path}"]
    for seed in (0, 1, 2):
        fit(compose([*base, f"seed={seed}", f"run_name=a-s{seed}"]))
    fit(compose([*base, "seed=0", "run_name=b", "regime.optim.lr=1e-3"]))
    table = build_table(*records_frames(read_records(tmp_path)), metrics=["mpjpe"])
    assert sorted(len(r.run_ids) for r in table.rows) == [1, 3]
    assert sorted(r.note for r in table.rows) == [" [regime.optim.lr=0.0005]",
                                                  " [regime.optim.lr=0.001]"]


def test_selffusion_and_supervised_rows_are_never_ranked_together(tmp_path):
    values = []
    fit = recording_fit(values)
    for regime in ("supervised", "selffusion", "consistency"):
        fit(compose(["model=simplebaseline", "size=tiny", f"regime={regime}",
                     f"results_dir={tmp_path}", f"run_name={regime}"]))
    table = build_table(*records_frames(read_records(tmp_path)), metrics=["mpjpe"])
    tags = {r.regime: r.tag for r in table.rows}
    assert tags["supervised"] == tags["consistency"] != tags["selffusion"]
    fusion = next(r for r in table.rows if r.regime == "selffusion")
    assert fusion.differs == ["scale"] and fusion.marks == {}
    assert fusion.protocol["scale"].startswith("up to scale")
    assert "scale=2.5D x factor" in table.render("md")
