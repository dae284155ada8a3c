"""`liftbench fit / test / predict` end to end on a small synthetic capture (tiny lifters, CPU)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from liftbench.bench.cli import main
from liftbench.leaderboard.records import read_records

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("synthcache")


def base_args(cache: Path, out: Path, model: str = "motionagformer_xs") -> list[str]:
    """A small but real run: walk, dance (daily) -> run, kick (sports); 2 subjects, 2 cameras."""
    return [
        f"model={model}", "size=tiny", "data=synthetic",
        "data.kwargs.motions=[walk,dance_a,run,kick]", "data.kwargs.subjects=2",
        "data.kwargs.cameras=2", f"data.kwargs.cache_dir={cache}", "data.batch_size=16",
        f"output_dir={out / 'runs'}", f"results_dir={out / 'results'}",
        "logger=none", "trainer.log_every_n_steps=1",
    ]


def _record(out: Path):
    records = read_records(out / "results")
    assert len(records) == 1, [r.run_id for r in records]
    return records[0]


def test_fit_trains_and_beats_untrained(cache, tmp_path, capsys):
    untrained = tmp_path / "untrained"
    assert main(["fit", *base_args(cache, untrained), "trainer.max_steps=0"]) == 0
    trained = tmp_path / "trained"
    assert main(["fit", *base_args(cache, trained), "trainer.max_epochs=5",
                 "regime.optim.lr=2e-3"]) == 0
    before, after = _record(untrained), _record(trained)
    assert "record:" in capsys.readouterr().out
    assert after.metrics["mpjpe"] < 0.8 * before.metrics["mpjpe"], (before.metrics,
                                                                     after.metrics)
    # the record carries the protocol, the per-action breakdown and the saved config
    assert after.protocol["dataset"] == "synthetic" and after.protocol["frames"] == 27
    assert after.protocol["flip_tta"] is True and after.protocol["split"] == "daily->sports"
    assert set(after.groups["action"]) <= {"run", "kick"}  # test set: held-out sports takes
    assert after.lifter["name"] == "motionagformer_xs" and after.lifter["params"] > 0
    assert after.regime["loss_weights"]["w_vel"] == 20.0
    # the training's cost: CPU seconds of the process, wall seconds, steps run
    cost = after.extra["train"]
    assert cost["steps"] > 0 and cost["epochs"] == 5 and cost["threads"] >= 1
    assert 0 < cost["wall_s"] <= after.wall_time_s and cost["cpu_s"] > 0
    assert "train" not in before.extra or before.extra["train"]["steps"] == 0
    run_dir = trained / "runs" / after.run_id
    assert (run_dir / "config.yaml").is_file()
    assert (run_dir / "checkpoints" / "best.ckpt").is_file()

    # test: evaluates the checkpoint again, same numbers, a second record
    ckpt = run_dir / "checkpoints" / "best.ckpt"
    again = tmp_path / "again"
    assert main(["test", *base_args(cache, again), f"ckpt_path={ckpt}"]) == 0
    rec = _record(again)
    assert rec.kind == "test"
    assert rec.metrics["mpjpe"] == pytest.approx(after.metrics["mpjpe"], abs=1e-4)

    # init_from: a new run starts from the trained weights (no training: same numbers)
    warm = tmp_path / "warm"
    assert main(["fit", *base_args(cache, warm), f"init_from={ckpt}", "trainer.max_steps=0",
                 "data.kwargs.train_on=adapt"]) == 0
    assert _record(warm).metrics["mpjpe"] == pytest.approx(after.metrics["mpjpe"], abs=1e-4)
    assert _record(warm).protocol["train_on"] == "adapt"

    # a checkpoint of another lifter is refused with a clear message
    capsys.readouterr()
    assert main(["test", *base_args(cache, tmp_path / "wrong", model="motionbert"),
                 f"ckpt_path={ckpt}"]) == 2
    assert "trained with lifter 'motionagformer_xs'" in capsys.readouterr().err

    # predict: the checkpoint lifts a take written by `data synth`
    takes = tmp_path / "takes"
    assert main(["data", "synth", "--out", str(takes), "--motions", "kick", "--subjects", "1",
                 "--cameras", "2"]) == 0
    take = sorted(takes.glob("*.npz"))[0]
    gif = tmp_path / "pred.gif"
    assert main(["predict", str(ckpt), str(take), "--out", str(tmp_path / "pred"),
                 "--render", str(gif), "--every", "20"]) == 0
    with np.load(take) as f:
        v, t = f["pose2d"].shape[:2]
    with np.load(tmp_path / "pred.npz") as f:
        pose3d = f["pose3d"]
    assert pose3d.shape == (v, t, 17, 3) and np.isfinite(pose3d).all()
    assert np.abs(pose3d[..., 0, :]).max() == 0.0  # root-relative
    assert json.loads((tmp_path / "pred.json").read_text())["lifter"] == "motionagformer_xs"
    assert gif.stat().st_size > 1000

    # a 2D file with the wrong joint count
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"image_size": [1920, 1080], "keypoints": [[[1, 2, 1]] * 15] * 4}))
    assert main(["predict", str(ckpt), str(bad)]) == 2
    assert "15 joints per frame" in capsys.readouterr().err


def test_unknown_key_and_bad_motion_are_clear_errors(cache, tmp_path, capsys):
    assert main(["fit", *base_args(cache, tmp_path), "regime.loss.w_vell=2"]) == 2
    err = capsys.readouterr().err
    assert "regime.loss.w_vell" in err and "w_vel" in err
    assert main(["fit", *base_args(cache, tmp_path),
                 "data.kwargs.motions=[walk,nope_motion]"]) == 2
    assert "nope_motion" in capsys.readouterr().err


def _wandb_ids(run_dir: Path) -> set[str]:
    return {p.name.rsplit("-", 1)[-1] for p in (run_dir / "wandb").glob("offline-run-*")}


SLOW_LIFTER = """
import time
import torch
from torch import nn
from liftbench.models import Lifter, register_lifter


