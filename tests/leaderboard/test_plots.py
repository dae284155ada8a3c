import copy

import numpy as np
import pytest
from matplotlib.image import imread

from liftbench.bench.cli import main
from liftbench.leaderboard import plots
from liftbench.leaderboard.frames import records_frames, reported_frames
from liftbench.leaderboard.records import write_record
from liftbench.leaderboard.reported import load_reported
from liftbench.leaderboard.tables import build_table

from .test_tables import fixed_records

PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)


def drawn(path):
    """The image exists, is a real raster, and is not blank."""
    img = imread(path)
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
    return float((img[..., :3] < 0.5).mean())


def test_per_action_bars(tmp_path):
    table = build_table(*records_frames(fixed_records()), by="action")
    assert drawn(plots.plot_per_action(table, tmp_path / "a.png")) > 0.005
    paper = build_table(*reported_frames(load_reported("kasportsformer_t2")), by="action")
    out = plots.plot_per_action(paper, tmp_path / "sub" / "kas.svg")
    assert out.read_text().count("<svg") == 1
    with pytest.raises(ValueError, match="per-action table"):
        plots.plot_per_action(build_table(*records_frames(fixed_records())), tmp_path / "x.png")


def test_sweep_curve(tmp_path):
    records = []
    for w in (0.1, 0.3, 1.0):
        for seed in range(2):
            r = copy.deepcopy(fixed_records()[0])
            r.run_id = f"s{w}-{seed}"
            r.regime["loss_weights"] = {"w_con": w}
            r.metrics["mpjpe"] = 50 + 10 * abs(w - 0.3) + seed
            r.sweep = {"id": "local", "trial": seed, "params": {"regime.loss.w_con": w}}
            records.append(r)
    runs, _ = records_frames(records)
    assert plots.sweep_column(runs, "regime.loss.w_con") == "param.regime.loss.w_con"
    assert plots.sweep_column(runs.drop(columns=["param.regime.loss.w_con"]),
                              "regime.loss.w_con") == "w.w_con"
    assert drawn(plots.plot_sweep(runs, "w_con", tmp_path / "s.png", logx=True)) > 0.002
    with pytest.raises(ValueError, match="no swept values"):
        plots.plot_sweep(runs, "regime.loss.w_nope", tmp_path / "x.png")


def test_iterations(tmp_path):
    a, b = copy.deepcopy(fixed_records()[:2])
    a.extra["iterations"] = [{"iteration": i, "pa_mpjpe_mono": 80.0 - 5 * i,
                              "rot_err_deg": 2.0 / (i + 1)} for i in range(4)]
    b.extra["iterations"] = {"pa_mpjpe_mono": [81.0, 70.0, 66.0], "note": "x"}
    c = fixed_records()[2]
    c.metrics.update({"iter0/pa_mpjpe_multi": 60.0, "iter1/pa_mpjpe_multi": 52.0,
                      "iter10/rot_deg": 0.5})
    frame = plots.iterations_frame([a, b, c, fixed_records()[3]])
    assert set(frame["run_id"]) == {"a0", "a1", "a2"}
    multi = frame[frame["run_id"] == "a2"].sort_values("iteration")
    assert list(zip(multi["iteration"], multi["metric"], multi["value"])) == [
        (0, "pa_mpjpe_multi", 60.0), (1, "pa_mpjpe_multi", 52.0), (10, "rot_deg", 0.5)]
    mono_b = frame[(frame["run_id"] == "a1") & (frame["metric"] == "pa_mpjpe_mono")]
    assert list(mono_b["iteration"]) == [0, 1, 2] and list(mono_b["value"]) == [81, 70, 66]
    assert drawn(plots.plot_iterations(frame, tmp_path / "i.png")) > 0.002
    with pytest.raises(ValueError, match="no per-iteration values for"):
        plots.plot_iterations(frame, tmp_path / "i.png", metrics=["spa_mpjpe"])
    a.extra["iterations"] = 3
    with pytest.raises(ValueError, match="list of dicts"):
        plots.iterations_frame([a])


def test_skeleton_overlay_checks(tmp_path):
    rng = np.random.default_rng(0)
    gt = rng.normal(size=(5, 17, 3)) * 300
    pred = gt + rng.normal(size=gt.shape) * 20
    assert drawn(plots.plot_skeleton_overlay(pred, gt, PARENTS, tmp_path / "o.png")) > 0.002
    plots.plot_skeleton_overlay(pred[0], gt[0], PARENTS, tmp_path / "o1.png", frame=0)
    with pytest.raises(ValueError, match="same shape"):
        plots.plot_skeleton_overlay(pred[:, :16], gt, PARENTS, tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"\(T, J, 3\)"):
        plots.plot_skeleton_overlay(pred[..., :2], gt[..., :2], PARENTS, tmp_path / "x.png")
    with pytest.raises(ValueError, match="parents"):
        plots.plot_skeleton_overlay(pred, gt, PARENTS[:16], tmp_path / "x.png")
    with pytest.raises(ValueError, match="frame"):
        plots.plot_skeleton_overlay(pred, gt, PARENTS, tmp_path / "x.png", frame=9)


def test_plot_cli(tmp_path, capsys):
    for r in fixed_records():
        write_record(r, tmp_path / "results")
    assert main(["plot", "actions", "--results", str(tmp_path / "results"), "--regime",
                 "supervised", "--out", str(tmp_path / "a.png")]) == 0
    assert drawn(tmp_path / "a.png") > 0.002
    gt = np.zeros((3, 17, 3))
    gt[:, :, 1] = -np.arange(17) * 50
    np.savez(tmp_path / "p.npz", pred=gt + 10.0, gt=gt)
    assert main(["plot", "overlay", "--npz", str(tmp_path / "p.npz"), "--out",
                 str(tmp_path / "o.png")]) == 0
    assert main(["plot", "sweep", "--results", str(tmp_path / "results"),
                 "--out", str(tmp_path / "s.png")]) == 2
    assert "needs --param" in capsys.readouterr().err
