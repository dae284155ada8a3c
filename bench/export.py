"""Exporting a checkpoint's prediction for deployment: ONNX and TorchScript.

The exported graph is the regime's `predict_pose` on one window (`ExportedPredictor`): the
normaliser's maps, the lifter, the regime's head (e.g. HeatPose decoding), test-time flip
averaging (unless `flip=False`) and the root set to 0 — what `liftbench predict` runs on every
window. Windowing a longer sequence stays with the caller (the contract below says how
`predict` does it), so one window in gives exactly `predict_pose`'s output.

The input/output contract travels inside the file: ONNX `metadata_props` (one entry per key,
plus `liftbench_contract`, the whole contract as JSON) and TorchScript `_extra_files`
(`liftbench_contract.json`); `read_contract` reads it back from either.

ONNX export uses `torch.onnx.export`'s TorchScript-based exporter (`dynamo=False`, opset 17),
which needs no extra package beyond `onnx` (to write the metadata); `onnxruntime` verifies the
file against PyTorch.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from liftbench.geometry.skeletons import get_joint_set

FORMATS = ("onnx", "torchscript")
OPSET = 17
INPUT_NAME = "pose2d"
OUTPUT_NAME = "pose3d"
CONTRACT_KEY = "liftbench_contract"
CONTRACT_FILE = "liftbench_contract.json"
INSTALL_HINT = "pip install onnx onnxruntime (or pip install 'liftbench[export]')"
# The example window of a frame-wise lifter (any T): traced at this T, verified at another.
FRAMEWISE_EXAMPLE_T = 27
# The largest |exported - PyTorch| (2.5D units) an export may show on its verification inputs.
VERIFY_ATOL = 1e-4

INPUT_UNITS = (
    "channels x, y normalised by the image width (x' = 2u/W - 1, y' = 2v/W - H/W for pixel "
    "(u, v) in a W x H image), channel 2 the detector confidence in [0, 1] (1.0 when none)"
)
OUTPUT_UNITS = (
    "root-relative 2.5D in the input's units (x, y = the normalised projection minus the "
    "root's, z = (Z - Z_root) * f / Z_root * 2 / W); joint 0 (pelvis) is 0; multiply by the "
    "clip's mm-per-unit factor for millimetres"
)


class ExportError(ValueError):
    """A checkpoint's model cannot be exported in the requested format (one-line reason)."""


