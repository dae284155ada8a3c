"""A newcomer adds a lifter, a dataset and a regime as `docs/extending.md` says, in their project.

The project is a scratch folder outside the repository: one module (`newcomer.py`, the three
classes and their registrations) and a config folder holding only the two new YAML files
(`configs/data/mydata.yaml`, `configs/regime/myregime.yaml`). From that folder the console
commands of the guide run as a user types them (`liftbench --import newcomer --config-dir
configs ...`): the new lifter is listed by `liftbench models`, the three train together with
`liftbench fit` (every other config, the trainer's and the logger's, comes from the packaged
ones), and the run is a row of `liftbench table`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

MODULE = '''
import torch
from torch import nn

from liftbench.bench.regimes.base import LiftingRegime, flatten_views
from liftbench.datamodules.real import RealDataModule
from liftbench.datamodules.registry import register_datamodule
from liftbench.datamodules.synthetic.capture import iter_takes
from liftbench.losses.supervised import loss_mpjpe, loss_velocity
from liftbench.models import Lifter, register_lifter


class FrameMLP(Lifter):
    """Per-frame MLP: (B, T, 17, 3) normalised 2D + confidence -> (B, T, 17, 3) 2.5D."""

    def __init__(self, hidden: int = 1024) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(51, hidden), nn.GELU(), nn.Linear(hidden, 51))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        b, t, j, _ = x.shape
        return self.net(x.reshape(b, t, j * 3)).reshape(b, t, j, 3)


@register_lifter(paper="my own", tiny={"hidden": 32})
def frame_mlp(**overrides) -> FrameMLP:
    return FrameMLP(**overrides)


@register_datamodule("mydata")
class MyDataModule(RealDataModule):
    name = "mydata"
    SPLITS = {"default": {"train": ["S1", "S2"], "test": ["S3"]}}
    default_split = "default"
    how_to = "generated: no files needed"
    needs_root = False

    def read_records(self):
        yield from iter_takes(["walk", "run"], subjects=3, cameras=2, noise="clean")


class MyRegime(LiftingRegime):
    regime_name = "myregime"
    uses_3d_labels = True

    def training_step(self, batch, batch_idx):
        batch = flatten_views(batch)
        pred = self.lift(batch["input"])
        w = self.loss_cfg
        terms = {"mpjpe": loss_mpjpe(pred, batch["target"], batch.get("valid")),
                 "velocity": loss_velocity(pred, batch["target"], batch.get("valid"))}
        terms["loss"] = w["w_pos"] * terms["mpjpe"] + w["w_vel"] * terms["velocity"]
        self.log_train(terms, batch_size=pred.shape[0])
        return terms["loss"]
'''

DATA_YAML = """\
name: mydata
kwargs: {}
batch_size: 16
"""

REGIME_YAML = """\
name: myregime
loss: {w_pos: 1.0, w_vel: 10.0}
optim: {name: adamw, lr: 1.0e-3, weight_decay: 0.01, schedule: exponential, lr_decay: 0.99}
flip_tta: true
standardize: auto
"""

def _liftbench(project, *args: str) -> str:
    """`liftbench ARGS` from the project folder, as a user runs it (a fresh process each)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "LIFTBENCH_CONFIG_DIR")}
    env.update(WANDB_MODE="disabled", LIFTBENCH_CACHE=str(project / "cache"))
    out = subprocess.run([sys.executable, "-m", "liftbench", *args], capture_output=True,
                         text=True, env=env, cwd=project, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_a_newcomer_adds_a_lifter_a_dataset_and_a_regime(tmp_path):
    project = tmp_path / "myproject"
    (project / "configs" / "data").mkdir(parents=True)
    (project / "configs" / "regime").mkdir()
    (project / "newcomer.py").write_text(textwrap.dedent(MODULE))
    (project / "configs" / "data" / "mydata.yaml").write_text(DATA_YAML)
    (project / "configs" / "regime" / "myregime.yaml").write_text(REGIME_YAML)
    mine = ["--import", "newcomer", "--config-dir", "configs"]

    models = _liftbench(project, *mine, "models", "--pattern", "frame*", "--size", "tiny")
    assert "frame_mlp" in models and "my own" in models
    _liftbench(project, *mine, "fit", "model=frame_mlp", "size=tiny", "data=mydata",
               "regime=myregime", "trainer.max_epochs=2")
    table = _liftbench(project, "table", "--results", "results", "--metrics", "mpjpe")
    assert "| frame_mlp (tiny) | myregime | measured here | 1 |" in table
    assert "dataset=mydata" in table
    # the project holds only its own two YAML files: nothing was copied into it
    assert sorted(p.relative_to(project / "configs").as_posix()
                  for p in (project / "configs").rglob("*.yaml")) == [
        "data/mydata.yaml", "regime/myregime.yaml"]
