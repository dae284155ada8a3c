"""liftbench from a researcher's own project, whose top-level packages share liftbench's names.

The usual layout of a lifting project has `models/`, `losses/`, `datamodules/` and `geometry/`
packages of its own. liftbench installs under one namespace (`liftbench.models`, ...), so
`import liftbench` must never import or shadow them, and `liftbench --import models.mylifter`
must register the project's lifter and train it. Both run as a user would: the installed
console script / interpreter, the project as the working directory, no repository on the path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from liftbench.leaderboard.records import read_records

# Each package of the user's reports on stderr when it is imported.
USER_INIT = 'import sys\nsys.stderr.write("USER PACKAGE IMPORTED: {name}\\n")\nVALUE = "{name}"\n'

MYLIFTER = '''
import torch
from torch import nn

from liftbench.models import Lifter, register_lifter
from models import VALUE  # the project's own package, beside liftbench's

assert VALUE == "models"


class FrameMLP(Lifter):
    """(B, T, 17, 3) normalised 2D + confidence -> (B, T, 17, 3) 2.5D, frame by frame."""

    def __init__(self, hidden: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(51, hidden), nn.GELU(), nn.Linear(hidden, 51))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        b, t, j, _ = x.shape
        return self.net(x.reshape(b, t, j * 3)).reshape(b, t, j, 3)


@register_lifter(paper="a user's own lifter", tiny={"hidden": 24})
def mylifter(**overrides) -> FrameMLP:
    return FrameMLP(**overrides)
'''

PROBE = """
import sys
import liftbench
import liftbench.bench.cli, liftbench.datamodules, liftbench.geometry, liftbench.losses
import liftbench.models
from liftbench.models import create_lifter
create_lifter("simplebaseline", size="tiny")
for name in ("models", "losses", "datamodules", "geometry", "bench", "leaderboard"):
    mod = sys.modules.get(name)
    print(name, "ABSENT" if mod is None else mod.__file__)
"""

USER_PACKAGES = ("models", "losses", "datamodules", "geometry")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "myproject"
    for name in USER_PACKAGES:
        (root / name).mkdir(parents=True)
        (root / name / "__init__.py").write_text(USER_INIT.format(name=name))
    (root / "models" / "mylifter.py").write_text(textwrap.dedent(MYLIFTER))
    return root


def _env() -> dict[str, str]:
    # No repository on the path: only what `pip install` put in the environment.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return {**env, "WANDB_MODE": "disabled"}


def _liftbench_script() -> str:
    script = Path(sys.executable).parent / "liftbench"
    found = str(script) if script.exists() else shutil.which("liftbench")
    if found is None:
        pytest.skip("the liftbench console script is not installed in this environment")
    return found


def test_import_liftbench_imports_nothing_of_the_users(project):
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=project, env=_env(),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "USER PACKAGE IMPORTED" not in out.stderr, out.stderr
    lines = dict(line.split(" ", 1) for line in out.stdout.splitlines())
    assert set(lines.values()) == {"ABSENT"}, lines


def test_user_lifter_from_the_projects_models_package_registers_and_fits(project):
    cli = _liftbench_script()

    def run(*args: str) -> str:
        out = subprocess.run([cli, "--import", "models.mylifter", *args], cwd=project,
                             env=_env(), capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
        return out.stdout + out.stderr

    listed = run("models", "--pattern", "mylifter", "--size", "tiny", "--no-flops")
    assert "mylifter" in listed and "USER PACKAGE IMPORTED: models" in listed
    assert "USER PACKAGE IMPORTED: losses" not in listed
    run("fit", "model=mylifter", "size=tiny", "trainer.max_epochs=1",
        "trainer.limit_train_batches=4", "trainer.limit_val_batches=2",
        "data.kwargs.motions=[walk,run]", "data.kwargs.subjects=2", "data.kwargs.cameras=2",
        f"data.kwargs.cache_dir={project / 'cache'}", "logger=none")
    (record,) = read_records(project / "results")
    assert record.lifter["name"] == "mylifter"
    assert record.lifter["params"] == 51 * 24 + 24 + 24 * 51 + 51
    assert record.metrics["mpjpe"] > 0
