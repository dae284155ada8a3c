"""`liftbench export`: ONNX / TorchScript files that predict what `liftbench predict` does.

- Every registered lifter (tiny, supervised regime) exports to both formats, and the file run by
  onnxruntime / TorchScript equals the regime's `predict_pose` to 1e-4 on another batch size
  (and another T for frame-wise lifters); a lifter that cannot be exported fails with one clear
  `ExportError`. The full loop is slow; the default run covers three lifters and HeatPose.
- A saved checkpoint (supervised + standardised, HeatPose) exported by the CLI gives, on one
  window, the numbers `liftbench predict` writes for that window, flip on and off.
- The contract in the file's metadata states shapes, joint order, T and flip.
"""

from __future__ import annotations

import json

import lightning as L
import numpy as np
import pytest
import torch

from liftbench.bench.cli import main
from liftbench.bench.export import (
    VERIFY_ATOL,
    ExportError,
    export_regime,
    read_contract,
    run_exported,
)
from liftbench.bench.regimes import regime_class
from liftbench.geometry.screen import denormalize_screen
from liftbench.models import list_lifters

FORMATS = ("onnx", "torchscript")
# (lifter, format) -> what its ExportError says, for a lifter that cannot be exported (none now)
UNEXPORTABLE: dict[tuple[str, str], str] = {}
FAST = ("simplebaseline", "motionbert", "pstmo")  # frame-wise + standardised, sequence, centre


def _perturbed(regime: L.LightningModule) -> L.LightningModule:
    """Move every weight off its initial value; fit the normaliser on random poses."""
    torch.manual_seed(0)
    if regime.normalizer is not None:
        rng = np.random.default_rng(0)
        regime.fit_normalizer(rng.normal(size=(64, 1, 17, 3)), rng.normal(size=(64, 1, 17, 3)))
    with torch.no_grad():
        for p in regime.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return regime.eval()


def _needs_onnx(fmt: str = "onnx") -> None:
    """Skip cleanly where onnx / onnxruntime are not installed (TorchScript needs neither)."""
    if fmt == "onnx":
        pytest.importorskip("onnx")
        pytest.importorskip("onnxruntime")


def _check_export(regime, tmp_path, fmt: str, name: str) -> None:
    _needs_onnx(fmt)
    out = tmp_path / f"{name}.{'onnx' if fmt == 'onnx' else 'pt'}"
    if (name, fmt) in UNEXPORTABLE:
        with pytest.raises(ExportError, match=UNEXPORTABLE[name, fmt]) as info:
            export_regime(regime, out, fmt=fmt)
        assert "\n" not in str(info.value) and not out.exists()
        return
    result = export_regime(regime, out, fmt=fmt)
    assert result.max_abs_diff is not None and result.max_abs_diff <= VERIFY_ATOL
    assert result.verified_shapes[0][0] == 3  # traced at B=2, run at B=3
    contract = read_contract(out)
    assert contract["lifter"] == name and contract["flip"] is True
    centre = regime.lifter.output_frames == "centre"
    x = torch.rand(2, contract["frames"] or 11, 17, 3)
    with torch.no_grad():
        expected = regime.predict_pose(x)
    if centre:
        c = (x.shape[1] - 1) // 2
        expected = expected[:, c : c + 1]
    torch.testing.assert_close(run_exported(out, x), expected, atol=VERIFY_ATOL, rtol=0)


def _supervised(name: str) -> L.LightningModule:
    return _perturbed(regime_class("supervised")(lifter=name, size="tiny", frames=27,
                                                 flip_tta=True))


@pytest.mark.slow
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", list_lifters())
def test_every_lifter_exports(name, fmt, tmp_path):
    _check_export(_supervised(name), tmp_path, fmt, name)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", FAST)
def test_lifters_export(name, fmt, tmp_path):
    _check_export(_supervised(name), tmp_path, fmt, name)


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_diffusion_sampler_exports_its_fixed_noise(fmt, tmp_path):
    """D3DP's seeded draws are constants of the graph; it runs at another batch size."""
    regime = _perturbed(regime_class("diffusion")(lifter="d3dp", size="tiny", frames=27,
                                                  hypotheses=2, steps=2))
    _check_export(regime, tmp_path, fmt, "d3dp")


# ---------------------------------------------------------------------------- checkpoints + CLI
def _save(regime: L.LightningModule, path) -> None:
    trainer = L.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, max_steps=0)
    trainer.strategy.connect(regime)
    trainer.save_checkpoint(path)


