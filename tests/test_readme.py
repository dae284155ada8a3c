"""The README's set-up lines and its bring-your-own-lifter example, run as a user would."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from liftbench.leaderboard.records import read_records

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def test_readme_opens_with_the_two_setup_commands():
    first_block = re.search(r"```bash\n(.*?)```", README, re.S).group(1).strip().splitlines()
    assert [line.split("#")[0].strip() for line in first_block] == ["make demo", "make test"]
    ci = (REPO / ".ci" / "run").read_text()
    assert "make test" in ci


def _byo_block() -> str:
    tail = README.split("<!-- byo-lifter")[1]
    return re.search(r"```python\n(.*?)```", tail, re.S).group(1)


def test_byo_lifter_example_runs(tmp_path):
    (tmp_path / "my_lifter.py").write_text(_byo_block())
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)]),
           "WANDB_MODE": "disabled"}

    def cli(*args):
        out = subprocess.run([sys.executable, "-m", "liftbench", "--import", "my_lifter", *args],
                             env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
        return out.stdout

    assert "frame_mlp" in cli("models", "--pattern", "frame*", "--no-flops")
    cli("fit", "model=frame_mlp", "size=tiny", "trainer.max_epochs=1",
        "data.kwargs.motions=[walk,run]", "data.kwargs.subjects=2", "data.kwargs.cameras=2",
        f"data.kwargs.cache_dir={tmp_path / 'cache'}", "logger=none")
    (record,) = read_records(tmp_path / "results")
    assert record.lifter["name"] == "frame_mlp" and record.lifter["params"] == 51 * 32 * 2 + 32 + 51
    assert record.metrics["mpjpe"] > 0