class ExportedPredictor(nn.Module):
    """One window of a regime's prediction, as `liftbench predict` runs it.

    `forward` maps `(B, T, J, 3)` normalised 2D + confidence to root-relative 2.5D
    `(B, T, 17, 3)` (`(B, 1, 17, 3)`, the window's centre frame, for a sequence-to-frame lifter
    such as P-STMO). The regime is used as loaded (eval mode); its `flip_tta` is set to `flip`.

    Args:
        regime: a regime LightningModule (`bench.checkpoints.load_regime`).
        flip: test-time flip averaging in the exported graph; None keeps the regime's
            `flip_tta` (what `liftbench predict` does by default).
    """

    def __init__(self, regime: nn.Module, flip: bool | None = None) -> None:
        super().__init__()
        self.regime = regime.eval()
        if flip is not None:
            self.regime.flip_tta = bool(flip)
        self.flip = bool(self.regime.flip_tta)
        lifter = regime.lifter
        self.centre = getattr(lifter, "output_frames", "all") == "centre"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, T, J, 3)` → `(B, T, 17, 3)` (or `(B, 1, 17, 3)` centre frame), 2.5D units."""
        pred = self.regime.predict_pose(x)
        if self.centre:
            c = (pred.shape[1] - 1) // 2
            pred = pred[:, c : c + 1]
        return pred


@dataclass
class ExportResult:
    """What `export_checkpoint` wrote and measured.

    Attributes:
        path: the written file.
        format: `onnx` or `torchscript`.
        contract: the input/output contract stored in the file.
        export_seconds: wall time of the export itself (tracing, conversion, writing).
        max_abs_diff: max |exported − PyTorch| over the verification inputs (2.5D units), None
            when not verified (`verify=False`, or onnxruntime missing).
        verified_shapes: the input shapes the file was run on.
        notes: anything the caller should print.
    """

    path: Path
    format: str
    contract: dict[str, Any]
    export_seconds: float
    max_abs_diff: float | None = None
    verified_shapes: list[tuple[int, ...]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def window_frames(regime: nn.Module) -> tuple[int, bool]:
    """The window T of the exported graph and whether T is dynamic (a frame-wise lifter).

    A lifter that takes any T (`max_frames = None`) is exported with a dynamic T when its
    traced graph generalises to another T (`_traces_any_length`); one whose graph bakes T in
    (e.g. SoloFormer's window padding, computed in Python) gets the fixed T of the regime's
    training clips (`frames`, else 27).
    """
    built = getattr(regime.lifter, "max_frames", None)
    if built is not None:
        return int(built), False
    cached = getattr(regime, "_export_window", None)
    if cached is None:
        frames = int((getattr(regime, "hparams", {}) or {}).get("frames") or FRAMEWISE_EXAMPLE_T)
        cached = (frames, _traces_any_length(regime, frames))
        regime._export_window = cached
    return cached


def _traces_any_length(regime: nn.Module, frames: int) -> bool:
    """Whether the prediction, traced at T = `frames`, equals PyTorch's at T = `frames` + 4."""
    joints = int(getattr(regime.lifter, "num_joints", 17))
    model = ExportedPredictor(regime).eval()
    x = _example_input(1, frames + 4, joints, seed=3)
    try:
        with warnings.catch_warnings(), torch.no_grad(), _lightning_tracing():
            warnings.simplefilter("ignore")
            traced = torch.jit.trace(model, (_example_input(1, frames, joints, seed=0),),
                                     check_trace=False)
            return bool(torch.allclose(traced(x), model(x), atol=1e-5, rtol=0))
    except Exception:  # a shape baked into the graph fails at another T
        return False


def build_contract(regime: nn.Module, flip: bool, fmt: str,
                   checkpoint: str | Path | None = None) -> dict[str, Any]:  # fmt: skip
    """The input/output contract of `regime`'s exported prediction (JSON-serialisable)."""
    import liftbench

    lifter = regime.lifter
    js = get_joint_set("h36m17")
    num_joints = int(getattr(lifter, "num_joints", js.num_joints))
    frames, dynamic = window_frames(regime)
    centre = getattr(lifter, "output_frames", "all") == "centre"
    t_in = "T" if dynamic else str(frames)
    t_out = "1" if centre else t_in
    if dynamic:
        windowing = ("frame-wise lifter: any T; `liftbench predict` lifts a whole sequence in "
                     "one call")
    elif centre:
        windowing = (f"sequence-to-frame: the output is the centre frame ({(frames - 1) // 2}) "
                     f"of the {frames}-frame window; `liftbench predict` edge-pads the sequence "
                     f"by {(frames - 1) // 2} frames before and {frames - 1 - (frames - 1) // 2} "
                     "after (first / last frame repeated) and lifts one window per frame")
    else:
        min_frames = getattr(lifter, "min_frames", None)
        windowing = (f"windows of {frames} frames laid end to end, the last one aligned to the "
                     "sequence end (only its new frames kept); a sequence shorter than "
                     f"{frames} is edge-padded (first / last frame repeated, padded frames "
                     "dropped)")
        if min_frames is not None:
            windowing += (f"; `liftbench predict` lifts a sequence of {min_frames}..{frames} "
                          "frames at its own length, which this fixed-T graph does not")
        if getattr(lifter, "max_frames", None) is None:
            windowing += ("; this lifter takes any T but its traced graph fixes T, and "
                          "`liftbench predict` lifts a whole sequence in one call, so the "
                          "windowed result can differ near window edges")
    head = "the lifter's regression output"
    if hasattr(regime, "decoder") and hasattr(regime, "head"):
        head = f"{type(regime.head).__name__}, {regime.decoder} decoding inside the graph"
    hp = dict(getattr(regime, "hparams", {}) or {})
    return {
        "format": f"liftbench-export/1 ({fmt})",
        "liftbench_version": getattr(liftbench, "__version__", "unknown"),
        "torch_version": torch.__version__,
        "checkpoint": Path(checkpoint).name if checkpoint is not None else None,
        "lifter": hp.get("lifter", type(lifter).__name__),
        "size": hp.get("size"),
        "regime": getattr(regime, "regime_name", type(regime).__name__),
        "regime_class": f"{type(regime).__module__}.{type(regime).__qualname__}",
        "head": head,
        "input_name": INPUT_NAME,
        "input_shape": f"[B, {t_in}, {num_joints}, 3]",
        "input_units": INPUT_UNITS,
        "output_name": OUTPUT_NAME,
        "output_shape": f"[B, {t_out}, {js.num_joints}, 3]",
        "output_units": OUTPUT_UNITS,
        "dtype": "float32",
        "joint_order": f"{js.name}: " + ", ".join(js.joints),
        "frames": None if dynamic else frames,
        "dynamic_frames": dynamic,
        "output_frames": "centre" if centre else "all",
        "windowing": windowing,
        "flip": bool(flip),
        "flip_detail": ("test-time flip averaging inside the graph: x negated, left/right joints "
                        f"swapped (pairs {_flip_pairs(js)}), the two predictions averaged")
        if flip else "no test-time flip averaging",
        "normalizer": "z-scoring of inputs and outputs folded in"
        if getattr(regime, "normalizer", None) is not None else "none",
        "root": "joint 0 of the output set to 0",
    }


def _flip_pairs(js: Any) -> str:
    pairs = [(i, j) for i, j in enumerate(js.flip) if i < j]
    return " ".join(f"({i},{j})" for i, j in pairs)


def _example_input(batch: int, frames: int, joints: int, seed: int) -> torch.Tensor:
    """A deterministic `(B, T, J, 3)` input: x, y in [-0.6, 0.6], confidence in [0.3, 1]."""
    g = torch.Generator().manual_seed(seed)
    xy = (torch.rand(batch, frames, joints, 2, generator=g) - 0.5) * 1.2
    conf = 0.3 + 0.7 * torch.rand(batch, frames, joints, 1, generator=g)
    return torch.cat([xy, conf], -1)


def verification_inputs(regime: nn.Module) -> list[torch.Tensor]:
    """Inputs the exported file is checked on: another batch size (and T when dynamic)."""
    frames, dynamic = window_frames(regime)
    joints = int(getattr(regime.lifter, "num_joints", 17))
    inputs = [_example_input(3, frames, joints, seed=1)]
    if dynamic:
        inputs.append(_example_input(1, frames + 4, joints, seed=2))
    return inputs


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


def require_onnx(need_runtime: bool = False) -> None:
    """Raise `ExportError` with the install command when `onnx` (or `onnxruntime`) is absent."""
    import importlib.util

    missing = [m for m in ("onnx", "onnxruntime") if (m == "onnx" or need_runtime)
               and importlib.util.find_spec(m) is None]
    if missing:
        raise ExportError(f"--format onnx needs {' and '.join(missing)}: {INSTALL_HINT}")


@contextmanager
def _quiet_native_output() -> Iterator[None]:
    """Silence file descriptors 1 and 2 (C++ logging included) for the duration.

    torch 2.x's TorchScript-based ONNX exporter always turns its C++ log on (it tests the
    function `_jit_is_onnx_log_enabled` instead of calling it) and dumps the whole Torch IR
    graph when a model fails to convert; the one-line `ExportError` says why instead.
    """
    import os
    import sys
    import tempfile

    saved = []
    with tempfile.TemporaryFile() as sink:
        for fd, stream in ((1, sys.stdout), (2, sys.stderr)):
            stream.flush()
            saved.append((fd, os.dup(fd)))
            os.dup2(sink.fileno(), fd)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, copy in saved:
                os.dup2(copy, fd)
                os.close(copy)


def _export_onnx(model: ExportedPredictor, example: torch.Tensor, out: Path, dynamic: bool,
                 contract: dict[str, Any]) -> None:  # fmt: skip
    import onnx

    axes = {0: "batch", 1: "frames"} if dynamic else {0: "batch"}
    with warnings.catch_warnings(), _quiet_native_output():
        warnings.simplefilter("ignore")  # tracer / deprecation chatter; the result is verified
        torch.onnx.export(
            model, (example,), str(out), dynamo=False, opset_version=OPSET,
            input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: axes, OUTPUT_NAME: {0: "batch", 1: "frames"} if dynamic
                          else {0: "batch"}},
            do_constant_folding=True,
        )
    proto = onnx.load(str(out))
    del proto.metadata_props[:]
    for key, value in _flat_contract(contract).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    proto.producer_name = "liftbench"
    proto.doc_string = (f"liftbench {contract['lifter']} ({contract['regime']}): "
                        f"{INPUT_NAME} {contract['input_shape']} -> "
                        f"{OUTPUT_NAME} {contract['output_shape']}; see metadata_props")
    onnx.save(proto, str(out))


def _flat_contract(contract: dict[str, Any]) -> dict[str, str]:
    """String entries for ONNX `metadata_props`, plus the whole contract as JSON."""
    flat = {k: v if isinstance(v, str) else json.dumps(v) for k, v in contract.items()}
    flat[CONTRACT_KEY] = json.dumps(contract)
    return flat


@contextmanager
def _lightning_tracing() -> Iterator[None]:
    """Let `torch.jit.trace` read a LightningModule's attributes outside a Trainer.

    TorchScript collects every attribute of a traced module, and Lightning's `trainer`
    property raises when none is attached unless `_jit_is_scripting` is set (what
    `LightningModule.to_torchscript` does).
    """
    import lightning as L

    saved = getattr(L.LightningModule, "_jit_is_scripting", False)
    L.LightningModule._jit_is_scripting = True
    try:
        yield
    finally:
        L.LightningModule._jit_is_scripting = saved


def _export_torchscript(model: ExportedPredictor, example: torch.Tensor, out: Path,
                        contract: dict[str, Any]) -> None:  # fmt: skip
    with warnings.catch_warnings(), _lightning_tracing():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(model, (example,), check_trace=False)
        if "Generator" in str(traced.inlined_graph):  # the draws would be baked in, wrongly
            raise RuntimeError("Generator: the traced graph holds a torch.Generator")
        torch.jit.save(traced, str(out), _extra_files={CONTRACT_FILE: json.dumps(contract)})


def read_contract(path: str | Path) -> dict[str, Any]:
    """The contract stored in an exported `.onnx` or TorchScript file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"exported model {path} does not exist")
    if path.suffix == ".onnx":
        import onnx

        props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False)
                 .metadata_props}
        if CONTRACT_KEY not in props:
            raise ValueError(f"{path}: no {CONTRACT_KEY} in its metadata_props")
        return json.loads(props[CONTRACT_KEY])
    extra = {CONTRACT_FILE: ""}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    if not extra[CONTRACT_FILE]:
        raise ValueError(f"{path}: no {CONTRACT_FILE} among its extra files")
    return json.loads(extra[CONTRACT_FILE])


def run_exported(path: str | Path, x: torch.Tensor) -> torch.Tensor:
    """Run an exported file on `(B, T, J, 3)` `x` (onnxruntime for `.onnx`, else TorchScript)."""
    path = Path(path)
    if path.suffix == ".onnx":
        require_onnx(need_runtime=True)
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        (out,) = sess.run([OUTPUT_NAME], {INPUT_NAME: x.float().numpy()})
        return torch.from_numpy(out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = torch.jit.load(str(path), map_location="cpu")
    with torch.no_grad():
        return module(x.float())


def _full_precision(regime: nn.Module) -> nn.Module:
    """Cast half / bf16 parameters and buffers to float32, leaving float64 ones as they are.

    `Module.float()` would also cast float64 buffers, and D3DP's diffusion schedule must stay
    float64: in float32, `1 − ᾱ_next − σ²` of the DDIM step rounds below 0 on some CPUs and the
    sample becomes NaN.
    """
    half = (torch.float16, torch.bfloat16)
    return regime._apply(lambda t: t.float() if t.dtype in half else t)


def export_regime(regime: nn.Module, out: str | Path, fmt: str = "onnx", flip: bool | None = None,
                  verify: bool = True, checkpoint: str | Path | None = None) -> ExportResult:
    """Export a loaded regime's one-window prediction and check it against PyTorch.

    Args:
        regime: a regime LightningModule (`bench.checkpoints.load_regime`); its `flip_tta` is
            overwritten with `flip` unless that is None.
        out: the file to write (`.onnx` for ONNX; for TorchScript any other name, e.g. `.pt`).
        fmt: `onnx` or `torchscript`.
        flip: test-time flip averaging in the exported graph; None: the regime's `flip_tta`
            (`--no-flip`: False).
        verify: run the file on `verification_inputs` and record max |exported − PyTorch|;
            above `VERIFY_ATOL` the file is removed and `ExportError` raised.
        checkpoint: the checkpoint's path, recorded (file name only) in the contract.

    Returns:
        The `ExportResult`.

    Raises:
        ExportError: an unknown format, `onnx` missing, or a model the exporter cannot
            convert (the reason in one line).
    """
    if fmt not in FORMATS:
        raise ExportError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    out = Path(out)
    if fmt == "onnx":
        require_onnx()
        if out.suffix != ".onnx":
            raise ExportError(f"{out}: an ONNX file must end in .onnx")
    elif out.suffix == ".onnx":
        raise ExportError(f"{out}: a TorchScript file must not end in .onnx (use e.g. .pt)")
    model = ExportedPredictor(_full_precision(regime).cpu(), flip=flip).eval()
    contract = build_contract(regime, model.flip, fmt, checkpoint)
    frames, dynamic = window_frames(regime)
    joints = int(getattr(regime.lifter, "num_joints", 17))
    example = _example_input(2, frames, joints, seed=0)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial")
    start = time.perf_counter()
    try:
        with torch.no_grad():
            # one eager call first: a sampler's seeded noise draws are made (and cached) now,
            # so the traced graph holds them as constants instead of a random generator
            model(example)
            if fmt == "onnx":
                _export_onnx(model, example, tmp, dynamic, contract)
            else:
                _export_torchscript(model, example, tmp, contract)
    except ExportError:
        tmp.unlink(missing_ok=True)
        raise
    except Exception as exc:
        tmp.unlink(missing_ok=True)
        reason = _one_line(exc)
        if "Generator" in str(exc):
            reason = ("its prediction draws seeded random noise (torch.Generator), which an "
                      "exported graph cannot reproduce")
        raise ExportError(f"lifter {contract['lifter']!r} ({contract['regime']} regime) cannot be "
                          f"exported to {fmt}: {reason}") from exc
    seconds = time.perf_counter() - start
    tmp.replace(out)
    result = ExportResult(path=out, format=fmt, contract=contract, export_seconds=seconds)
    if not verify:
        return result
    if fmt == "onnx":
        import importlib.util

        if importlib.util.find_spec("onnxruntime") is None:
            result.notes.append(f"not verified: onnxruntime is not installed ({INSTALL_HINT})")
            return result
    diffs = []
    for x in verification_inputs(regime):
        with torch.no_grad():
            expected = model(x)
        try:
            got = run_exported(out, x)
        except Exception as exc:
            out.unlink(missing_ok=True)
            raise ExportError(f"{out}: the exported {fmt} model of {contract['lifter']!r} fails "
                              f"on input {tuple(x.shape)} (file removed): "
                              f"{_one_line(exc)}") from exc
        if got.shape != expected.shape:
            out.unlink(missing_ok=True)
            raise ExportError(f"{out}: the exported {fmt} model returns {tuple(got.shape)} on "
                              f"input {tuple(x.shape)}, PyTorch {tuple(expected.shape)}")
        diffs.append(float((got.double() - expected.double()).abs().max()))
        result.verified_shapes.append(tuple(x.shape))
    result.max_abs_diff = max(diffs)
    if not math.isfinite(result.max_abs_diff):  # NaN would pass a `> VERIFY_ATOL` test
        out.unlink(missing_ok=True)
        raise ExportError(f"{out}: the exported {fmt} model of {contract['lifter']!r} or PyTorch "
                          f"returns non-finite values on the verification inputs; file removed")
    if result.max_abs_diff > VERIFY_ATOL:
        out.unlink(missing_ok=True)
        raise ExportError(f"{out}: the exported {fmt} model of {contract['lifter']!r} differs from "
                          f"PyTorch by {result.max_abs_diff:.3g} (> {VERIFY_ATOL}); file removed")
    return result


def export_checkpoint(checkpoint: str | Path, out: str | Path, fmt: str = "onnx",
                      flip: bool | None = None, model: str | None = None,
                      config: str | Path | None = None, verify: bool = True) -> ExportResult:
    """`liftbench export`: load any checkpoint's regime (`load_regime`) and export it.

    Args:
        checkpoint: a liftbench checkpoint, or an official one with `model` (and `config`).
        out: the file to write.
        fmt: `onnx` or `torchscript`.
        flip: test-time flip averaging; None keeps the checkpoint's `flip_tta` (as `predict`
            does), False is `--no-flip`.
        model: the lifter of an official checkpoint.
        config: the official configuration of an official checkpoint.
        verify: compare the exported file with PyTorch (`ExportResult.max_abs_diff`).
    """
    from liftbench.bench.checkpoints import load_regime

    if fmt == "onnx":
        require_onnx()
    regime = load_regime(checkpoint, model=model, config=config)
    return export_regime(regime, out, fmt=fmt, flip=flip, verify=verify, checkpoint=checkpoint)