CASES = {  # checkpoint -> (regime, lifter, extra constructor arguments)
    "supervised_std": ("supervised", "simplebaseline", {"standardize": True}),
    "supervised_seq": ("supervised", "motionagformer_xs", {}),
    "heatpose": ("heatpose", "motionagformer_xs", {}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_exported_checkpoint_predicts_what_predict_does(case, tmp_path, capsys):
    _needs_onnx()
    regime_name, lifter, extra = CASES[case]
    regime = _perturbed(regime_class(regime_name)(lifter=lifter, size="tiny", frames=9,
                                                  flip_tta=True, **extra))
    ckpt = tmp_path / "model.ckpt"
    _save(regime, ckpt)
    assert regime.normalizer is not None or case != "supervised_std"

    # one window of T = 9 frames as a pixel keypoint file
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.uniform(-0.5, 0.5, (9, 17, 2)), rng.uniform(0.4, 1.0, (9, 17, 1))],
                       -1)
    size = np.array([1000.0, 1000.0])
    px = np.concatenate([denormalize_screen(x[..., :2], size), x[..., 2:]], -1)
    np.savez(tmp_path / "clip.npz", pose2d=px, image_size=size)

    fmts = ("onnx", "torchscript") if case == "supervised_std" else ("onnx",)
    for fmt in fmts:
        for flip in (True, False):
            out = tmp_path / f"m_{flip}.{'onnx' if fmt == 'onnx' else 'pt'}"
            args = ["export", str(ckpt), "--format", fmt, "--out", str(out)]
            args += [] if flip else ["--no-flip"]
            assert main(args) == 0
            printed = capsys.readouterr().out
            assert "verified: max |" in printed and f"wrote {out}" in printed
            contract = read_contract(out)
            assert contract["flip"] is flip and contract["regime"] == regime_name
            t = 9 if regime.lifter.max_frames else None  # simplebaseline: any T
            assert contract["frames"] == t and contract["dynamic_frames"] is (t is None)
            assert contract["input_shape"] == f"[B, {t or 'T'}, 17, 3]"
            assert contract["joint_order"].startswith("h36m17: pelvis, right_hip")

            stem = tmp_path / f"pred_{flip}"
            assert main(["predict", str(ckpt), str(tmp_path / "clip.npz"), "--joint-set",
                         "h36m17", "--out", str(stem)] + ([] if flip else ["--no-flip"])) == 0
            capsys.readouterr()
            with np.load(f"{stem}.npz") as f:
                predicted = f["pose3d"][0]  # (9, 17, 3)
            got = run_exported(out, torch.as_tensor(x[None], dtype=torch.float32))[0].numpy()
            np.testing.assert_allclose(got, predicted, atol=1e-4, rtol=0)


def test_onnx_metadata_props_hold_the_contract(tmp_path):
    _needs_onnx()
    import onnx

    regime = _supervised("videopose3d_27")
    out = tmp_path / "vp3d.onnx"
    export_regime(regime, out, fmt="onnx", flip=False)
    props = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert props["input_name"] == "pose2d" and props["output_name"] == "pose3d"
    assert props["input_shape"] == "[B, T, 17, 3]" and props["dynamic_frames"] == "true"
    assert props["flip"] == "false" and "image width" in props["input_units"]
    assert json.loads(props["liftbench_contract"])["lifter"] == "videopose3d_27"


def test_export_without_onnx_says_how_to_install(tmp_path, monkeypatch, capsys):
    import importlib.util

    regime = _supervised("simplebaseline")
    ckpt = tmp_path / "m.ckpt"
    _save(regime, ckpt)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "onnx" else real(name, *a))
    assert main(["export", str(ckpt), "--format", "onnx", "--out", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install onnx onnxruntime" in err[0]
    assert not (tmp_path / "m.onnx").exists()


def test_bad_output_name_and_format(tmp_path):
    _needs_onnx()
    regime = _supervised("simplebaseline")
    with pytest.raises(ExportError, match=r"\.onnx"):
        export_regime(regime, tmp_path / "m.bin", fmt="onnx")
    with pytest.raises(ExportError, match="TorchScript file must not"):
        export_regime(regime, tmp_path / "m.onnx", fmt="torchscript")
    with pytest.raises(ExportError, match="onnx, torchscript"):
        export_regime(regime, tmp_path / "m.bin", fmt="tflite")


OFFICIAL = {  # fixture stem -> (lifter, official file)
    "motionagformer": ("motionagformer_xs", "motionagformer_official.pth.tr"),
    "kasportsformer": ("kasportsformer", "kasportsformer_official.pth.tr"),
}


@pytest.mark.parametrize("stem", sorted(OFFICIAL))
def test_exported_official_checkpoint_gives_the_official_output(stem, shared_data, tmp_path,
                                                                 capsys):
    import yaml

    _needs_onnx()
    root = shared_data / "official"
    if not root.is_dir():
        pytest.skip(f"official-code fixtures not found at {root}")
    name, file = OFFICIAL[stem]
    kwargs = json.loads((root / f"{stem}_config.json").read_text())["constructor_kwargs"]
    cfg = tmp_path / f"{stem}.yaml"
    cfg.write_text(yaml.safe_dump(kwargs))
    with np.load(root / f"{stem}_io.npz") as io:
        x, y = io["x"], io["y"]  # (2, 27, 17, 3): the official code's input and output
    out = tmp_path / f"{stem}.onnx"
    assert main(["export", str(root / file), "--model", name, "--config", str(cfg),
                 "--no-flip", "--format", "onnx", "--out", str(out)]) == 0
    capsys.readouterr()
    assert read_contract(out)["frames"] == x.shape[1]
    got = run_exported(out, torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, y - y[..., :1, :], atol=1e-4, rtol=0)


def test_non_finite_outputs_fail_the_verification(tmp_path):
    """A NaN difference must not pass the `<= VERIFY_ATOL` gate (NaN compares False both ways)."""
    regime = _perturbed(_supervised("simplebaseline"))
    with torch.no_grad():
        next(regime.lifter.parameters()).fill_(float("nan"))
    out = tmp_path / "nan.pt"
    with pytest.raises(ExportError, match="non-finite"):
        export_regime(regime, out, fmt="torchscript")
    assert not out.exists()


def test_float64_buffers_stay_float64_in_the_export(tmp_path):
    """D3DP's diffusion schedule is float64; casting it to float32 made the sampler NaN."""
    regime = _perturbed(regime_class("diffusion")(lifter="d3dp", size="tiny", frames=27,
                                                  hypotheses=2, steps=2))
    export_regime(regime, tmp_path / "d3dp.pt", fmt="torchscript")
    assert regime.lifter.alphas_cumprod.dtype == torch.float64
