"""2-process CPU DDP (`trainer=ddp_spawn`, gloo) gives the 1-process test metrics.

Same global batches (2 ranks × 4 = 1 × 8, full batches only), float64, no dropout (MotionBERT
tiny), no flip augmentation: the two trainings are the same computation up to the order of
floating-point sums, and the evaluation counts every test clip exactly once on either side.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from liftbench.leaderboard.records import read_records

REPO = Path(__file__).resolve().parents[2]


def _fit(tmp: Path, cache: Path, extra: list[str]) -> dict:
    args = [
        "fit", "model=motionbert", "size=tiny", "data=synthetic",
        "data.kwargs.motions=[walk,dance_a,run]", "data.kwargs.subjects=2",
        "data.kwargs.cameras=2", "data.kwargs.flip=false", f"data.kwargs.cache_dir={cache}",
        "trainer.precision=64-true", "trainer.max_epochs=2", "trainer.limit_train_batches=3",
        "regime.optim.lr=1e-3", f"output_dir={tmp / 'runs'}", f"results_dir={tmp / 'results'}",
        "logger=none", *extra,
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO), "WANDB_MODE": "disabled"}
    done = subprocess.run([sys.executable, "-m", "liftbench", *args], env=env, cwd=tmp,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (record,) = read_records(tmp / "results")
    return record


@pytest.mark.ddp
def test_ddp_spawn_equals_single_process(tmp_path):
    cache = tmp_path / "cache"
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    one = _fit(tmp_path / "one", cache, ["trainer=cpu", "data.batch_size=8"])
    two = _fit(tmp_path / "two", cache, ["trainer=ddp_spawn", "data.batch_size=4"])
    assert one.hardware["world_size"] == 1 and two.hardware["world_size"] == 2
    assert two.hardware["precision"] == one.hardware["precision"] == "64-true"
    for name, value in one.metrics.items():
        assert two.metrics[name] == pytest.approx(value, abs=1e-4), name
    for action, values in one.groups["action"].items():
        for name, value in values.items():
            assert two.groups["action"][action][name] == pytest.approx(value, abs=1e-4)
