"""A newcomer adds a lifter, a dataset and a regime as `docs/extending.md` says, outside the repo.

Each is one class plus its registration in a user module (`liftbench --import`), with a YAML file
for the dataset and the regime in a copy of the packaged config folder. The new lifter must be
listed by `liftbench models`, the three must train together with `liftbench fit`, and the run
must be a row of `liftbench table`. It runs in a subprocess so the registrations do not leak
into the other tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

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

SCRIPT = """
import shutil, sys
from pathlib import Path

import liftbench.bench.config
from liftbench.bench.cli import main

tmp = Path(sys.argv[1])
configs = tmp / "configs"
shutil.copytree(liftbench.bench.config.CONFIG_DIR, configs)
(configs / "data" / "mydata.yaml").write_text(sys.argv[2])
(configs / "regime" / "myregime.yaml").write_text(sys.argv[3])
liftbench.bench.config.CONFIG_DIR = configs
common = ["--import", "newcomer"]
print("== models"); sys.stdout.flush()
assert main([*common, "models", "--pattern", "frame*", "--size", "tiny"]) == 0
print("== fit"); sys.stdout.flush()
assert main([*common, "fit", "model=frame_mlp", "size=tiny", "data=mydata", "regime=myregime",
             "logger=none", "trainer.max_epochs=2", f"data.kwargs.cache_dir={tmp / 'cache'}",
             f"output_dir={tmp / 'runs'}", f"results_dir={tmp / 'results'}"]) == 0
print("== table"); sys.stdout.flush()
assert main(["table", "--results", str(tmp / "results"), "--metrics", "mpjpe"]) == 0
"""


def test_a_newcomer_adds_a_lifter_a_dataset_and_a_regime(tmp_path):
    (tmp_path / "newcomer.py").write_text(textwrap.dedent(MODULE))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
           "WANDB_MODE": "disabled"}
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path), DATA_YAML, REGIME_YAML],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    models, rest = out.stdout.split("== fit", 1)
    fit, table = rest.split("== table", 1)
    assert "frame_mlp" in models and "my own" in models
    assert "| frame_mlp (tiny) | myregime | measured here | 1 |" in table
    assert "dataset=mydata" in table
