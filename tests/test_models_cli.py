"""`liftbench models` and `liftbench perf models`."""

import json

import pytest
import torch
from torch import nn

from liftbench.bench.cli import main
from liftbench.bench.commands import models as models_cmd
from liftbench.bench.commands.models import cache_key, describe
from liftbench.bench.perf.models import OFFICIAL, _measure, _row, flops_per_frame, reference_rows
from liftbench.models import create_lifter
from liftbench.models.registry import LIFTERS, LifterEntry


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    """Each test starts from an empty figures cache of its own."""
    monkeypatch.setenv("LIFTBENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "lifters.json"


def _json_out(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_models_json_lists_every_match(capsys):
    rows = _json_out(capsys, ["models", "--json", "--flops", "--size", "tiny",
                              "--pattern", "motionagformer*"])
    assert [r["name"] for r in rows] == [
        "motionagformer_b", "motionagformer_l", "motionagformer_s", "motionagformer_xs"
    ]
    for r in rows:
        assert set(r) == {"name", "params", "flops_per_frame", "paper"}
        assert r["params"] > 0 and r["flops_per_frame"] > 0 and "MotionAGFormer" in r["paper"]


def test_models_paper_params_without_flops(capsys):
    rows = _json_out(capsys, ["models", "--json", "--no-flops", "--pattern", "motion*"])
    got = {r["name"]: r["params"] for r in rows}
    assert got["motionagformer_b"] == 11_723_811 and got["motionbert"] == 42_466_317
    assert all(r["flops_per_frame"] is None for r in rows)


def test_models_table(capsys):
    assert main(["models", "--no-flops", "--pattern", "motionbert"]) == 0
    out = capsys.readouterr().out
    assert "42,466,317" in out and "MotionBERT" in out


def test_flops_match_the_official_counter():
    # MODELS.md §0.4: MotionAGFormer-XS, T=27, B=1: 1.08 GMACs with the same counter. The
    # official figure also holds two T×T×T bmm's per temporal GCN (degree normalisation), which
    # this implementation replaces by elementwise scaling: 12 layers · 17 joints · 2 · 27³ MACs.
    macs = describe("motionagformer_xs")["flops_per_frame"] * 27 / 2
    assert macs + 12 * 17 * 2 * 27**3 == pytest.approx(1.08e9, rel=0.01)


def test_unknown_pattern_is_one_clean_error(capsys):
    assert main(["models", "--pattern", "nope*"]) != 0
    assert "matches no registered lifter" in capsys.readouterr().err


def test_perf_child_measures_one_configuration():
    spec = {"model": "motionbert", "mode": "fwdbwd", "batch": 2, "frames": 9, "repeats": 2,
            "warmup": 1, "size": "tiny"}
    res = _measure(spec)
    assert 0 < res["min_ms"] <= res["ms"] and res["rss_mb"] > 100 and res["fwd_flops"] > 0


@pytest.mark.slow
def test_perf_models_runs_in_subprocesses(tmp_path, capsys):
    out = tmp_path / "perf.json"
    argv = ["perf", "models", "--models", "motionagformer_xs", "--batch", "1", "--frames", "9",
            "--repeats", "1", "--warmup", "0", "--size", "tiny", "--json", str(out)]
    assert main(argv) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [(r["mode"], r["batch"], r["frames"]) for r in rows] == [("fwd", 1, 9), ("fwdbwd", 1, 9)]
    for r in rows:
        assert "error" not in r, r
        assert r["ms"] > 0 and r["rss_mb"] > 100 and r["gflops"] > 0
        assert r["roofline_pct"] == pytest.approx(100 * r["gflops"] / 186.0)
    assert "GFLOP/s" in capsys.readouterr().out


def test_perf_ratios_only_against_the_official_code_measured_side_by_side():
    spec = {"model": "motionbert", "mode": "fwdbwd", "batch": 8, "frames": 27}
    ours = {"ms": 2640.5, "min_ms": 2600.0, "rss_mb": 1620.0, "fwd_flops": 1e11}
    row = _row(spec, ours)
    assert "speedup_vs_official" not in row and "official_ms" not in row
    assert row["gflops"] == pytest.approx(3 * 1e11 / 2.6405 / 1e9)
    assert row["samples_per_s"] == pytest.approx(8 / 2.6405)
    official = {"ms": 5000.0, "min_ms": 4900.0, "rss_mb": 2000.0, "fwd_flops": 1e11}
    row = _row(spec, ours, official)
    assert row["speedup_vs_official"] == pytest.approx(5000 / 2640.5)
    assert row["rss_ratio_vs_official"] == pytest.approx(1620.0 / 2000.0)
    # the figures recorded elsewhere are reported apart, never divided by
    (ref,) = reference_rows([row])
    assert ref["ms"] == min(OFFICIAL[("motionbert", 8, 27)]["fwdbwd"]) == 5281
    assert ref["rss_mb"] == 3240


FAKE_OFFICIAL = """
import torch
from torch import nn


class DSTformer(nn.Module):
    def __init__(self, dim_in, dim_out, dim_feat, dim_rep, depth, num_heads, mlp_ratio,
                 norm_layer, maxlen, num_joints):
        super().__init__()
        assert (dim_feat, depth, mlp_ratio, norm_layer.keywords["eps"]) == (512, 5, 2, 1e-6)
        self.lin = nn.Linear(dim_in, dim_out)

    def forward(self, x):
        return self.lin(x)
"""


@pytest.mark.slow
def test_perf_models_side_by_side_with_official_root(tmp_path, capsys):
    pkg = tmp_path / "MotionBERT" / "lib" / "model"
    pkg.mkdir(parents=True)
    (pkg / "DSTformer.py").write_text(FAKE_OFFICIAL)
    out = tmp_path / "perf.json"
    assert main(["perf", "models", "--models", "motionbert", "--batch", "1", "--frames", "9",
                 "--repeats", "1", "--warmup", "0", "--size", "tiny", "--official-root",
                 str(tmp_path), "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert all(r["official_ms"] > 0 and r["speedup_vs_official"] > 0 for r in rows), rows
    assert "side by side" in capsys.readouterr().out


def test_perf_rejects_unknown_models(capsys):
    assert main(["perf", "models", "--models", "nope"]) != 0
    assert "unknown lifter" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["videopose3d_27", "motionagformer_xs", "kasportsformer",
                                  "canonpose", "simplebaseline", "d3dp", "pstmo"])
def test_meta_device_figures_equal_a_real_build(name):
    torch.manual_seed(0)
    real = create_lifter(name, size="tiny")
    row = describe(name, "tiny", cache={})
    assert row["params"] == sum(p.numel() for p in real.parameters() if p.requires_grad)
    frames = getattr(real, "max_frames", None) or 27
    assert row["flops_per_frame"] == pytest.approx(flops_per_frame(real, frames), rel=1e-12)


def test_figures_are_counted_once_and_cached(own_cache, monkeypatch, capsys):
    assert main(["models", "--json", "--size", "tiny", "--pattern", "videopose3d_27"]) == 0
    first = json.loads(capsys.readouterr().out)
    cached = json.loads(own_cache.read_text())
    assert list(cached) == [cache_key("videopose3d_27", "tiny")]

    def fail(*args, **kwargs):
        raise AssertionError("counted again")

    monkeypatch.setattr(models_cmd, "_count", fail)
    assert main(["models", "--json", "--size", "tiny", "--pattern", "videopose3d_27"]) == 0
    assert json.loads(capsys.readouterr().out) == first
    with pytest.raises(AssertionError, match="counted again"):  # another size is another key
        describe("videopose3d_27", "paper")
    assert cache_key("videopose3d_27", "paper") != cache_key("videopose3d_27", "tiny")


class _ValueDependent(nn.Module):
    """A forward that reads a value (`.item()`), which the meta device cannot give."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 3)

    def forward(self, x):
        steps = int(x.abs().sum().item() > -1) + 1
        for _ in range(steps):
            x = self.lin(x)
        return x


def test_a_forward_the_meta_device_cannot_run(monkeypatch, capsys):
    entries = dict(LIFTERS.entries)
    entries["value_dependent"] = LifterEntry("value_dependent", _ValueDependent, "test")
    monkeypatch.setattr(LIFTERS, "entries", entries)
    cache: dict = {}
    row = describe("value_dependent", "paper", cache=cache)
    assert row["params"] == 12 and row["flops_per_frame"] is None
    assert cache[cache_key("value_dependent", "paper")]["meta_failed"]
    assert main(["models", "--pattern", "value_dep*"]) == 0
    assert "`liftbench models --flops` counts" in capsys.readouterr().out
    real = describe("value_dependent", "paper", cache=cache, real_forward=True)
    assert real["flops_per_frame"] == 2 * 2 * 3 * 3 * 17  # two Linear(3, 3) per joint and frame
    assert main(["models", "--json", "--flops", "--pattern", "value_dep*"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["flops_per_frame"] == real["flops_per_frame"]


def test_listing_lifters_imports_no_lightning():
    import subprocess
    import sys

    code = ("import sys\nfrom liftbench.bench.cli import main\n"
            "assert main(['models', '--pattern', 'simplebaseline']) == 0\n"
            "assert 'lightning' not in sys.modules and 'roma' not in sys.modules, 'heavy import'\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "simplebaseline" in out.stdout
