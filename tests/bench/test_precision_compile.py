"""`trainer.precision: auto`, `trainer.compile` and `perf models --precision / --compile`."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from liftbench.bench import precision as prec
from liftbench.bench.compiling import compile_lifter, compile_mode, repeated_layers
from liftbench.bench.perf import models as perf_models
from liftbench.models import create_lifter, list_lifters

CPUINFO = """processor\t: 0
flags\t\t: fpu sse2 avx512f {extra}
processor\t: 1
flags\t\t: fpu sse2 avx512f {extra}
"""


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO.format(extra="avx512_bf16 amx_tile amx_bf16"))
    assert prec.cpu_bf16_flags(path) == ["amx_bf16", "avx512_bf16"]
    path.write_text(CPUINFO.format(extra="avx512_vnni"))
    assert prec.cpu_bf16_flags(path) == []
    assert prec.cpu_bf16_flags(tmp_path / "absent") == []


@pytest.mark.parametrize("flags", [[], ["avx512_bf16"]])
def test_auto_follows_the_shipped_parity_set(monkeypatch, flags):
    monkeypatch.setattr(prec, "cpu_bf16_flags", lambda *a: flags)
    shipped = prec.bf16_parity_lifters()  # filled only from parity measurements
    assert shipped == {"simplebaseline", "videopose3d_27"}
    assert shipped <= set(list_lifters())  # a renamed lifter must not silently drop out
    got, reason = prec.resolve_precision("auto", "cpu", "motionbert")
    assert got == "32-true" and reason.startswith("auto: 32-true")
    assert ("no bf16 training parity measured for motionbert" in reason) == bool(flags)
    got, reason = prec.resolve_precision("auto", "cpu", "simplebaseline")
    assert got == ("bf16-mixed" if flags else "32-true")


def test_auto_picks_bf16_only_with_native_bf16_and_a_parity_entry(monkeypatch, tmp_path):
    parity = tmp_path / "parity.yaml"
    parity.write_text("lifters: [motionbert]\n")
    monkeypatch.setattr(prec, "cpu_bf16_flags", lambda *a: ["amx_bf16"])
    got, reason = prec.resolve_precision("auto", "cpu", "motionbert", parity)
    assert got == "bf16-mixed" and "amx_bf16" in reason and "parity measured" in reason
    assert prec.resolve_precision("auto", "cpu", "kasportsformer", parity)[0] == "32-true"
    monkeypatch.setattr(prec, "cpu_bf16_flags", lambda *a: [])
    got, reason = prec.resolve_precision("auto", "cpu", "motionbert", parity)
    assert got == "32-true" and "without native bf16" in reason
    # any explicit value passes through
    assert prec.resolve_precision("bf16-mixed", "cpu", "x", parity)[0] == "bf16-mixed"
    assert prec.resolve_precision("64-true", "cpu", "x", parity) == (
        "64-true", "requested (trainer.precision=64-true)")
    parity.write_text("lifters: motionbert\n")
    with pytest.raises(ValueError, match="lifters"):
        prec.bf16_parity_lifters(parity)


def test_compile_values():
    assert compile_mode(False) is None and compile_mode("false") is None
    assert compile_mode(None) is None
    assert compile_mode(True) == compile_mode("true") == "default"
    assert compile_mode("max-autotune") == "max-autotune"
    with pytest.raises(ValueError, match="trainer.compile"):
        compile_mode("fast")


def test_compile_takes_the_repeated_layers_in_place():
    lifter = create_lifter("motionbert", size="tiny")
    keys = list(lifter.state_dict())
    assert [n for n, _ in repeated_layers(lifter)] == ["blocks_st.0", "blocks_st.1",
                                                       "blocks_ts.0", "blocks_ts.1"]
    assert compile_lifter(lifter, False) == []
    assert compile_lifter(lifter, True) == ["blocks_st.0", "blocks_st.1", "blocks_ts.0",
                                            "blocks_ts.1"]
    assert list(lifter.state_dict()) == keys  # checkpoints keep their keys
    whole = create_lifter("videopose3d_27", size="tiny")  # no repeated layers: compiled whole
    assert compile_lifter(whole, "default") == [""]
    assert list(whole.state_dict()) == list(create_lifter("videopose3d_27", size="tiny")
                                            .state_dict())


def test_fit_with_compile_and_its_checkpoint_without(tmp_path):
    from liftbench.bench.checkpoints import load_regime
    from liftbench.bench.cli import main
    from liftbench.leaderboard.records import read_records

    args = ["model=simplebaseline", "size=tiny", "data=synthetic", "data.kwargs.motions=[walk,run]",
            "data.kwargs.subjects=1", "data.kwargs.cameras=1",
            f"data.kwargs.cache_dir={tmp_path / 'cache'}", "data.batch_size=16", "logger=none",
            "trainer.max_steps=3", "trainer.limit_val_batches=1"]  # fmt: skip
    out = tmp_path / "c"
    assert main(["fit", *args, f"output_dir={out}/runs", f"results_dir={out}/results",
                 "trainer.compile=true"]) == 0
    (rec,) = read_records(out / "results")
    assert rec.hardware["compile"] == "default"
    # cpu.yaml's auto: bf16-mixed for simplebaseline (parity measured) where the CPU has bf16
    expected, reason = prec.resolve_precision("auto", "cpu", "simplebaseline")
    assert rec.hardware["precision"] == expected
    assert rec.hardware["precision_reason"] == reason and reason.startswith(f"auto: {expected}")
    # the checkpoint loads into a plain (not compiled) regime, every key, and tests the same
    regime = load_regime(rec.checkpoint)
    assert not any("_orig_mod" in k for k in regime.state_dict())
    eager = tmp_path / "e"
    assert main(["test", *args, f"output_dir={eager}/runs", f"results_dir={eager}/results",
                 f"ckpt_path={rec.checkpoint}"]) == 0
    (again,) = read_records(eager / "results")
    assert again.hardware["compile"] is None
    assert again.metrics["mpjpe"] == pytest.approx(rec.metrics["mpjpe"], rel=1e-4)
    # test and predict in bf16-mixed: the record says so; close to the fp32 figures
    bf16 = tmp_path / "b"
    assert main(["test", *args, f"output_dir={bf16}/runs", f"results_dir={bf16}/results",
                 f"ckpt_path={rec.checkpoint}", "trainer.precision=bf16-mixed"]) == 0
    (low,) = read_records(bf16 / "results")
    assert low.hardware["precision"] == "bf16-mixed"
    assert low.hardware["precision_reason"] == "requested (trainer.precision=bf16-mixed)"
    assert low.metrics["mpjpe"] == pytest.approx(rec.metrics["mpjpe"], rel=0.05)
    rng = np.random.default_rng(0)
    kp = np.concatenate([rng.uniform(300, 700, (30, 17, 2)), np.ones((30, 17, 1))], -1)
    np.save(tmp_path / "det.npy", kp)
    poses = {}
    for name, extra in (("fp32", []), ("bf16", ["--precision", "bf16-mixed", "--compile"])):
        assert main(["predict", rec.checkpoint, str(tmp_path / "det.npy"), "--joint-set",
                     "h36m17", "--image-size", "1000", "1000", "--out",
                     str(tmp_path / name), *extra]) == 0
        with np.load(tmp_path / f"{name}.npz") as f:
            poses[name] = f["pose3d"]
    scale = np.abs(poses["fp32"]).max()
    assert 0 < np.abs(poses["bf16"] - poses["fp32"]).max() < 0.05 * scale


def test_bf16_output_deviation_is_measured_on_the_same_weights():
    spec = {"model": "motionbert", "batch": 2, "frames": 9, "size": "tiny"}
    assert perf_models.output_deviation({**spec, "precision": "fp32"}) == 0.0
    dev = perf_models.output_deviation({**spec, "precision": "bf16"})
    assert 0.0 < dev < 0.05


def test_every_variant_of_ours_alternates_with_one_official_run(monkeypatch, capsys):
    spawned = []

    def fake_spawn(spec):
        spawned.append(spec)
        ms = 10.0 if "official_root" in spec else (4.0 if spec["precision"] == "bf16" else 8.0)
        res = {"ms": ms, "min_ms": ms, "rss_mb": 500.0, "fwd_flops": 1e9, "threads": 1}
        if "official_root" not in spec and (spec["precision"] == "bf16" or spec["compile"]):
            res["deviation"] = 0.01
        return res

    monkeypatch.setattr(perf_models, "_spawn", fake_spawn)
    args = argparse.Namespace(models=["motionbert"], batch=8, frames=27, repeats=1, warmup=0,
                              size="paper", long=False, official_root="/x", modes=["fwdbwd"],
                              rounds=2, threads=2, precision=["fp32", "bf16"], compile=True)
    rows = perf_models.run(args)["rows"]
    assert [perf_models.variant_name(r) for r in rows] == [
        "fp32", "bf16", "fp32+compile", "bf16+compile"]
    order = [("off",) if "official_root" in s else (s["precision"], s["compile"])
             for s in spawned]
    ours = [("fp32", False), ("bf16", False), ("fp32", True), ("bf16", True)]
    assert order == [*ours, ("off",), ("off",), *ours[::-1]]
    assert [r["speedup_vs_official"] for r in rows] == [1.25, 2.5, 1.25, 2.5]
    assert "deviation" not in rows[0] and rows[1]["deviation"] == 0.01
    assert all(s["precision"] == "fp32" and not s["compile"] for s in spawned
               if "official_root" in s)
    assert "bf16+compile" in capsys.readouterr().out