class SlowMLP(Lifter):
    def __init__(self, hidden: int = 16) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(51, hidden), nn.GELU(), nn.Linear(hidden, 51))

    def forward(self, x):
        if self.training:
            time.sleep(0.4)  # slow steps leave time to kill the run mid-epoch
        b, t, j, _ = x.shape
        return self.net(x.reshape(b, t, j * 3)).reshape(b, t, j, 3)


@register_lifter(paper="test", tiny={"hidden": 16})
def slow_mlp(**kwargs):
    return SlowMLP(**kwargs)
"""


def test_kill_and_resume_keeps_one_record_and_wandb_id(cache, tmp_path):
    """SIGKILL a fit mid-epoch, resume from last.ckpt: one record, the original wandb run id."""
    (tmp_path / "slow_lifter.py").write_text(SLOW_LIFTER)
    args = ["--import", "slow_lifter", "fit", *base_args(cache, tmp_path, model="slow_mlp"),
            "logger=wandb", "trainer.max_epochs=2", "trainer.ckpt_every_n_steps=1",
            "data.batch_size=2"]
    env = {**os.environ, "WANDB_MODE": "offline",
           "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    proc = subprocess.Popen([sys.executable, "-m", "liftbench", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=tmp_path,
                            start_new_session=True)
    deadline = time.time() + 240
    last = None
    while time.time() < deadline and proc.poll() is None:
        found = list((tmp_path / "runs").glob("*/checkpoints/last.ckpt"))
        if found and found[0].stat().st_size > 0:
            time.sleep(1.0)  # a couple more steps, still inside epoch 0
            last = found[0]
            break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert last is not None, proc.stdout.read().decode()[-3000:]
    killed = torch.load(last, map_location="cpu", weights_only=False)
    progress = (killed["epoch"], killed["global_step"])
    assert progress[0] == 0 and progress[1] >= 1, progress  # killed mid-epoch 0
    assert not list((tmp_path / "results").glob("*.json"))  # killed before the record
    run_dir = last.parents[1]
    ids_before = _wandb_ids(run_dir)
    assert len(ids_before) == 1

    done = subprocess.run([sys.executable, "-m", "liftbench", *args,
                           f"ckpt_path={last}"], env=env, capture_output=True, text=True,
                          cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rec = _record(tmp_path)
    assert rec.run_id == run_dir.name
    assert _wandb_ids(run_dir) == ids_before
    assert rec.config["logger"]["name"] == "wandb"
