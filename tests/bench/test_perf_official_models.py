"""`perf models --official-root`: building the official MixSTE / KTPFormer / STCFormer / P-STMO /
D3DP side by side with liftbench's, and the parity check that gates their timings.

The tests against the real official code need local checkouts of the official repositories in
one folder (`MixSTE/`, `KTPFormer/`, `STCFormer/`, `P-STMO/`, `D3DP/`), named by
`$LIFTBENCH_OFFICIAL_ROOT`; they skip cleanly without it. The others use small fake checkouts.
"""

import argparse
import os
import sys
from pathlib import Path

import pytest
import torch

from liftbench.bench.perf import models as perf_models
from liftbench.bench.perf._official_models import (
    build_official,
    build_ours,
    check_parity,
    has_official_checkout,
)

# reduced official configurations (the same network code, CPU-test sized), per lifter
SMALL = {
    "mixste": {"embed_dim_ratio": 32, "depth": 2},
    "ktpformer": {"embed_dim_ratio": 32, "depth": 2},
    "stcformer": {"layers": 2, "d_hid": 64},
    "stcformer_l": {"layers": 1},
    "pstmo": {"layers": 1, "channel": 32, "d_hid": 64},
    "d3dp": {"cs": 32, "dep": 2},
}


@pytest.fixture(autouse=True)
def _forget_official_modules():
    """Drop the official packages and stand-ins a test imported (`common`, `model`, `timm`)."""
    before = set(sys.modules)
    yield
    for key in set(sys.modules) - before:
        if key.split(".")[0] in ("common", "model", "timm", "local_attention"):
            del sys.modules[key]


@pytest.fixture(scope="module")
def official_root() -> Path:
    """The folder of official checkouts (`$LIFTBENCH_OFFICIAL_ROOT`); skips when absent."""
    env = os.environ.get("LIFTBENCH_OFFICIAL_ROOT")
    if not env or not Path(env).is_dir():
        pytest.skip("no official checkouts ($LIFTBENCH_OFFICIAL_ROOT unset or missing)")
    return Path(env)


@pytest.mark.parametrize("name", list(SMALL))
def test_both_sides_build_agree_and_train(official_root, name):
    if not has_official_checkout(official_root, name):
        pytest.skip(f"no official checkout for {name} under {official_root}")
    # the official weights in liftbench's lifter give the official outputs
    assert check_parity(name, official_root, 27, config=SMALL[name]) <= perf_models.PARITY_ATOL
    theirs = build_official(name, official_root, 27, SMALL[name])
    ours = build_ours(name, 27, config=SMALL[name])
    assert sum(p.numel() for p in ours.parameters()) == sum(
        p.numel() for p in theirs.parameters())
    x = torch.randn(2, 27, 17, 3)
    trained = []
    for model in (theirs, ours):  # the timed step: train-mode forward + backward
        out = model.train()(x)
        assert out.shape == (2, 27, 17, 3)
        out.square().mean().backward()
        trained.append(sum(p.numel() for p in model.parameters() if p.grad is not None))
    # the same parameters get gradients (P-STMO's official encoders hold an unused final norm)
    assert trained[0] == trained[1] > 0


FAKE_STCFORMER = """
import torch
from torch import nn
from timm.models.layers import DropPath

MARK = "{mark}"


class Model(nn.Module):
    def __init__(self, args):
        super().__init__()
        assert (args.layers, args.d_hid, args.frames, args.n_joints) == (6, 256, 9, 17)
        self.part = torch.tensor([0, 1, 2]).long().cuda()  # as the official constructor
        self.pose_emb = nn.Linear(2, args.d_hid, bias=False)
        self.drop = DropPath(0.5)
        self.regress_head = nn.Linear(args.d_hid, 3, bias=False)

    def forward(self, x):
        assert x.shape[-1] == 2
        return self.regress_head(self.drop(self.pose_emb(x)))
"""


def _fake_checkout(root: Path, repo: str, mark: str) -> None:
    pkg = root / repo / "model"
    pkg.mkdir(parents=True)
    (pkg / "stcformer.py").write_text(FAKE_STCFORMER.format(mark=mark))


def test_official_code_comes_from_its_own_checkout(tmp_path):
    # two checkouts with the same top-level package name (`model/`, as STCFormer and P-STMO):
    # each build imports its own, the timm stand-in serves DropPath, `.cuda()` is a no-op
    _fake_checkout(tmp_path / "a", "STCFormer", "a")
    _fake_checkout(tmp_path / "b", "STCFormer", "b")
    for mark in ("a", "b", "a"):
        model = build_official("stcformer", tmp_path / mark, 9)
        assert sys.modules["model.stcformer"].MARK == mark
        out = model.train()(torch.randn(2, 9, 17, 3))
        assert out.shape == (2, 9, 17, 3)
    assert not has_official_checkout(tmp_path / "a", "mixste")
    assert has_official_checkout(tmp_path / "a", "stcformer")


def test_a_model_failing_parity_is_not_timed(monkeypatch, capsys):
    spawned = []

    def fake_spawn(spec):
        spawned.append(spec)
        if spec.get("parity"):
            return {"max_abs_diff": 0.5 if spec["model"] == "mixste" else 1e-7}
        return {"ms": 10.0 if "official_root" in spec else 5.0, "min_ms": 4.0,
                "rss_mb": 500.0, "fwd_flops": 1e9, "threads": 1}

    monkeypatch.setattr(perf_models, "_spawn", fake_spawn)
    args = argparse.Namespace(models=["mixste", "stcformer"], batch=8, frames=27, repeats=1,
                              warmup=0, size="paper", long=False, official_root="/x",
                              modes=["fwdbwd"], rounds=3, threads=2)
    rows = perf_models.run(args)["rows"]
    assert rows[0]["model"] == "mixste" and "parity failed" in rows[0]["error"]
    assert rows[1]["speedup_vs_official"] == pytest.approx(2.0)
    assert rows[1]["parity_max_abs_diff"] == 1e-7
    timed = [(s["model"], "official_root" in s) for s in spawned if not s.get("parity")]
    # only stcformer is timed, alternating: ours first, then official first, then ours first
    assert timed == [("stcformer", False), ("stcformer", True), ("stcformer", True),
                     ("stcformer", False), ("stcformer", False), ("stcformer", True)]
    assert rows[1]["round_ms"] == [5.0, 5.0, 5.0] and rows[1]["official_round_ms"] == [10.0] * 3
    assert "parity failed" in capsys.readouterr().out
